"""Fuzz target: the simulated modem's request handling, in process (sans I/O).

An input is a small header and a QMUX frame. The header picks the modem's state (SIM, radio,
registration, a call up or not) and which TLVs of the frame to drop or cut short; the seeds are
requests built from the catalogue for every request the simulator knows, with valid values.
Whatever comes in, the modem answers with frames that encode, or with nothing: a request
missing a TLV gets MissingArgument, a TLV it cannot parse MalformedMessage, never an exception.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any, Dict, List

from qcm.qmi.catalogue import REQUEST, catalogue
from qcm.qmi.formats import (ArrayFormat, BoolFormat, BytesFormat, Format, IntFormat, Ipv4Format, Ipv6Format,
                             StructFormat, TextFormat)
from qcm.qmi.message import build_frame
from qcm.qmi.qmux import Frame, FrameParser
from qcm.sim import handlers  # noqa: F401 - registers the request handlers
from qcm.sim.config import SimConfig
from qcm.sim.modem import HANDLERS, SimModem

NAME = "sim_handlers"

_STATES = [
    {}, {"sim": "pin"}, {"sim": "absent"}, {"sim": "puk", "pin_retries": 0}, {"mode": "low-power"},
    {"registration": "searching"}, {"registration": "denied", "reject_cause": 7}, {"aggregation": "qmap"},
    {"data_format": "802-3"}, {"model": "BG96"}, {"max_clients": 1}, {"hardware_restricted": True},
    {"set_mode_error": "DeviceNotReady"}, {"rat": "umts"}, {"rat": "gsm"}, {"rat": "none"},
]
_SERVICES = ("DMS", "UIM", "NAS", "WDA", "WDS")


def _value(fmt: Format, rng: random.Random) -> Any:
    """A valid value for a TLV format (what the encoder accepts)."""
    if isinstance(fmt, IntFormat):
        if fmt.enum is not None and fmt.enum.names and not fmt.enum.flags:
            known = [v for v in fmt.enum.names if fmt.min <= v <= fmt.max]
            if known:
                return rng.choice(known)
        return rng.randint(max(fmt.min, 0), min(fmt.max, 40)) if rng.random() < 0.8 else rng.randint(fmt.min, fmt.max)
    if isinstance(fmt, BoolFormat):
        return rng.random() < 0.5
    if isinstance(fmt, Ipv4Format):
        return ipaddress.IPv4Address(rng.getrandbits(32))
    if isinstance(fmt, Ipv6Format):
        return ipaddress.IPv6Address(rng.getrandbits(128))
    if isinstance(fmt, TextFormat):
        size = fmt.fixed or rng.randint(0, 12)
        return "".join(rng.choice("0123456789") for _ in range(size)) if fmt.fixed else rng.choice(
            ["internet", "", "1234", "0000", "user", "x" * size])
    if isinstance(fmt, BytesFormat):
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
    if isinstance(fmt, StructFormat):
        return {f.key: _value(f.format, rng) for f in fmt.fields}
    if isinstance(fmt, ArrayFormat):
        count = fmt.fixed if fmt.fixed is not None else rng.randint(0, 2)
        return [_value(fmt.element, rng) for _ in range(count)]
    raise TypeError(fmt)


def _frame(service: str, name: str, values: Dict[str, Any], transaction: int = 1) -> bytes:
    definition = catalogue().method(service, name)
    return build_frame(definition, REQUEST, 0 if service == "CTL" else 1, transaction, values).encode()


def seeds() -> List[bytes]:
    c = catalogue()
    out = []
    for (service, key) in sorted(HANDLERS):
        definition = next(m for m in c.service(service).methods.values() if m.key == key)
        for round_ in range(3):
            rng = random.Random("%s %s %d" % (service, key, round_))
            tlvs = [t for t in definition.tlvs(REQUEST)]
            values = {t.key: _value(t.format, rng) for t in tlvs if round_ == 0 or rng.random() < 0.6}
            out.append(bytes([round_ % len(_STATES), 0, 0]) + _frame(service, definition.name, values))
    handmade = [
        ("WDS", "Start Network", {"apn": "internet"}), ("WDS", "Start Network", {"profile_index_3gpp": 1}),
        ("WDS", "Stop Network", {"packet_data_handle": 0xFFFFFFFF}),
        ("UIM", "Verify PIN", {"session": {"session_type": "card-slot-1", "application_identifier": []},
                               "info": {"pin_id": "pin1", "pin_value": "1234"}}),
        ("WDA", "Set Data Format", {"link_layer_protocol": "802-3"}),
        ("CTL", "Allocate CID", {"service": "wds"}), ("CTL", "Release CID", {"release_info": {"service": "wds", "cid": 1}}),
    ]
    for state in range(len(_STATES)):
        for service, name, values in handmade:
            out.append(bytes([state, 0, 0]) + _frame(service, name, values))
    return out


def _mangle(frame: Frame, drop: int, cut: int) -> Frame:
    """Drop the TLVs whose bit is set in ``drop``; cut short those whose bit is set in ``cut``."""
    tlvs = []
    for index, (tlv_type, raw) in enumerate(frame.tlvs):
        if drop >> (index % 8) & 1:
            continue
        if cut >> (index % 8) & 1:
            raw = raw[:len(raw) // 2]
        tlvs.append((tlv_type, raw))
    return Frame(frame.service, frame.client_id, frame.kind, frame.transaction, frame.message_id, tuple(tlvs))


def run(data: bytes) -> None:
    if len(data) < 3:
        return
    state, drop, cut = data[0], data[1], data[2]
    config = SimConfig(**_STATES[state % len(_STATES)]).validate()
    modem = SimModem(config, now=0.0)
    for service in _SERVICES:
        modem.allocate_client(service)  # client id 1 of each service, as the seeds use
    if state & 0x80:  # with a call up, for Stop Network, Get Current Settings...
        modem.handle(_parse_one(_frame("WDS", "Start Network", {"apn": "internet"})), 0.5)
    parser = FrameParser()
    parser.feed(data[3:])
    now = 1.0
    for event in parser.events():
        if not isinstance(event, Frame):
            continue
        for answer in modem.handle(_mangle(event, drop, cut), now):
            answer.encode()
        now += 0.5
    for answer in modem.advance(now + 100.0):
        answer.encode()


def _parse_one(raw: bytes) -> Frame:
    parser = FrameParser()
    parser.feed(raw)
    return next(e for e in parser.events() if isinstance(e, Frame))
