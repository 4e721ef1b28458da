"""The MBIM backend: a module behind cdc_mbim (USB) or mhi_wwan (PCIe), on the seam of ``backends.base``.

It owns the MBIM control port (the device, or libmbim's mbim-proxy when one runs or ``--proxy``
asks for it, so that ``mbimcli -p`` and ModemManager can read the modem while qcm holds the
call), opens the MBIM function (and closes it, except for ``--once`` calls that must outlive
us), runs the dial sequence of ``dial.py``, and turns what the modem says unasked into
supervisor events: CONNECT deactivated (the network ended the session, with its NwError),
IP configuration (the address changed), register state and packet service (the network is
back), subscriber ready (a SIM was inserted), and the port vanishing.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple, Union

from ...connect import events as ev
from ...connect import supervisor as sv
from ...discovery import Modem, mbim_max_control_transfer
from ...errors import ModemError, QcmError
from ...io.mbim_port import MbimPort, ProxyTransport, proxy_running
from ...io.transport import Transport
from ...mbim.message import Message
from ...model import IpSettings
from ..base import Backend, Bearer, BearerId
from . import readings
from .calls import describe_nw_error
from .dial import SPOKEN_VERSION, MbimDial, session_of

__all__ = ["MbimBackend", "transport_for"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 1.0


def transport_for(control: str, proxy: Optional[bool]) -> Union[Transport, str]:
    """The device itself, or mbim-proxy: when asked to (starting it if needed), or when it runs."""
    if proxy is None:
        proxy = proxy_running()
        spawn = False
    else:
        spawn = proxy
    return ProxyTransport(control, spawn=spawn) if proxy else control


class MbimBackend(Backend):
    name = "mbim"
    modes = ("mbim",)

    port: Optional[MbimPort] = None
    dial: Optional[MbimDial] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept = False
        self._sim_absent = False

    # ---------------------------------------------------------------- the channel

    async def open(self) -> None:
        await self.close()
        context = self.context
        assert self.modem.control is not None
        transport = context.transport(self.modem) if context.transport else \
            transport_for(self.modem.control, context.plan.mbim_proxy)
        direct = isinstance(transport, str)  # the device itself: its descriptor says how much it takes at once
        port = await MbimPort(transport, show_personal=context.show_personal, offered_version=SPOKEN_VERSION,
                              max_control_transfer=mbim_max_control_transfer(self.modem) if direct else 4096).open()
        self.port = port
        self._kept = False
        port.on_lost(lambda reason: self._lost(port, reason))
        port.on_indication(self._on_indication)
        context.report(ev.MbimRequest("open"))
        if port.through_proxy:
            context.report(ev.Notice("sharing %s through mbim-proxy" % self.modem.control))
        await port.open_device(context.request_timeout)
        self.dial = MbimDial(port, context, self.modem)

    def _lost(self, port: MbimPort, reason: str) -> None:
        # Only an opened channel can be lost: a port that closes while opening (mbim-proxy refusing
        # us, a module going away) fails open() instead, and the supervisor backs off.
        if port is self.port and self.dial is not None:
            self.context.emit(sv.ModemLost("the control port %s" % reason))

    async def close(self) -> None:
        port, kept = self.port, self._kept
        self.port = self.dial = None
        if port is None:
            return
        if not kept:  # CLOSE may end the sessions: not for calls handed over to qcm disconnect
            await port.close_device(CLOSE_TIMEOUT)
        port.close()

    @property
    def is_open(self) -> bool:
        return self.port is not None and self.port.is_open

    def _dial(self) -> MbimDial:
        if self.dial is None:
            raise ModemError("the control port %s is not open" % self.modem.control)
        return self.dial

    # ---------------------------------------------------------------- the sequence

    async def prepare(self) -> None:
        dial = self._dial()
        try:
            self.identity = await dial.prepare()
        finally:
            self._sim_absent = dial.states.get("subscriber-ready") == "sim-not-inserted"

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        return await self._dial().start(bearer, netdev)

    async def settings(self, bearer: Bearer) -> IpSettings:
        return await self._dial().settings(bearer.id)

    async def is_up(self, bearer: Bearer) -> bool:
        return await self._dial().session_up(bearer.id)

    async def stop(self, bearer: Bearer) -> bool:
        dial = self.dial
        if dial is None or not self.is_open:
            return False
        return await dial.stop(bearer)

    async def radio_cycle(self) -> None:
        await self._dial().radio_cycle()

    def keep(self, bearers: List[Bearer]) -> None:
        self._kept = True  # no CLOSE: the sessions stay up for qcm disconnect
        if self.dial is not None:
            self.dial.live.clear()

    @classmethod
    async def read_imei(cls, modem: Modem) -> str:
        if not modem.control:
            return ""
        port = MbimPort(transport_for(modem.control, None))
        try:
            await port.open()
            await port.open_device(3.0)
            caps = await port.request("basic-connect", "device_caps", timeout=3.0)
            return str(caps.get("device_id", ""))
        except QcmError:
            return ""
        finally:
            await port.close_device()
            port.close()

    @classmethod
    async def stop_saved(cls, control: str, bearers: List[Tuple[BearerId, Dict[str, Any]]]) -> List[str]:
        port = MbimPort(transport_for(control, None))  # the sessions are the device's: the proxy only if it runs
        try:
            await port.open()
            await port.open_device(3.0)
        except QcmError as exc:
            port.close()
            return ["modem not reachable (%s): its sessions ended with it" % exc]
        details = []
        try:
            for session in sorted({int(handle.get("session", 0)) for _, handle in bearers}):
                names = " and ".join(str(b) for b, h in bearers if int(h.get("session", 0)) == session)
                try:
                    response = await port.request("basic-connect", "connect", "set", {
                        "session_id": session, "activation_command": "deactivate", "context_type": "internet"},
                        timeout=3.0, check=False)
                    done = response.ok or readings.name_of(response.status) == "context-not-activated"
                    details.append("%s session %d %s" % (names, session, "stopped" if done else
                                                         "not stopped (%s)" % readings.name_of(response.status)))
                except QcmError as exc:
                    details.append("%s: %s" % (names, exc))
        finally:
            await port.close_device()
            port.close()
        return details

    # ---------------------------------------------------------------- what the modem says unasked

    def _on_indication(self, message: Message) -> None:
        definition = message.definition
        dial = self.dial
        if definition is None or dial is None or message.kind != "notification" \
                or definition.service.nick != "basic-connect":
            return
        emit = self.context.emit
        key = definition.key
        if key == "connect" and readings.activation(message) in ("deactivated", "deactivating"):
            session = int(message.get("session_id", 0))
            cause = describe_nw_error(message.get("nw_error"))
            for bearer in [b for b in dial.live.values() if session_of(b.id) == session]:
                dial.live.pop(bearer.id, None)
                emit(sv.CallDropped(bearer.id, "the network ended the %s session %d%s" % (
                    bearer.id, session, ": %s" % cause if cause else "")))
        elif key == "ip_configuration":
            session = int(message.get("session_id", 0))
            for bearer in [b for b in dial.live.values() if session_of(b.id) == session]:
                emit(sv.AddressChanged(bearer.id))
        elif key == "register_state":
            if readings.registered_state(message) in ("home", "roaming", "partner"):
                emit(sv.Registered())
        elif key == "packet_service":
            if readings.name_of(message.get("packet_service_state")) == "attached":
                emit(sv.Registered())
        elif key == "subscriber_ready_status":
            absent = readings.name_of(message.get("ready_state")) == "sim-not-inserted"
            if self._sim_absent and not absent:
                emit(sv.SimInserted())
            self._sim_absent = absent
