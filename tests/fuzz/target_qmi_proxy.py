"""Fuzz target: the qmi-proxy core (src/qcm/qmi/proxy.py), which takes bytes from every local
program that connects to the proxy socket, and QMAP de-aggregation (src/qcm/qmi/qmap.py).

The input's first byte picks the role of each piece: bytes from one of two clients, from the
device, a client leaving or the device vanishing. The core must never raise, must answer an
Internal Proxy Open for another device with a failure, must never send the device a CTL Sync or
a request from a client that has not opened, and every frame it sends anywhere must parse. The
same bytes also go through ``qmap.decode`` in both versions.
"""

from __future__ import annotations

from typing import List

from qcm.qmi import qmap
from qcm.qmi.catalogue import REQUEST, RESPONSE, catalogue
from qcm.qmi.message import build
from qcm.qmi.proxy import SYNC, CloseClient, ProxyCore, ToClient, ToDevice
from qcm.qmi.qmux import CTL, FrameParser

NAME = "qmi_proxy"
DEVICE = "/dev/cdc-wdm0"


def seeds() -> List[bytes]:
    c = catalogue()
    open_ = build(c.method("CTL", "Internal Proxy Open"), REQUEST, 0, 1, {"device_path": DEVICE})
    allocate = build(c.method("CTL", "Allocate CID"), REQUEST, 0, 2, {"service": "nas"})
    answer = build(c.method("CTL", "Allocate CID"), RESPONSE, 0, 1, {"allocation_info": {"service": "nas", "cid": 4}})
    serving = build(c.method("NAS", "Get Serving System"), REQUEST, 4, 7)
    sync = build(c.method("CTL", "Sync"), REQUEST, 0, 3)
    frames = [b"\x00" + open_ + allocate, b"\x02" + answer, b"\x00" + serving + sync,
              b"\x00" + open_ + b"\x02" + answer + b"\x00" + serving, b"\x01" + serving]
    return frames + [b"\x00" + open_ + b"\x04", b"\x03" + answer + b"\x05", qmap.encode(0x81, b"\x45" + bytes(27))]


def _parses(data: bytes) -> None:
    parser = FrameParser(0x10000)
    parser.feed(data)
    events = parser.events()
    assert events and parser.buffered == 0 and all(hasattr(e, "kind") for e in events), data.hex()


def run(data: bytes) -> None:
    for version in (1, 5):
        qmap.decode(data, version)
    core = ProxyCore(lambda path: path == DEVICE)
    core.add_client("qcm", opened=True)
    core.add_client("a")
    core.add_client("b")
    pieces = [p for p in data.split(b"\xfe") if p]
    for piece in pieces:
        role, body = piece[0] % 6, piece[1:]
        client = "a" if role == 0 else "b"
        if role in (0, 1):
            was_open = core.clients[client].opened if client in core.clients else False
            actions = core.from_client(client, body)
        elif role in (2, 3):
            actions = core.from_device(body)
        elif role == 4:
            actions = core.client_gone("a")
        else:
            actions = core.device_gone("gone")
            for name in ("qcm", "a", "b"):
                core.add_client(name, opened=name == "qcm")
        for action in actions:
            if isinstance(action, ToDevice):
                _parses(action.data)
                parser = FrameParser(0x10000)
                parser.feed(action.data)
                frame = parser.events()[0]
                assert not (frame.service == CTL and frame.message_id == SYNC), "a CTL Sync reached the device"
                if role in (0, 1):
                    assert was_open or core.clients[client].opened, "a request before Internal Proxy Open"
            elif isinstance(action, ToClient):
                _parses(action.data)
            else:
                assert isinstance(action, CloseClient) or hasattr(action, "text")
