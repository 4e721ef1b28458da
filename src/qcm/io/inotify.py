"""inotify through libc (the standard library has no binding): the thin I/O under the hotplug watch
and the simulator's sysfs attributes."""

from __future__ import annotations

import ctypes
import os
import struct
from typing import List, Optional, Tuple

__all__ = ["Inotify", "IN_MODIFY", "IN_ATTRIB", "IN_CLOSE_WRITE", "IN_MOVED_FROM", "IN_MOVED_TO", "IN_CREATE",
           "IN_DELETE", "IN_DELETE_SELF", "IN_MOVE_SELF", "IN_Q_OVERFLOW", "IN_IGNORED", "IN_ONLYDIR"]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000    # events were lost (wd -1): look at everything again
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")

_libc: Optional[ctypes.CDLL] = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:  # loaded on first use: importing this module costs nothing
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class Inotify:
    def __init__(self) -> None:
        fd = _c().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, "inotify_init1: %s" % os.strerror(error))
        self.fd: int = fd

    def add(self, path: str, mask: int) -> int:
        wd = _c().inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            error = ctypes.get_errno()
            raise OSError(error, "inotify_add_watch %s: %s" % (path, os.strerror(error)))
        return int(wd)

    def read(self) -> List[Tuple[int, int]]:
        """(watch descriptor, mask) of every event waiting."""
        return [(wd, mask) for wd, mask, _name in self.read_named()]

    def read_named(self) -> List[Tuple[int, int, str]]:
        """(watch descriptor, mask, name in the watched directory or "") of every event waiting."""
        events: List[Tuple[int, int, str]] = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return events
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size:offset + _EVENT.size + length]
            events.append((wd, mask, os.fsdecode(raw.split(b"\0", 1)[0])))
            offset += _EVENT.size + length
        return events

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
