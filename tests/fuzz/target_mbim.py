"""Fuzz target: MBIM framing, decoding under every MBIMEx version, rendering with and without
personal data, protocol detection, the host core and the simulator's MBIM device model.

Shared fuzz contract: NAME, seeds(), run(data) (returns normally for every input), close().
"""

from __future__ import annotations

import json
from typing import List, Optional

from qcm.mbim.catalogue import catalogue
from qcm.mbim.client import ClientCore
from qcm.mbim.detect import guess_protocol
from qcm.mbim.framing import Frame, FrameParser, FramingError, OPEN
from qcm.mbim.message import build, decode, decode_stream
from qcm.mbim.render import redacted_hex, summary, to_json, to_text

NAME = "mbim"

_device = None  # the simulator's device model, made on first use and kept (its state may drift: so does a modem's)


def _frames() -> List[Frame]:
    c = catalogue()
    bc = "basic-connect"
    return [
        Frame(OPEN, 1, max_control_transfer=4096),
        build(c.command(bc, "Device Caps"), "response", 2, {"device_id": "866758045439136", "firmware_info": "EC25"}),
        build(c.command(bc, "Subscriber Ready Status"), "response", 3, {
            "ready_state": "initialized", "subscriber_id": "302720123456789", "sim_icc_id": "8930272040",
            "telephone_numbers": ["+15550100123"]}),
        build(c.command(bc, "Pin"), "set", 4, {"pin_type": "pin1", "pin": "1234"}),
        build(c.command(bc, "Register State"), "notification", 0, {"register_state": "home", "provider_name": "Rogers"}),
        build(c.command(bc, "Connect"), "set", 5, {"access_string": "internet", "user_name": "u", "password": "p",
                                                   "context_type": "internet"}),
        build(c.command(bc, "Connect"), "set", 6, {"access_string": "internet", "unnamed_ies": [{"type": 13, "data": b"x"}]},
              version=3),
        build(c.command(bc, "IP Configuration"), "response", 7, {
            "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}], "ipv4_gateway": "100.64.0.1",
            "ipv6_dns_server": ["2001:db8::53"]}),
        build(c.command(bc, "Device Services"), "response", 8, {"device_services": [
            {"device_service_id": "basic-connect", "cids": [1, 2, 3]}]}),
        build(c.command(bc, "Signal State"), "response", 9, {"rsrp_snr": [{"rsrp": 60}]}, version=2),
        build(c.command("ms-basic-connect-extensions", "Device Caps"), "response", 10,
              {"lte_band_class": [1, 3], "device_id": "8667"}, version=3),
        build(c.command("quectel", "Radio State"), "response", 11, {"radio_state": "fcc-locked"}),
        build(c.command("qmi", "Msg"), "set", 12, {"qmi_msg": bytes.fromhex("010c000002010001002300 0000".replace(" ", ""))}),
    ]


def seeds() -> List[bytes]:
    frames = _frames()
    out = [f.encode() for f in frames]
    out.append(b"".join(frames[8].fragments(64)))
    out.append(b"".join(out[:4]))
    return out


def _render(frame: Frame, version: int) -> None:
    message = decode(frame, version)
    summary(message)
    for personal in (False, True):
        to_text(message, personal)
        json.dumps(to_json(message, personal))
        redacted_hex(message, personal)


def _device_model():
    global _device
    if _device is None:
        from qcm.sim.config import SimConfig
        from qcm.sim.mbim_device import MbimDevice
        from qcm.sim.modem import SimModem
        _device = MbimDevice(SimModem(SimConfig()))
        _device.receive(Frame(OPEN, 1, max_control_transfer=4096).encode(), 0.0)
    return _device


def run(data: bytes) -> None:
    cut = data[0] % (len(data) + 1) if data else 0
    parser = FrameParser(max_message_size=8192)
    events: List[object] = []
    for now, piece in ((0.0, data[:cut]), (0.5, data[cut:])):
        parser.feed(piece, now)
        events += parser.events()
    events += parser.expire(10.0)
    for event in events:
        if isinstance(event, FramingError):
            str(event)
        else:
            for version in (1, 2, 3):
                _render(event, version)  # type: ignore[arg-type]
    guess_protocol(data)
    for item in decode_stream(data):
        if not isinstance(item, FramingError):
            to_text(item)
    core = ClientCore()
    core.request(catalogue().command("basic-connect", "Connect"), "query", {"session_id": 0}, 0.0, 5)
    core.receive_data(data, 0.1)
    core.expire(100.0)
    core.frames_to_send()
    device = _device_model()
    device.receive(data, 1.0)
    device.advance(2.0)


def close() -> Optional[None]:
    global _device
    _device = None
    return None
