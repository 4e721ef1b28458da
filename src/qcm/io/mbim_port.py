"""The MBIM control port on asyncio: OPEN and CLOSE, commands, indications, mbim-proxy.

All protocol decisions live in ``qcm.mbim.client.ClientCore`` (transactions, fragments,
timeouts, the MBIMEx version in force); the bytes move through a ``Transport``: the character
device (``/dev/cdc-wdm0`` bound to cdc_mbim, ``/dev/wwan0mbim0``), the simulator's pty,
memory in tests, or libmbim's ``mbim-proxy`` socket (``ProxyTransport``), which lets
``mbimcli -p`` and ModemManager share the modem while qcm holds the call. This adapter owns one
timer and the futures of the callers. When the port vanishes every waiter fails with
``PortGone`` and ``on_lost`` is called.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from ..errors import ModemError, Recovery, UsageError
from ..mbim.catalogue import CommandDef, catalogue
from ..mbim.client import (ClientCore, FramingProblem, FunctionErrorReceived, IndicationReceived, Pending,
                           RequestTimedOut, ResponseReceived, UnexpectedMessage, VersionAgreed)
from ..mbim.framing import DEFAULT_MAX_CONTROL_TRANSFER
from ..mbim.message import Message, MbimError
from ..mbim.render import redacted_hex, summary
from ..qmi.formats import EncodeError
from .proxy_socket import ProxySocketTransport, listening
from .transport import DeviceTransport, PortGone, Transport

__all__ = ["MbimPort", "MbimRequestError", "MbimTimeout", "ProxyTransport", "PortGone", "proxy_running",
           "PROXY_SOCKET", "PROXY_PROGRAM"]

log = logging.getLogger(__name__)
trace_log = logging.getLogger(__name__ + ".trace")

DEFAULT_TIMEOUT = 10.0
OPEN_ATTEMPT = 1.0           # libmbim resends OPEN every second until its timeout: a waking modem drops the first
PROXY_SOCKET = b"\0mbim-proxy"  # libmbim's abstract socket (no trailing NULs)
PROXY_PROGRAM = "/usr/libexec/mbim-proxy"  # Debian's libmbim-proxy
PROXY_TIMEOUT = 15           # the device-open timeout asked of the proxy (quectel-CM's value)

IndicationHandler = Callable[[Message], None]


class MbimTimeout(ModemError, TimeoutError):
    """The modem did not answer an MBIM request in time."""


class MbimRequestError(ModemError):
    """The device answered a command with a failure status, or refused it at the protocol level
    (FUNCTION_ERROR). Its recovery class comes from the MBIM catalogue (status, then NwError)."""

    def __init__(self, message: Message, hint: str = "") -> None:
        self.message = message
        status = message.status.name if message.status is not None else ""
        nw_error = getattr(message.values.get("nw_error"), "name", "")
        recovery = catalogue().recovery_of(status, nw_error) if status else Recovery.RESET.value
        super().__init__(str(MbimError(message)), hint, Recovery(recovery) if recovery else Recovery.RETRY)

    @property
    def status(self) -> str:
        return self.message.status.name if self.message.status is not None else "function-error"


class ProxyTransport(ProxySocketTransport):
    """A stream connection to libmbim's mbim-proxy, which owns the device and shares it. The proxy
    wants a Proxy Control CONFIGURATION (the device path) before OPEN; ``MbimPort`` sends it."""

    address = PROXY_SOCKET
    program = PROXY_PROGRAM
    package = "libmbim-proxy"
    spawn_retries = 10  # libmbim: connect again every 100 ms, ten times, after spawning it


def proxy_running() -> bool:
    """Whether libmbim's mbim-proxy listens (in this network namespace: abstract sockets live there)."""
    return listening(PROXY_SOCKET)


class MbimPort:
    def __init__(self, transport: Union[Transport, str], *, show_personal: bool = False,
                 max_control_transfer: int = DEFAULT_MAX_CONTROL_TRANSFER, offered_version: int = 3) -> None:
        self.transport = DeviceTransport(transport) if isinstance(transport, str) else transport
        self.show_personal = show_personal
        self.core = ClientCore(max_control_transfer, offered_version=offered_version)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.proxy_version: Optional[int] = None    # the MBIMEx version mbim-proxy said is agreed, if it did
        self._waiters: Dict[int, "asyncio.Future[Message]"] = {}
        self._indication_handlers: List[IndicationHandler] = []
        self._lost_handlers: List[Callable[[str], None]] = []
        self._timer: Optional[asyncio.TimerHandle] = None

    @property
    def path(self) -> str:
        return self.transport.path

    @property
    def through_proxy(self) -> bool:
        return isinstance(self.transport, ProxyTransport)

    @property
    def version(self) -> int:
        """The MBIMEx version in force (1 until VERSION or the proxy's notice says otherwise)."""
        return self.core.version

    # ---------------------------------------------------------------- open / close

    async def open(self) -> "MbimPort":
        """Open the transport (not yet the MBIM function: see ``open_device``)."""
        self.loop = asyncio.get_running_loop()
        self.transport.open(self.loop, self._received, self._lost)
        return self

    async def open_device(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """MBIM OPEN (after the proxy's CONFIGURATION when there is one), resent every second
        until ``timeout`` as libmbim does: a modem still waking up drops the first ones."""
        if isinstance(self.transport, ProxyTransport):
            try:
                response = await self.request("proxy-control", "configuration", "set", {
                    "device_path": self.transport.device, "timeout": PROXY_TIMEOUT}, timeout=PROXY_TIMEOUT + 5,
                    check=False)
            except PortGone:
                raise ModemError("mbim-proxy closed the connection instead of opening %s" % self.transport.device,
                                 "it accepts root (and its build's mbim user) from its own PID namespace or an "
                                 "outer one only, and the device must exist; see its log, or use --no-proxy") from None
            if not response.ok:
                raise ModemError("mbim-proxy refused to open %s: %s" % (
                    self.transport.device, response.status.name if response.status is not None else "no answer"),
                    "check that the path is the module's MBIM port and that no other program holds it")
        deadline = time.monotonic() + timeout
        while True:
            attempt = min(OPEN_ATTEMPT, max(0.05, deadline - time.monotonic()))
            try:
                answer = await self._send_open(attempt)
                break
            except MbimTimeout:
                if time.monotonic() >= deadline:
                    raise MbimTimeout("MBIM OPEN got no answer within %.0f s on %s" % (timeout, self.path),
                                      "the modem is starting, wedged, or the port is not an MBIM port "
                                      "(qcm doctor tells)") from None
        if not answer.ok:
            raise MbimRequestError(answer, "the modem refused to open its MBIM function; reset it")

    async def _send_open(self, timeout: float) -> Message:
        pending = self.core.open(time.monotonic(), timeout)
        return await self._wait(pending)

    async def close_device(self, timeout: float = 2.0) -> None:
        """MBIM CLOSE; never raises (the port may be gone already)."""
        if not self.transport.is_open or self.loop is None:
            return
        try:
            await self._wait(self.core.close(time.monotonic(), timeout))
        except ModemError as exc:
            log.debug("MBIM CLOSE: %s", exc)

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

    # ---------------------------------------------------------------- commands

    def send(self, definition: CommandDef, kind: str, values: Optional[Mapping[str, Any]] = None,
             timeout: float = DEFAULT_TIMEOUT) -> "asyncio.Future[Message]":
        """Send a query or set now; the future resolves with the COMMAND_DONE (whatever its status)."""
        if not self.transport.is_open or self.loop is None:
            raise PortGone("control port %s is not open" % self.path)
        try:
            pending = self.core.request(definition, kind, values, time.monotonic(), timeout)
        except EncodeError as exc:  # a value the message cannot carry (an over-long APN): no retry helps
            raise UsageError("MBIM %s cannot carry these values: %s" % (definition, exc)) from None
        return self._register(pending)

    async def request(self, service: str, command: str, kind: str = "query", values: Optional[Mapping[str, Any]] = None,
                      timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> Message:
        """Send a command and wait for its answer; a failure status raises MbimRequestError if ``check``."""
        response = await self.send(catalogue().command(service, command), kind, values, timeout)
        if check and not response.ok:
            raise MbimRequestError(response)
        return response

    async def _wait(self, pending: Pending) -> Message:
        return await self._register(pending)

    def _register(self, pending: Pending) -> "asyncio.Future[Message]":
        assert self.loop is not None
        future: "asyncio.Future[Message]" = self.loop.create_future()
        self._waiters[id(pending)] = future
        future.add_done_callback(functools.partial(self._forget, pending))
        self._flush()
        self._arm_timer()
        return future

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
        for piece in self.core.frames_to_send():
            if trace_log.isEnabledFor(logging.DEBUG):
                self._trace(">>", piece)
            try:
                self.transport.write(piece)  # one message or fragment per write, as cdc-wdm requires
            except PortGone:
                return  # the transport told _lost(), which failed every waiter

    def _received(self, data: bytes) -> None:
        for event in self.core.receive_data(data, time.monotonic()):
            self._dispatch(event)
        self._flush()  # a HOST_ERROR the core wants to send about bad fragments
        if self.transport.is_open:
            self._arm_timer()

    def _dispatch(self, event: Any) -> None:
        if isinstance(event, ResponseReceived):
            self._trace_message("<<", event.message)
            future = self._waiters.get(id(event.pending))
            if future is not None and not future.done():
                future.set_result(event.message)
        elif isinstance(event, IndicationReceived):
            self._trace_message("<<", event.message)
            for handler in list(self._indication_handlers):
                try:
                    handler(event.message)
                except Exception:  # one listener's bug must not break the port
                    log.exception("indication handler failed")
        elif isinstance(event, VersionAgreed):
            definition = event.message.definition
            if definition is not None and definition.service.nick == "proxy-control":
                self.proxy_version = event.version
            log.debug("MBIMEx %d.0 in force", event.version)
        elif isinstance(event, FunctionErrorReceived):
            self._trace_message("<<", event.message)
            if event.pending is not None:
                self._fail(event.pending, MbimRequestError(event.message, "the modem lost its MBIM state (a reset?); "
                                                           "qcm opens it again"))
        elif isinstance(event, UnexpectedMessage):
            log.debug("ignoring unexpected %s", summary(event.message))
        elif isinstance(event, FramingProblem):
            error = event.error  # the dropped bytes may hold an IMSI or an IMEI: only with show_personal
            log.warning("control port %s: %s", self.path, error if self.show_personal else
                        "%s (%d bytes dropped)" % (error.reason, len(error.discarded)))

    def _trace(self, direction: str, piece: bytes) -> None:
        from ..mbim.framing import Frame, FrameParser
        from ..mbim.message import decode

        parser = FrameParser()
        parser.feed(piece)
        for frame in parser.events():
            if isinstance(frame, Frame):
                self._trace_message(direction, decode(frame, self.core.version))
                return
        trace_log.debug("%s MBIM fragment (%d bytes)", direction, len(piece))

    def _trace_message(self, direction: str, message: Message) -> None:
        if trace_log.isEnabledFor(logging.DEBUG):
            trace_log.debug("%s %s\n    %s", direction, summary(message), redacted_hex(message, self.show_personal))

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
                what = "MBIM %s" % (p.kind.upper() if p.definition is None else "%s %s" % (p.definition, p.kind))
                self._fail(p, MbimTimeout("%s got no answer within %.0f s" % (what, p.deadline - p.sent_at),
                                          "the modem is busy, wedged or not an MBIM port; check with qcm doctor"))
            else:
                self._dispatch(event)
        self._flush()
        self._arm_timer()
