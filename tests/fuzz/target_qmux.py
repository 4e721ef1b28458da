"""Fuzz target: QMUX framing (src/qcm/qmi/qmux.py), the first code every byte from a modem meets.

The input is a byte stream, fed to a ``FrameParser`` in pieces whose sizes come from the input
itself. The parser must never raise, and must account for every byte: the frames it returns
(re-encoded), the bytes it reports dropping and what it still buffers add up to the input. A
frame it returns must encode and parse back to itself.
"""

from __future__ import annotations

from typing import List

from qcm.qmi.catalogue import REQUEST, RESPONSE, catalogue
from qcm.qmi.message import build
from qcm.qmi.qmux import Frame, FrameParser, FramingError

NAME = "qmux"


def seeds() -> List[bytes]:
    c = catalogue()
    frames = [
        build(c.method("CTL", "Allocate CID"), REQUEST, 0, 1, {"service": "wds"}),
        build(c.method("CTL", "Allocate CID"), RESPONSE, 0, 1, {"allocation_info": {"service": "wds", "cid": 7}}),
        build(c.method("DMS", "Get Revision"), RESPONSE, 1, 2, {"revision": "EC25EFAR06A11M4G"}),
        build(c.method("WDS", "Start Network"), REQUEST, 7, 3, {"apn": "internet", "ip_family_preference": 4}),
        build(c.method("WDS", "Start Network"), RESPONSE, 7, 3, error=0x0E),
        build(c.indication("WDS", "Packet Service Status"), "indication", 7, 0, {
            "connection_status": {"status": "disconnected", "reconfiguration_required": False}}),
    ]
    stream = b"".join(frames)
    return frames + [stream, b"\x00garbage\x01" + stream[:40], stream + b"\x01\x0c\x00"]


def run(data: bytes) -> None:
    parser = FrameParser(max_frame_size=0x10000 if data[:1] in (b"\x01", b"") else 512 + (data[0] << 4))
    events = []
    step = 1 + (data[-1] % 64 if data else 0)
    for start in range(0, len(data), step):
        parser.feed(data[start:start + step])
        events += parser.events()
    accounted = parser.buffered
    for event in events:
        if isinstance(event, FramingError):
            accounted += len(event.discarded)
            str(event)
            continue
        assert isinstance(event, Frame), event
        wire = event.encode()
        accounted += len(wire)
        again = FrameParser(max_frame_size=0x10000)
        again.feed(wire)
        assert again.events() == [event], "a frame does not parse back to itself: %s" % wire.hex()
    assert accounted == len(data), "bytes lost: %d in, %d accounted for" % (len(data), accounted)
