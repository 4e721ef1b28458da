"""The QMI control port on asyncio: sends requests, wakes the waiting callers, routes indications.

All protocol decisions live in ``qcm.qmi.client.ClientCore``; the bytes move through a
``Transport`` (the character device, the simulator's pty, or memory in tests). This adapter
owns one timer and the futures of the callers. When the port vanishes (the module reset or was
unplugged) every waiter fails with ``PortGone`` and ``on_lost`` is called.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from ..errors import ModemError, UsageError
from ..qmi.catalogue import MessageDef, catalogue
from ..qmi.formats import EncodeError
from ..qmi.client import (ClientCore, FramingProblem, IndicationReceived, Pending, RequestTimedOut,
                          ResponseReceived, UnexpectedMessage)
from ..qmi.message import Message
from ..qmi.render import redacted_hex, summary
from .transport import DeviceTransport, PortGone, Transport

__all__ = ["QmiPort", "PortGone", "RequestTimeout"]

log = logging.getLogger(__name__)
trace_log = logging.getLogger(__name__ + ".trace")

DEFAULT_TIMEOUT = 10.0

IndicationHandler = Callable[[Message], None]


class RequestTimeout(ModemError, TimeoutError):
    """The modem did not answer a request in time."""


class QmiPort:
    def __init__(self, transport: Union[Transport, str], *, show_personal: bool = False) -> None:
        self.transport = DeviceTransport(transport) if isinstance(transport, str) else transport
        self.show_personal = show_personal
        self.core = ClientCore()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._waiters: Dict[int, "asyncio.Future[Message]"] = {}
        self._indication_handlers: List[IndicationHandler] = []
        self._lost_handlers: List[Callable[[str], None]] = []
        self._timer: Optional[asyncio.TimerHandle] = None

    @property
    def path(self) -> str:
        return self.transport.path

    # ---------------------------------------------------------------- open / close

    async def open(self) -> "QmiPort":
        self.loop = asyncio.get_running_loop()
        self.transport.open(self.loop, self._received, self._lost)
        return self

    @property
    def is_open(self) -> bool:
        return self.transport.is_open

    def close(self) -> None:
        self.transport.close()
        self._abandon("closed")

    def _lost(self, reason: str) -> None:
        self._abandon(reason)
        for handler in list(self._lost_handlers):
            handler(reason)

    def _abandon(self, reason: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for pending in self.core.abandon_all():
            self._fail(pending, PortGone("control port %s %s" % (self.path, reason)))

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
        if not self.transport.is_open or self.loop is None:
            raise PortGone("control port %s is not open" % self.path)
        now = time.monotonic()
        try:
            pending = self.core.request(definition, client_id, values, now, timeout)
        except EncodeError as exc:  # a value the message cannot carry (an over-long APN): no retry helps
            raise UsageError("%s cannot carry these values: %s" % (definition, exc)) from None
        future: "asyncio.Future[Message]" = self.loop.create_future()
        self._waiters[id(pending)] = future
        future.add_done_callback(functools.partial(self._forget, pending))
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
        for frame in self.core.frames_to_send():
            if trace_log.isEnabledFor(logging.DEBUG):
                self._trace(">>", frame)
            try:
                self.transport.write(frame)  # one frame per write, as cdc-wdm requires
            except PortGone:
                return  # the transport told _lost(), which failed every waiter

    def _received(self, data: bytes) -> None:
        for event in self.core.receive_data(data):
            self._dispatch(event)
        if self.transport.is_open:
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
