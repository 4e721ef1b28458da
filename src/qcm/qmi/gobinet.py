"""QMUX over Quectel's GobiNet driver, sans I/O: one character-device handle per QMI client.

GobiNet's ``/dev/qcqmiN`` carries no QMUX header and no CTL service. A program opens the
device once per client and binds that handle to a service with an ioctl; the driver allocates
the real client id, adds the 6-byte QMUX header to what is written and strips it from what is
read, and releases the client when the handle is closed. quectel-CM's ``GobiNetCM.c`` works so.

``GobiNetMux`` lets the rest of qcm keep speaking QMUX: the client core's CTL Allocate CID
becomes ``Bind`` (open a handle for that service; the client id we hand back is our own
number for the handle), Release CID becomes ``Unbind``, every other frame becomes ``Write`` of
its SDU on the client's handle, and what a handle reads comes back as a whole QMUX frame. The
CTL answers are made here, from the catalogue, as a modem would send them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from .catalogue import REQUEST, RESPONSE, catalogue
from .message import build_frame, decode
from .qmux import CTL, Frame, FrameParser, FramingError

__all__ = ["GobiNetMux", "Bind", "Unbind", "Write", "Deliver", "Action", "NOT_SUPPORTED", "CLIENT_IDS_EXHAUSTED"]

NOT_SUPPORTED = 0x5E
CLIENT_IDS_EXHAUSTED = 0x05
INTERNAL = 0x03
_HEADER = 6  # 01 | length u16 | flags | service | client id


@dataclass(frozen=True)
class Bind:
    """Open a device handle bound to ``service`` for client ``cid``; then call ``bound()``."""

    cid: int
    service: int
    transaction: int


@dataclass(frozen=True)
class Unbind:
    cid: int


@dataclass(frozen=True)
class Write:
    cid: int
    sdu: bytes


@dataclass(frozen=True)
class Deliver:
    """A QMUX frame for the host side, as if the modem had sent it."""

    data: bytes


Action = Union[Bind, Unbind, Write, Deliver]


class GobiNetMux:
    def __init__(self) -> None:
        self.services: Dict[int, int] = {}       # our client id -> service
        self._parser = FrameParser()

    def outgoing(self, data: bytes) -> List[Action]:
        """What to do with bytes the QMUX client core wrote."""
        self._parser.feed(data)
        actions: List[Action] = []
        for item in self._parser.events():
            if isinstance(item, FramingError):
                continue  # our own core never writes garbage; nothing to answer
            actions += self._frame(item)
        return actions

    def _frame(self, frame: Frame) -> List[Action]:
        if frame.service != CTL:
            if self.services.get(frame.client_id) != frame.service:
                return []  # a client we never bound: the core's request will time out, as on a real port
            return [Write(frame.client_id, frame.encode()[_HEADER:])]
        message = decode(frame)
        if frame.kind != REQUEST:
            return []
        if message.name == "Allocate CID" and "service" in message:
            cid = self._free_id()
            if cid is None:
                return [Deliver(self._answer(frame, CLIENT_IDS_EXHAUSTED))]
            self.services[cid] = int(message["service"])
            return [Bind(cid, int(message["service"]), frame.transaction)]
        if message.name == "Release CID" and "release_info" in message:
            cid = int(message["release_info"]["cid"])
            service = self.services.pop(cid, None)
            if service is None:
                return [Deliver(self._answer(frame, NOT_SUPPORTED))]
            return [Unbind(cid), Deliver(self._answer(frame, 0, {"release_info": {"service": service, "cid": cid}}))]
        return [Deliver(self._answer(frame, NOT_SUPPORTED))]  # the driver keeps CTL to itself

    def bound(self, bind: Bind, ok: bool) -> bytes:
        """The CTL answer to the Allocate CID behind ``bind`` (after the device handle was, or
        could not be, opened and bound)."""
        definition = catalogue().method("CTL", "Allocate CID")
        if not ok:
            self.services.pop(bind.cid, None)
            return build_frame(definition, RESPONSE, 0, bind.transaction, error=INTERNAL).encode()
        return build_frame(definition, RESPONSE, 0, bind.transaction, {
            "allocation_info": {"service": bind.service, "cid": bind.cid}}).encode()

    def incoming(self, cid: int, sdu: bytes) -> Optional[bytes]:
        """What a client's handle read, as the QMUX frame the modem sent (None for an unknown client)."""
        service = self.services.get(cid)
        if service is None:
            return None
        length = _HEADER - 1 + len(sdu)
        if length > 0xFFFF:
            return None
        return bytes([0x01, length & 0xFF, length >> 8, 0x80, service, cid]) + sdu

    def _free_id(self) -> Optional[int]:
        return next((cid for cid in range(1, 0x100) if cid not in self.services), None)

    def _answer(self, request: Frame, error: int, values: Optional[dict] = None) -> bytes:
        definition = catalogue().lookup(CTL, request.message_id, RESPONSE)
        if definition is None or error:
            values = None
        if definition is None:  # a CTL request the catalogue does not know: a bare result TLV
            result = struct.pack("<HH", 1, error)
            return Frame(CTL, 0, RESPONSE, request.transaction, request.message_id, ((0x02, result),)).encode()
        return build_frame(definition, RESPONSE, 0, request.transaction, values, error=error).encode()
