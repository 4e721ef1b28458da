"""A pseudo-terminal that plays a modem's character device (cdc-wdm control port, ttyUSB AT port).

The slave side is put in raw mode once (termios settings outlive the slave's file
descriptors, and libqmi never touches termios) and then closed, so the simulator knows when
a client has the port open: with no slave open, the master reports a hang-up. Nothing is
written while no client is connected, because a pty keeps unread output for the next client,
which a real cdc-wdm device does not.

A cdc-wdm device hands one whole message to each read(); a pty is a byte stream that hands
the reader everything waiting. With ``messages=True`` (the QMI port) the port therefore writes
one message, waits until the reader has taken it (the slave's input queue, FIONREAD, drains),
and only then writes the next, so that readers which expect one message per read() (Quectel's
C tool, cdc-wdm-style code) get exactly that, also when a response and an indication are due
at the same moment. See ``MessageGate`` for the waiting rule.
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import logging
import os
import select
import struct
import termios
import time
import tty
from typing import Callable, Deque, Optional

__all__ = ["PtyPort"]

log = logging.getLogger("qcm.sim.pty")

_POLL_INTERVAL = 0.005  # how often a hung-up master is checked for a new client
_DRAIN_POLL = 0.0005    # how often the slave's input queue is looked at while a message waits
_SPOT_TRIES = 8         # quick looks at the reader's queue right after a message is written
MAX_QUEUED = 512        # messages kept for a reader that stopped reading; older ones are dropped


class MessageGate:
    """When the next message may be written, from what the slave's input queue shows (sans I/O).

    After a message is written the kernel moves it to the slave's input queue a moment later
    (a work item), so a queue reading 0 means "not there yet" or "already read". The gate waits
    until it has seen the message arrive and leave again; if it never sees it arrive within
    ``unseen_grace`` seconds, the reader took it at once (a reader blocked in read() empties the
    queue as soon as the bytes land).
    """

    def __init__(self, unseen_grace: float = 0.005) -> None:
        self.unseen_grace = unseen_grace
        self.in_flight = False
        self._written_at = 0.0
        self._seen = False

    def written(self, now: float) -> None:
        self.in_flight, self._written_at, self._seen = True, now, False

    def may_write(self, queued: int, now: float) -> bool:
        """``queued``: bytes waiting in the slave's input queue now."""
        if not self.in_flight:
            return True
        if queued > 0:
            self._seen = True
            return False
        if self._seen or now - self._written_at >= self.unseen_grace:
            self.in_flight = False
            return True
        return False


class PtyPort:
    def __init__(self, name: str, on_data: Callable[[bytes], None],
                 on_connect: Optional[Callable[[bool], None]] = None, messages: bool = False) -> None:
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
        self.messages = messages    # one message per read(), as cdc-wdm delivers them
        self._queue: Deque[bytes] = collections.deque()
        self._gate = MessageGate()
        self._gate_timer: Optional[asyncio.TimerHandle] = None
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
            self._queue.clear()
            self._gate = MessageGate()
            if self._gate_timer is not None:
                self._gate_timer.cancel()
                self._gate_timer = None
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
        """Send bytes (in message mode: one whole message)."""
        if not self.connected or self.muted or self.closed or not data:
            return
        if not self.messages:
            self._out += data
            self._flush()
            return
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            log.warning("%s: the reader is not reading; oldest message dropped", self.name)
        self._queue.append(bytes(data))
        self._next_message()

    def _slave_queue(self, looks: int = 1) -> int:
        """Bytes written to the client and not read yet (the slave's input queue): the first of ``looks``
        readings that shows some, else 0. One brief open of the slave for all of them, since a program that
        looks for who holds the port (qcm doctor, qcm connect) sees the simulator while it is open."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return 0
        try:
            for _ in range(looks):
                queued = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
                if queued > 0:
                    return int(queued)
            return 0
        except OSError:
            return 0
        finally:
            os.close(fd)

    def _next_message(self) -> None:
        """Write the next queued message if the previous one was read, else look again shortly."""
        if self._gate_timer is not None or self.closed or self._out or not self._queue or not self.connected:
            return
        queued = self._slave_queue() if self._gate.in_flight else 0
        if self._gate.may_write(queued, time.monotonic()):
            self._out += self._queue.popleft()
            self._gate.written(time.monotonic())
            self._flush()
            if not self._out and self._queue:  # (another answer waits: see whether this one was seen)
                self._spot_arrival()
        if self._queue and not self._out and self._gate_timer is None:
            assert self._loop is not None
            self._gate_timer = self._loop.call_later(_DRAIN_POLL, self._gate_tick)

    def _spot_arrival(self) -> None:
        """A message just written shows in the reader's queue within microseconds, usually before the reader
        it woke has taken it. Seen there, the gate lets the next one go as soon as it is read, so that answers
        due together follow each other as fast as the reader takes them, as a cdc-wdm device hands out what
        it queued (not one per ``unseen_grace``, which made concurrent requests look serial). Not seen in
        these few looks: the grace applies, as before."""
        queued = self._slave_queue(_SPOT_TRIES)
        if queued > 0:
            self._gate.may_write(queued, time.monotonic())  # marks it seen

    def _gate_tick(self) -> None:
        self._gate_timer = None
        self._next_message()

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
            self._loop.add_writer(self.master, self._writable)
            self._writing = True
        elif not self._out:
            self._stop_writing()

    def _writable(self) -> None:
        self._flush()
        if not self._out:
            self._next_message()  # a message that filled the pty went out whole: on to the next

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
        if self._gate_timer is not None:
            self._gate_timer.cancel()
        if self._loop is not None:
            self._loop.remove_reader(self.master)
            self._stop_writing()
        os.close(self.master)
