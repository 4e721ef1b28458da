"""Fuzz target: what the MBIM backend makes of the modem's answers and notifications, whatever
they hold: the readings (identity, SIM, registration, signal, session, IP configuration), the
rejection of a session, the quectel-CM log lines, and the backend's and dial's notification
handlers turning them into supervisor events. A modem's odd answer may only ever become a
QcmError (one line for the user), never an exception of another kind.

Shared fuzz contract: NAME, seeds(), run(data) (returns normally for every input), close().
"""

from __future__ import annotations

import ipaddress
from typing import Any, List

from qcm.backends.base import BackendContext, Bearer, BearerId, DialPlan
from qcm.backends.mbim import readings
from qcm.backends.mbim.backend import MbimBackend
from qcm.backends.mbim.calls import describe_nw_error, session_error
from qcm.backends.mbim.dial import MbimDial
from qcm.cli.quectel_cm import QuectelLog
from qcm.connect import events as ev
from qcm.discovery import Modem
from qcm.errors import QcmError
from qcm.mbim.catalogue import catalogue
from qcm.mbim.framing import COMMAND_DONE, Frame, FrameParser
from qcm.mbim.message import Message, build, decode
from qcm.model import IpSettings

NAME = "mbim_backend"

_MODEM = Modem("1-1.2", 0x2C7C, 0x0125, "Quectel", "EC25", "EC25", "mbim", "cdc_mbim", "", 4, "/dev/cdc-wdm0",
               "wwan0", None, None)


class _Port:
    """Just enough of an MbimPort for the dial to register its notification handler."""

    through_proxy = False
    version = 1
    proxy_version = None

    def on_indication(self, handler: Any) -> None:
        pass


def _backend() -> MbimBackend:
    events: List[Any] = []
    context = BackendContext(DialPlan(apn="internet", families=(4, 6)), events.append, events.append)
    backend = MbimBackend(_MODEM, context)
    dial = MbimDial(_Port(), context, _MODEM)  # type: ignore[arg-type]
    for family in (4, 6):
        bearer = BearerId(1, family)
        address = ipaddress.ip_interface("100.64.0.2/30" if family == 4 else "2001:db8::2/64")
        dial.live[bearer] = Bearer(bearer, "wwan0", IpSettings(family, address), {"session": 0, "proxy": 0})
    backend.dial = dial
    return backend


def seeds() -> List[bytes]:
    c = catalogue()
    bc = "basic-connect"
    frames = [
        build(c.command(bc, "Connect"), "notification", 0, {"session_id": 0, "activation_state": "deactivated",
                                                             "nw_error": 36}),
        build(c.command(bc, "Connect"), "response", 4, {"session_id": 0, "activation_state": "deactivated",
                                                        "nw_error": 27}, status=18),
        build(c.command(bc, "IP Configuration"), "notification", 0, {
            "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}], "ipv4_gateway": "100.64.0.1",
            "ipv4_dns_server": ["198.51.100.53"], "ipv4_mtu": 1500,
            "ipv6_address": [{"on_link_prefix_length": 64, "ipv6_address": "2001:db8::2"}], "ipv6_gateway": "2001:db8::1"}),
        build(c.command(bc, "Register State"), "notification", 0, {"register_state": "denied", "nw_error": 11,
                                                                   "provider_id": "302720", "provider_name": "Rogers"}),
        build(c.command(bc, "Packet Service"), "notification", 0, {"packet_service_state": "attached",
                                                                   "highest_available_data_class": ["lte"]}),
        build(c.command(bc, "Subscriber Ready Status"), "notification", 0, {"ready_state": "sim-not-inserted"}),
        build(c.command(bc, "Subscriber Ready Status"), "response", 5, {"ready_state": "device-locked",
                                                                        "sim_icc_id": "8930"}),
        build(c.command(bc, "Pin"), "response", 6, {"pin_type": "puk1", "pin_state": "locked", "remaining_attempts": 9}),
        build(c.command(bc, "Signal State"), "response", 7, {"rssi": 20, "rsrp_snr": [{"rsrp": 60}]}, version=2),
        build(c.command(bc, "Device Caps"), "response", 8, {"device_id": "866758045439136", "firmware_info": "EC25"}),
        build(c.command(bc, "Radio State"), "notification", 0, {"hw_radio_state": "on", "sw_radio_state": "off"}),
    ]
    return [f.encode() for f in frames]


def _exercise(message: Message, backend: MbimBackend, log: QuectelLog) -> None:
    readings.identity(message)
    readings.sim_status(message, message)
    readings.registration(message, message, message)
    readings.signal_dbm(message)
    readings.activation(message)
    settings = tuple(s for s in (readings.ip_settings(message, 4), readings.ip_settings(message, 6)) if s is not None)
    describe_nw_error(message.get("nw_error"))
    if message.frame.type == COMMAND_DONE:
        session_error("IPv4", message, 0)
    for event in (ev.MbimState("register", "unknown", readings.registered_state(message)),
                  ev.MbimIpConfiguration(0, int(message.get("ipv4_configuration_available") or 0) & 0xFFFFFFFF,
                                         int(message.get("ipv6_configuration_available") or 0) & 0xFFFFFFFF, settings)):
        log.lines(event)
    backend._on_indication(message)
    assert backend.dial is not None
    backend.dial._on_indication(message)


def run(data: bytes) -> None:
    parser = FrameParser()
    parser.feed(data, 0.0)
    backend = _backend()
    log = QuectelLog()
    log.mode = "mbim"
    for item in parser.events():
        if not isinstance(item, Frame):
            continue
        for version in (1, 2, 3):
            message = decode(item, version)
            try:
                _exercise(message, backend, log)
            except QcmError:
                pass  # a modem's nonsense told to the user in one line: fine
