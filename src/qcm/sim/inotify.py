"""inotify through libc (the standard library has no binding): the thin I/O under sysfs_watch."""

from __future__ import annotations

import ctypes
import os
import struct
from typing import List, Tuple

__all__ = ["Inotify", "IN_MODIFY", "IN_CLOSE_WRITE", "IN_IGNORED"]

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_IGNORED = 0x00008000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(None, use_errno=True)


class Inotify:
    def __init__(self) -> None:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, "inotify_init1: %s" % os.strerror(error))
        self.fd = fd

    def add(self, path: str, mask: int) -> int:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            error = ctypes.get_errno()
            raise OSError(error, "inotify_add_watch %s: %s" % (path, os.strerror(error)))
        return int(wd)

    def read(self) -> List[Tuple[int, int]]:
        """(watch descriptor, mask) of every event waiting."""
        events: List[Tuple[int, int]] = []
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return events
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            events.append((wd, mask))
            offset += _EVENT.size + length
        return events

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
