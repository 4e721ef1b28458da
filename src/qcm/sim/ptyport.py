"""A pseudo-terminal that plays a modem's character device (cdc-wdm control port, ttyUSB AT port).

The slave side is put in raw mode once (termios settings outlive the slave's file
descriptors, and libqmi never touches termios) and then closed, so the simulator knows when
a client has the port open: with no slave open, the master reports a hang-up. Nothing is
written while no client is connected, because a pty keeps unread output for the next client,
which a real cdc-wdm device does not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import tty
from typing import Callable, Optional

__all__ = ["PtyPort"]

log = logging.getLogger("qcm.sim.pty")

_POLL_INTERVAL = 0.005  # how often a hung-up master is checked for a new client


class PtyPort:
    def __init__(self, name: str, on_data: Callable[[bytes], None],
                 on_connect: Optional[Callable[[bool], None]] = None) -> None:
        self.name = name
        self.on_data = on_data
        self.on_connect = on_connect
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.connected = False
        self.muted = False          # a "stops answering" fault: swallow all output
        self._out = bytearray()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._poller = select.poll()
        self._poller.register(self.master, select.POLLIN)
        self._watch: Optional[asyncio.TimerHandle] = None
        self._writing = False
        self.closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._check_client()

    def _hung_up(self) -> bool:
        return any(event & select.POLLHUP for _, event in self._poller.poll(0))

    def _check_client(self) -> None:
        assert self._loop is not None
        if self.closed:
            return
        if self._hung_up():
            self._watch = self._loop.call_later(_POLL_INTERVAL, self._check_client)
            return
        self._set_connected(True)
        self._loop.add_reader(self.master, self._readable)

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        log.debug("%s: client %s", self.name, "connected" if connected else "gone")
        if not connected:
            self._out.clear()
        if self.on_connect is not None:
            self.on_connect(connected)

    def _readable(self) -> None:
        assert self._loop is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the last client closed the slave
            data = b""
        if not data:  # EIO: the last client closed the slave
            self._loop.remove_reader(self.master)
            self._stop_writing()
            self._set_connected(False)
            self._watch = self._loop.call_later(_POLL_INTERVAL, self._check_client)
            return
        self.on_data(data)

    def write(self, data: bytes) -> None:
        if not self.connected or self.muted or self.closed:
            return
        self._out += data
        self._flush()

    def _flush(self) -> None:
        assert self._loop is not None
        while self._out:
            try:
                sent = os.write(self.master, self._out)
            except BlockingIOError:
                break
            except OSError:
                self._out.clear()
                break
            del self._out[:sent]
        if self._out and not self._writing:
            self._loop.add_writer(self.master, self._flush)
            self._writing = True
        elif not self._out:
            self._stop_writing()

    def _stop_writing(self) -> None:
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self.master)
            self._writing = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self._loop is not None:
            self._loop.remove_reader(self.master)
            self._stop_writing()
        os.close(self.master)
