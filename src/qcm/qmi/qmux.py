"""QMUX framing: whole frames out of a byte stream, and frames back into bytes. No I/O.

A frame on the wire (all integers little-endian)::

    01 | length u16 (= frame size - 1) | qmux flags u8 | service u8 | client id u8 | SDU
    SDU for CTL (service 0):    flags u8 | transaction u8  | message id u16 | TLV length u16 | TLVs
    SDU for other services:     flags u8 | transaction u16 | message id u16 | TLV length u16 | TLVs
    TLV:                        type u8 | length u16 | value

A real /dev/cdc-wdm hands over one frame per read; a pty or a socket is a byte stream, so
``FrameParser`` reassembles frames from any split of the input, skips garbage, and reports
what it skipped. Its only outputs are frames, ``NEED_DATA`` and ``FramingError`` events; bad
input never raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

__all__ = [
    "MARKER", "CTL", "REQUEST", "RESPONSE", "INDICATION",
    "Frame", "FramingError", "NEED_DATA", "FrameParser", "MAX_FRAME_SIZE", "parse_tlvs",
    "encode_frame", "finish_frame", "header_size", "new_frame",
]

MARKER = 0x01
CTL = 0x00
MAX_FRAME_SIZE = 0x10000  # the length field's own limit; the parser can be given a lower cap

REQUEST = "request"
RESPONSE = "response"
INDICATION = "indication"

# Message-type bits of the SDU flags byte: CTL and the other services use different bits.
_CTL_BITS = {REQUEST: 0x00, RESPONSE: 0x01, INDICATION: 0x02}
_SERVICE_BITS = {REQUEST: 0x00, RESPONSE: 0x02, INDICATION: 0x04}
_QMUX_FLAGS = {REQUEST: 0x00, RESPONSE: 0x80, INDICATION: 0x80}  # 0x80: sent by the service

_QMUX_HEADER = struct.Struct("<BHBBB")
_CTL_HEADER = struct.Struct("<BBHH")
_SERVICE_HEADER = struct.Struct("<BHHH")
_TLV_HEADER = struct.Struct("<BH")


@dataclass(frozen=True)
class Frame:
    """One QMUX frame, its TLVs kept as raw (type, value) pairs in wire order."""

    service: int
    client_id: int
    kind: str
    transaction: int
    message_id: int
    tlvs: Tuple[Tuple[int, bytes], ...] = ()
    qmux_flags: Optional[int] = None  # None: the conventional value for the kind
    compound: bool = False

    def tlv(self, tlv_type: int) -> Optional[bytes]:
        for t, value in self.tlvs:
            if t == tlv_type:
                return value
        return None

    def encode(self) -> bytes:
        body = b"".join(_TLV_HEADER.pack(t, len(v)) + v for t, v in self.tlvs)
        return encode_frame(self.service, self.client_id, self.kind, self.transaction, self.message_id, body,
                            self.qmux_flags, self.compound)


def header_size(service: int) -> int:
    """Bytes before the TLVs: QMUX header and SDU header (CTL's transaction id is one byte)."""
    return 12 if service == CTL else 13


def encode_frame(service: int, client_id: int, kind: str, transaction: int, message_id: int, body: bytes,
                 qmux_flags: Optional[int] = None, compound: bool = False) -> bytes:
    """The bytes of a frame whose TLV area (headers included) is ``body``."""
    out = bytearray(header_size(service))
    out += body
    return finish_frame(out, service, client_id, kind, transaction, message_id, qmux_flags, compound)


def finish_frame(out: bytearray, service: int, client_id: int, kind: str, transaction: int, message_id: int,
                 qmux_flags: Optional[int] = None, compound: bool = False) -> bytes:
    """The bytes of a frame from ``out``: room for the headers (``header_size()`` bytes), then the
    TLV area, which the encoder writes in place; this fills in the headers."""
    header = header_size(service)
    length = len(out) - 1
    if length + 1 > MAX_FRAME_SIZE:
        raise ValueError("frame of %d bytes exceeds the QMUX limit" % (length + 1))
    if service == CTL:
        if not 0 <= transaction <= 0xFF:
            raise ValueError("CTL transaction ids are 8-bit, got %d" % transaction)
        _CTL_HEADER.pack_into(out, 6, _CTL_BITS[kind], transaction, message_id, length + 1 - header)
    else:
        flags = _SERVICE_BITS[kind] | (0x01 if compound else 0)
        _SERVICE_HEADER.pack_into(out, 6, flags, transaction, message_id, length + 1 - header)
    flags = _QMUX_FLAGS[kind] if qmux_flags is None else qmux_flags
    _QMUX_HEADER.pack_into(out, 0, MARKER, length, flags, service, client_id)
    return bytes(out)


_new = object.__new__


def new_frame(service: int, client_id: int, kind: str, transaction: int, message_id: int,
              tlvs: Tuple[Tuple[int, bytes], ...], qmux_flags: Optional[int] = None, compound: bool = False) -> Frame:
    """``Frame(...)`` for the hot paths: the same frozen object, made without the frozen
    dataclass's checked assignment of each field (a third of the cost of reading a frame)."""
    frame = _new(Frame)
    frame.__dict__.update(service=service, client_id=client_id, kind=kind, transaction=transaction,
                          message_id=message_id, tlvs=tlvs, qmux_flags=qmux_flags, compound=compound)
    return frame


@dataclass(frozen=True)
class FramingError:
    """Bytes the parser dropped, and why (garbage, a frame with bad lengths, an oversize frame)."""

    reason: str
    discarded: bytes = field(repr=False)

    def __str__(self) -> str:
        preview = self.discarded[:32].hex(" ")
        more = " ..." if len(self.discarded) > 32 else ""
        return "%s (%d bytes dropped: %s%s)" % (self.reason, len(self.discarded), preview, more)


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()

Event = Union[Frame, FramingError, _NeedData]


def parse_tlvs(data: bytes, start: int = 0) -> Optional[Tuple[Tuple[int, bytes], ...]]:
    """Split a TLV area (``data`` from ``start`` on); None unless the TLVs tile it exactly."""
    if type(data) is not bytes:
        data = bytes(data)  # the values are slices of it, and must be bytes
    tlvs: List[Tuple[int, bytes]] = []
    append, unpack_from = tlvs.append, _TLV_HEADER.unpack_from
    pos, end = start, len(data)
    while pos < end:
        if pos + 3 > end:
            return None
        tlv_type, size = unpack_from(data, pos)
        pos += 3
        stop = pos + size
        if stop > end:
            return None
        append((tlv_type, data[pos:stop]))
        pos = stop
    return tuple(tlvs)


class FrameParser:
    """Incremental QMUX reassembly: ``feed()`` bytes, then call ``next_event()`` until NEED_DATA."""

    def __init__(self, max_frame_size: int = 8192) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def events(self) -> List[Union[Frame, FramingError]]:
        """Everything that can be read now."""
        out: List[Union[Frame, FramingError]] = []
        next_event = self.next_event
        while True:
            event = next_event()
            if event is NEED_DATA:
                return out
            out.append(event)  # type: ignore[arg-type]

    def next_event(self) -> Event:
        buf = self._buffer
        available = len(buf)
        if not available:
            return NEED_DATA
        if buf[0] != MARKER:
            return self._skip_garbage("bytes before a QMUX marker")
        if available < 6:
            return NEED_DATA
        length = buf[1] | buf[2] << 8
        header = 5 + (6 if buf[4] == CTL else 7)
        if length < header or length + 1 > self.max_frame_size:
            reason = "oversize frame (%d bytes)" % (length + 1) if length >= header else "frame too short"
            return self._drop_marker(reason)
        if available < header + 1:
            return NEED_DATA
        # The SDU repeats the TLV length: checking both lengths agree before waiting for the
        # rest keeps a stray 0x01 in garbage from stalling the stream until the cap.
        tlv_length = buf[header - 1] | buf[header] << 8
        if tlv_length != length - header:
            return self._drop_marker("QMUX and SDU lengths disagree")
        size = length + 1
        if available < size:
            return NEED_DATA
        raw = bytes(buf[:size])
        del buf[:size]
        frame = self._decode(raw, header)
        return frame if frame is not None else FramingError("TLVs do not fill the frame exactly", raw)

    def _skip_garbage(self, reason: str) -> FramingError:
        index = self._buffer.find(MARKER)
        cut = len(self._buffer) if index < 0 else index
        dropped = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return FramingError(reason, dropped)

    def _drop_marker(self, reason: str) -> FramingError:
        index = self._buffer.find(MARKER, 1)
        cut = len(self._buffer) if index < 0 else index
        dropped = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return FramingError(reason, dropped)

    @staticmethod
    def _decode(raw: bytes, header: int) -> Optional[Frame]:
        qmux_flags, service, client_id = raw[3], raw[4], raw[5]
        if service == CTL:
            flags, transaction, message_id, _ = _CTL_HEADER.unpack_from(raw, 6)
            kind = RESPONSE if flags & 0x01 else INDICATION if flags & 0x02 else REQUEST
            compound = False
        else:
            flags, transaction, message_id, _ = _SERVICE_HEADER.unpack_from(raw, 6)
            kind = RESPONSE if flags & 0x02 else INDICATION if flags & 0x04 else REQUEST
            compound = bool(flags & 0x01)
        tlvs = parse_tlvs(raw, header + 1)
        if tlvs is None:
            return None
        frame = _new(Frame)  # as new_frame(), inline: this runs for every frame read
        frame.__dict__.update(service=service, client_id=client_id, kind=kind, transaction=transaction,
                              message_id=message_id, tlvs=tlvs, compound=compound,
                              qmux_flags=None if qmux_flags == _QMUX_FLAGS[kind] else qmux_flags)
        return frame
