"""Fuzz target: QMI message decoding and its rendering (src/qcm/qmi/message.py and render.py).

The input is one QMUX frame, read leniently (lengths are not checked: framing has its own
target), so that nearly every mutation reaches the TLV decoder. The
decoded message is rendered every way qcm shows one: JSON, text, the one-line summary and the
redacted hex dump, with and without personal data. None of it may raise; the text must encode
as UTF-8 once made printable; the redacted dump must show one entry per byte of the frame.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional

from qcm.printable import printable
from qcm.qmi.catalogue import INDICATION, REQUEST, RESPONSE, catalogue
from qcm.qmi.formats import ArrayFormat, BoolFormat, BytesFormat, Format, IntFormat, Ipv4Format, Ipv6Format, \
    StructFormat, TextFormat
from qcm.qmi.message import build, decode
from qcm.qmi.qmux import Frame
from qcm.qmi.render import redacted_hex, summary, to_json, to_text

NAME = "qmi_message"


def _example(fmt: Format) -> Any:
    """One valid value for a format (the fuzzer mutates from there)."""
    if isinstance(fmt, IntFormat):
        known = [v for v in (fmt.enum.names if fmt.enum is not None else {}) if fmt.min <= v <= fmt.max]
        return known[-1] if known else min(fmt.max, 42)
    if isinstance(fmt, BoolFormat):
        return True
    if isinstance(fmt, Ipv4Format):
        return "192.0.2.1"
    if isinstance(fmt, Ipv6Format):
        return "2001:db8::1"
    if isinstance(fmt, TextFormat):
        return "1234"[:fmt.fixed] if fmt.fixed is not None else "Rogers"
    if isinstance(fmt, BytesFormat):
        return b"\x01\x02"
    if isinstance(fmt, StructFormat):
        return {f.key: _example(f.format) for f in fmt.fields}
    if isinstance(fmt, ArrayFormat):
        return [_example(fmt.element)] * (fmt.fixed if fmt.fixed is not None else 2)
    raise TypeError(fmt)


def seeds() -> List[bytes]:
    """Every message of the catalogue, each kind it has, with every TLV filled; and some failures."""
    out = []
    for definition in catalogue().messages():
        kinds = [INDICATION] if definition.is_indication else [REQUEST, RESPONSE]
        for kind in kinds:
            values = {t.key: _example(t.format) for t in definition.tlvs(kind) if t.key != "result"}
            out.append(build(definition, kind, 1, 2, values))
        if not definition.is_indication:
            out.append(build(definition, RESPONSE, 1, 2, error=0x5E))
    return out


def _frame(data: bytes) -> Optional[Frame]:
    """The frame the input spells, read leniently: the header where QMUX puts it, then TLVs for as
    long as there are bytes (a TLV running past the end keeps what there is). Framing is the qmux
    target's business; this one wants every input to reach the message decoder."""
    if len(data) < 13:
        return None
    service, client_id, flags = data[4], data[5], data[6]
    if service == 0:
        header, transaction = 12, data[7]
        kind = RESPONSE if flags & 0x01 else INDICATION if flags & 0x02 else REQUEST
    else:
        header, transaction = 13, int.from_bytes(data[7:9], "little")
        kind = RESPONSE if flags & 0x02 else INDICATION if flags & 0x04 else REQUEST
    message_id = int.from_bytes(data[header - 4:header - 2], "little")
    tlvs, pos = [], header
    while pos + 3 <= len(data):
        size = int.from_bytes(data[pos + 1:pos + 3], "little")
        tlvs.append((data[pos], bytes(data[pos + 3:pos + 3 + size])))
        pos += 3 + size
    return Frame(service, client_id, kind, transaction, message_id, tuple(tlvs), compound=bool(flags & 0x01)
                 and service != 0)


def run(data: bytes) -> None:
    frame = _frame(data[:0xF000])
    if frame is None:
        return
    message = decode(frame)
    for personal in (False, True):
        json.dumps(to_json(message, personal))
        lines = [summary(message), *to_text(message, personal), redacted_hex(message, personal)]
        "\n".join(printable(line) for line in lines).encode("utf-8")
    hidden = redacted_hex(message, False)
    assert len(hidden.split()) == len(frame.encode()), "the redacted dump has the wrong length"
