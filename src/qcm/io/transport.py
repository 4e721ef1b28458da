"""Byte transports under the control protocols: a character device (or pty), or memory.

A transport moves bytes and nothing else: ``write()`` sends one protocol message (a cdc-wdm
device takes exactly one per write), incoming bytes go to ``on_data`` as they arrive, and
``on_lost`` hears once that the other side vanished. The QMI port (and later MBIM) sits on any
of them: ``DeviceTransport`` for /dev/cdc-wdm0 and the simulator's pty, ``memory_pair()`` for
tests that put qcm and a simulated modem in one process, the way h11 pairs two connections.
"""

from __future__ import annotations

import asyncio
import os
import termios
import tty
from typing import Callable, List, Optional, Tuple

from ..errors import ModemError, PermissionProblem

__all__ = ["Transport", "DeviceTransport", "MemoryTransport", "memory_pair", "PortGone"]

DataHandler = Callable[[bytes], None]
LostHandler = Callable[[str], None]


class PortGone(ModemError):
    """The control port closed or vanished under us."""


class Transport:
    """What every transport offers; subclasses move the bytes."""

    path = ""

    def __init__(self) -> None:
        self.on_data: DataHandler = lambda data: None
        self.on_lost: LostHandler = lambda reason: None

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    def write(self, message: bytes) -> None:
        """Send one message; raises PortGone if the transport is closed."""
        raise NotImplementedError

    def close(self) -> None:
        """Close without calling ``on_lost`` (we chose to)."""
        raise NotImplementedError


class DeviceTransport(Transport):
    """A character device (/dev/cdc-wdm0, /dev/wwan0qmi0) or a pty, non-blocking, on the event loop."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.fd: Optional[int] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._backlog: List[bytes] = []
        self._writing = False

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise PortGone("control port %s does not exist" % self.path) from None
        except PermissionError:
            raise PermissionProblem("no permission to open %s" % self.path, "run as root") from None
        except OSError as exc:
            raise PortGone("cannot open %s: %s" % (self.path, exc.strerror)) from None
        if os.isatty(fd):
            # A pty (the simulator, or a serial-attached QMI port) must pass bytes untouched.
            try:
                tty.setraw(fd, termios.TCSANOW)
            except termios.error as exc:
                os.close(fd)
                raise PortGone("cannot set %s to raw mode: %s" % (self.path, exc)) from None
        self.fd, self.loop, self.on_data, self.on_lost = fd, loop, on_data, on_lost
        loop.add_reader(fd, self._readable)

    @property
    def is_open(self) -> bool:
        return self.fd is not None

    def write(self, message: bytes) -> None:
        if self.fd is None:
            raise PortGone("control port %s is not open" % self.path)
        self._backlog.append(message)
        self._write_backlog()

    def close(self) -> None:
        self._shutdown(None)

    def _shutdown(self, reason: Optional[str]) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        assert self.loop is not None
        self.loop.remove_reader(fd)
        if self._writing:
            self.loop.remove_writer(fd)
            self._writing = False
        os.close(fd)
        self._backlog.clear()
        if reason is not None:
            self.on_lost(reason)

    def _write_backlog(self) -> None:
        assert self.loop is not None
        while self._backlog and self.fd is not None:
            try:
                sent = os.write(self.fd, self._backlog[0])  # one message per write, as cdc-wdm requires
            except BlockingIOError:
                break
            except OSError as exc:
                self._shutdown("failed (%s)" % exc.strerror)
                return
            if sent < len(self._backlog[0]):  # a byte stream (pty, serial) took part of it
                self._backlog[0] = self._backlog[0][sent:]
                continue
            self._backlog.pop(0)
        if self.fd is None:
            return
        if self._backlog and not self._writing:
            self.loop.add_writer(self.fd, self._write_backlog)
            self._writing = True
        elif not self._backlog and self._writing:
            self.loop.remove_writer(self.fd)
            self._writing = False

    def _readable(self) -> None:
        if self.fd is None:
            return
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO, ENODEV, ...: the device is gone; anything else makes it unusable too
            self._shutdown("vanished (%s)" % exc.strerror)
            return
        if not data:
            self._shutdown("was closed by the other side")
            return
        self.on_data(data)


class MemoryTransport(Transport):
    """One end of an in-process pipe: each write arrives at the peer as one read, on the next loop turn."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.peer: Optional["MemoryTransport"] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._open = False

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        if self.peer is None or self.peer.peer is None:
            raise PortGone("control port %s does not exist" % self.path)
        self.loop, self.on_data, self.on_lost, self._open = loop, on_data, on_lost, True

    @property
    def is_open(self) -> bool:
        return self._open

    def write(self, message: bytes) -> None:
        if not self._open:
            raise PortGone("control port %s is not open" % self.path)
        peer = self.peer
        if peer is not None and peer._open and self.loop is not None:
            self.loop.call_soon(peer._deliver, bytes(message))

    def _deliver(self, data: bytes) -> None:
        if self._open:
            self.on_data(data)

    def close(self) -> None:
        self._open = False

    def vanish(self, reason: str = "vanished (the module was unplugged)") -> None:
        """The device disappears: both ends close, the peer hears it (as a reset or unplug looks)."""
        peer, self.peer = self.peer, None
        self._open = False
        if peer is not None:
            peer.peer = None
            if peer._open:
                peer._open = False
                peer.on_lost(reason)


def memory_pair(path: str = "memory:cdc-wdm0") -> Tuple[MemoryTransport, MemoryTransport]:
    """(host end, device end): qcm opens the first, a simulated modem serves the second."""
    host, device = MemoryTransport(path), MemoryTransport(path + "@device")
    host.peer, device.peer = device, host
    return host, device
