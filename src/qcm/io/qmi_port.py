"""The QMI control port on asyncio: opens the device, moves bytes, wakes the waiting requests.

All protocol decisions live in ``qcm.qmi.client.ClientCore``; this adapter owns the file
descriptor, one timer, and the futures of the callers. When the port vanishes (the module
reset or was unplugged) every waiter fails with ``PortGone`` and ``on_lost`` is called.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
import time
import tty
from typing import Any, Callable, Dict, List, Mapping, Optional

from ..errors import ModemError, PermissionProblem
from ..qmi.catalogue import MessageDef, catalogue
from ..qmi.client import (ClientCore, FramingProblem, IndicationReceived, Pending, RequestTimedOut,
                          ResponseReceived, UnexpectedMessage)
from ..qmi.message import Message
from ..qmi.render import redacted_hex, summary

__all__ = ["QmiPort", "PortGone", "RequestTimeout"]

log = logging.getLogger("qcm.qmi")
trace_log = logging.getLogger("qcm.qmi.trace")

DEFAULT_TIMEOUT = 10.0

IndicationHandler = Callable[[Message], None]


class PortGone(ModemError):
    """The control port closed or vanished under us."""


class RequestTimeout(ModemError, TimeoutError):
    """The modem did not answer a request in time."""


class QmiPort:
    def __init__(self, path: str, *, show_personal: bool = False) -> None:
        self.path = path
        self.show_personal = show_personal
        self.core = ClientCore()
        self.fd: Optional[int] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiters: Dict[int, "asyncio.Future[Message]"] = {}
        self._indication_handlers: List[IndicationHandler] = []
        self._lost_handlers: List[Callable[[str], None]] = []
        self._timer: Optional[asyncio.TimerHandle] = None
        self._backlog: List[bytes] = []
        self._writing = False

    # ---------------------------------------------------------------- open / close

    async def open(self) -> "QmiPort":
        self.loop = asyncio.get_running_loop()
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
        self.fd = fd
        self.loop.add_reader(fd, self._readable)
        return self

    @property
    def is_open(self) -> bool:
        return self.fd is not None

    def close(self) -> None:
        self._shutdown("closed")

    def _shutdown(self, reason: str) -> None:
        fd, self.fd = self.fd, None
        if fd is None:
            return
        assert self.loop is not None
        self.loop.remove_reader(fd)
        if self._writing:
            self.loop.remove_writer(fd)
            self._writing = False
        os.close(fd)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._backlog.clear()
        for pending in self.core.abandon_all():
            self._fail(pending, PortGone("control port %s %s" % (self.path, reason)))
        if reason != "closed":
            for handler in list(self._lost_handlers):
                handler(reason)

    # ---------------------------------------------------------------- subscriptions

    def on_indication(self, handler: IndicationHandler) -> Callable[[], None]:
        self._indication_handlers.append(handler)
        return lambda: self._indication_handlers.remove(handler) if handler in self._indication_handlers else None

    def on_lost(self, handler: Callable[[str], None]) -> None:
        self._lost_handlers.append(handler)

    # ---------------------------------------------------------------- requests

    def send(self, definition: MessageDef, client_id: int, values: Optional[Mapping[str, Any]] = None,
             timeout: float = DEFAULT_TIMEOUT) -> "asyncio.Future[Message]":
        """Send a request now; the future resolves with the response (whatever its result)."""
        if self.fd is None or self.loop is None:
            raise PortGone("control port %s is not open" % self.path)
        now = time.monotonic()
        pending = self.core.request(definition, client_id, values, now, timeout)
        future: "asyncio.Future[Message]" = self.loop.create_future()
        self._waiters[id(pending)] = future
        future.add_done_callback(lambda f, p=pending: self._forget(p, f))
        self._flush()
        self._arm_timer()
        return future

    async def request(self, service: str, message: str, values: Optional[Mapping[str, Any]] = None,
                      client_id: int = 0, timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> Message:
        """Send a request and wait for its response; a failure result raises QmiError if ``check``."""
        definition = catalogue().method(service, message)
        response = await self.send(definition, client_id, values, timeout)
        return response.raise_for_result() if check else response

    def _forget(self, pending: Pending, future: "asyncio.Future[Message]") -> None:
        self._waiters.pop(id(pending), None)
        if future.cancelled():
            self.core.cancel(pending)

    def _fail(self, pending: Pending, exc: Exception) -> None:
        future = self._waiters.pop(id(pending), None)
        if future is not None and not future.done():
            future.set_exception(exc)

    # ---------------------------------------------------------------- I/O

    def _flush(self) -> None:
        frames = self.core.frames_to_send()
        for frame in frames:
            if trace_log.isEnabledFor(logging.DEBUG):
                self._trace(">>", frame)
        self._backlog.extend(frames)
        self._write_backlog()

    def _write_backlog(self) -> None:
        assert self.loop is not None
        while self._backlog and self.fd is not None:
            try:
                sent = os.write(self.fd, self._backlog[0])  # one frame per write, as cdc-wdm requires
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
        for event in self.core.receive_data(data):
            self._dispatch(event)
        self._arm_timer()

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, ResponseReceived):
            if trace_log.isEnabledFor(logging.DEBUG):
                self._trace("<<", event.message)
            future = self._waiters.get(id(event.pending))
            if future is not None and not future.done():
                future.set_result(event.message)
        elif isinstance(event, IndicationReceived):
            if trace_log.isEnabledFor(logging.DEBUG):
                self._trace("<<", event.message)
            for handler in list(self._indication_handlers):
                try:
                    handler(event.message)
                except Exception:  # one listener's bug must not break the port
                    log.exception("indication handler failed")
        elif isinstance(event, UnexpectedMessage):
            log.debug("ignoring unexpected %s", summary(event.message))
        elif isinstance(event, FramingProblem):
            error = event.error  # the dropped bytes may hold an IMSI or an IMEI: only with show_personal
            log.warning("control port %s: %s", self.path, error if self.show_personal else
                        "%s (%d bytes dropped)" % (error.reason, len(error.discarded)))

    def _trace(self, direction: str, item: Any) -> None:
        from ..qmi.message import decode
        from ..qmi.qmux import FrameParser

        if isinstance(item, bytes):
            parser = FrameParser()
            parser.feed(item)
            item = decode(parser.next_event())  # type: ignore[arg-type]
        trace_log.debug("%s %s\n    %s", direction, summary(item), redacted_hex(item, self.show_personal))

    def _arm_timer(self) -> None:
        assert self.loop is not None
        deadline = self.core.next_deadline()
        if self._timer is not None:
            if deadline is not None and abs(self._timer.when() - self._to_loop_time(deadline)) < 1e-3:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self.loop.call_at(self._to_loop_time(deadline), self._on_timer)

    def _to_loop_time(self, monotonic_deadline: float) -> float:
        assert self.loop is not None
        return self.loop.time() + (monotonic_deadline - time.monotonic())

    def _on_timer(self) -> None:
        self._timer = None
        for event in self.core.expire(time.monotonic()):
            if isinstance(event, RequestTimedOut):
                p = event.pending
                self._fail(p, RequestTimeout("%s got no answer within %.0f s" % (p.definition, p.deadline - p.sent_at),
                                             "the modem is busy, wedged or not a QMI port; check with qcm doctor"))
        self._arm_timer()
