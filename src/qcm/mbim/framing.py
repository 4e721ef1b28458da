"""MBIM framing: messages out of a byte stream, fragments reassembled, messages back into bytes.

Every MBIM message starts with a 12-byte header (all integers little-endian)::

    MessageType u32 | MessageLength u32 (this message or fragment, header included) | TransactionId u32

COMMAND, COMMAND_DONE and INDICATE_STATUS carry a fragment header next (TotalFragments u32,
CurrentFragment u32) and then the payload: service UUID (16 bytes), CID u32, CommandType u32
(COMMAND) or Status u32 (COMMAND_DONE) or nothing (INDICATE_STATUS), InformationBufferLength
u32 and the information buffer. A message longer than the MaxControlTransfer agreed at OPEN
travels as several fragments, each repeating the header and the fragment header and carrying
the next (MaxControlTransfer - 20) bytes of the payload (libmbim ``_mbim_message_split_fragments``).

A cdc-wdm device hands over one message per read, but a pty, mbim-proxy's socket or a log
is a byte stream, so ``FrameParser`` takes any split: it waits for whole messages, skips
bytes that cannot start one (MBIM has no marker: a known MessageType is the only anchor),
caps what it buffers, reassembles fragments in order and reports fragments that come out of
sequence, go missing or stop arriving. Its outputs are ``Frame``, ``FramingError`` and
``NEED_DATA``; no input makes it raise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

__all__ = [
    "OPEN", "CLOSE", "COMMAND", "HOST_ERROR", "OPEN_DONE", "CLOSE_DONE", "COMMAND_DONE",
    "FUNCTION_ERROR", "INDICATE_STATUS", "TYPE_NAMES", "QUERY", "SET", "PROTOCOL_ERRORS",
    "TIMEOUT_FRAGMENT", "FRAGMENT_OUT_OF_SEQUENCE", "LENGTH_MISMATCH", "NOT_OPENED",
    "DEFAULT_MAX_CONTROL_TRANSFER", "MIN_CONTROL_TRANSFER", "MAX_MESSAGE_SIZE", "FRAGMENT_TIMEOUT",
    "Frame", "FramingError", "NEED_DATA", "FrameParser", "uuid_bytes", "uuid_text",
]

OPEN = 0x00000001
CLOSE = 0x00000002
COMMAND = 0x00000003
HOST_ERROR = 0x00000004
OPEN_DONE = 0x80000001
CLOSE_DONE = 0x80000002
COMMAND_DONE = 0x80000003
FUNCTION_ERROR = 0x80000004
INDICATE_STATUS = 0x80000007

TYPE_NAMES: Dict[int, str] = {
    OPEN: "open", CLOSE: "close", COMMAND: "command", HOST_ERROR: "host-error",
    OPEN_DONE: "open-done", CLOSE_DONE: "close-done", COMMAND_DONE: "command-done",
    FUNCTION_ERROR: "function-error", INDICATE_STATUS: "indicate-status",
}

QUERY = 0
SET = 1

# MbimProtocolError (libmbim mbim-errors.h): what HOST_ERROR and FUNCTION_ERROR carry.
TIMEOUT_FRAGMENT = 1
FRAGMENT_OUT_OF_SEQUENCE = 2
LENGTH_MISMATCH = 3
NOT_OPENED = 5
PROTOCOL_ERRORS: Dict[int, str] = {
    0: "Invalid", 1: "TimeoutFragment", 2: "FragmentOutOfSequence", 3: "LengthMismatch",
    4: "DuplicatedTid", 5: "NotOpened", 6: "Unknown", 7: "Cancel", 8: "MaxTransfer",
}

DEFAULT_MAX_CONTROL_TRANSFER = 4096  # libmbim's fallback when the descriptor cannot be read; quectel-CM's value
MIN_CONTROL_TRANSFER = 64            # the MBIM functional descriptor's floor for wMaxControlMessage
MAX_MESSAGE_SIZE = 0x10000           # what we buffer for one message, reassembled or not
FRAGMENT_TIMEOUT = 1.25              # libmbim MAX_TIME_BETWEEN_FRAGMENTS_MS

_HEADER = struct.Struct("<III")
_FRAGMENT = struct.Struct("<II")
_PREFIX = _HEADER.size + _FRAGMENT.size  # 20: what every fragment repeats
_U32 = struct.Struct("<I")
_COMMAND_FIELDS = struct.Struct("<III")  # CID, CommandType or Status, InformationBufferLength
_INDICATE_FIELDS = struct.Struct("<II")  # CID, InformationBufferLength

# The smallest valid MessageLength of each type (libmbim _mbim_message_validate_*).
_MIN_LENGTH = {OPEN: 16, CLOSE: 12, COMMAND: 48, HOST_ERROR: 16, OPEN_DONE: 16, CLOSE_DONE: 16,
               COMMAND_DONE: 48, FUNCTION_ERROR: 16, INDICATE_STATUS: 44}
_FRAGMENTED = (COMMAND, COMMAND_DONE, INDICATE_STATUS)
_PATTERNS = tuple(_U32.pack(t) for t in TYPE_NAMES)  # a message can only start with one of these


def uuid_bytes(text: str) -> bytes:
    """MBIM sends a UUID as the 16 bytes of its printed form, in that order (no byte swapping)."""
    raw = bytes.fromhex(text.replace("-", ""))
    if len(raw) != 16:
        raise ValueError("%r is not a UUID" % text)
    return raw


def uuid_text(raw: bytes) -> str:
    h = bytes(raw).hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])


@dataclass(frozen=True)
class Frame:
    """One whole MBIM message (fragments already joined).

    ``status`` is the Status of OPEN_DONE, CLOSE_DONE and COMMAND_DONE and the ErrorStatusCode
    of HOST_ERROR and FUNCTION_ERROR; ``service`` is the 16 raw UUID bytes.
    """

    type: int
    transaction: int
    service: bytes = b""
    cid: int = 0
    command_type: int = QUERY
    status: int = 0
    max_control_transfer: int = 0
    buffer: bytes = field(default=b"", repr=False)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, "0x%08x" % self.type)

    @property
    def fragmented(self) -> bool:
        return self.type in _FRAGMENTED

    def _payload(self) -> bytes:
        if self.type in _FRAGMENTED:
            if len(self.service) != 16:
                raise ValueError("a service UUID is 16 bytes, got %d" % len(self.service))
            if self.type == INDICATE_STATUS:
                fields = _INDICATE_FIELDS.pack(self.cid, len(self.buffer))
            else:
                middle = self.command_type if self.type == COMMAND else self.status
                fields = _COMMAND_FIELDS.pack(self.cid, middle, len(self.buffer))
            return bytes(self.service) + fields + bytes(self.buffer)
        if self.type == OPEN:
            return _U32.pack(self.max_control_transfer)
        if self.type == CLOSE:
            return b""
        if self.type in (OPEN_DONE, CLOSE_DONE, HOST_ERROR, FUNCTION_ERROR):
            return _U32.pack(self.status)
        raise ValueError("unknown MBIM message type 0x%08x" % self.type)

    def encode(self) -> bytes:
        """The message in one piece (what a log shows, or a transfer big enough for it)."""
        payload = self._payload()
        if self.type in _FRAGMENTED:
            return _HEADER.pack(self.type, _PREFIX + len(payload), self.transaction) + _FRAGMENT.pack(1, 0) + payload
        return _HEADER.pack(self.type, _HEADER.size + len(payload), self.transaction) + payload

    def fragments(self, max_control_transfer: int = DEFAULT_MAX_CONTROL_TRANSFER) -> List[bytes]:
        """The message cut to the agreed transfer size: one element per write() to the device."""
        if max_control_transfer < MIN_CONTROL_TRANSFER:
            raise ValueError("MaxControlTransfer %d is below MBIM's minimum of %d"
                             % (max_control_transfer, MIN_CONTROL_TRANSFER))
        payload = self._payload()
        if self.type not in _FRAGMENTED or _PREFIX + len(payload) <= max_control_transfer:
            return [self.encode()]
        chunk = max_control_transfer - _PREFIX
        pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)]
        return [_HEADER.pack(self.type, _PREFIX + len(piece), self.transaction) + _FRAGMENT.pack(len(pieces), index)
                + piece for index, piece in enumerate(pieces)]


@dataclass(frozen=True)
class FramingError:
    """Bytes the parser dropped and why. ``protocol_error`` is the MBIM protocol error a host
    answers with (HOST_ERROR) when the fault is the sender's, for ``transaction``."""

    reason: str
    discarded: bytes = field(repr=False)
    transaction: Optional[int] = None
    protocol_error: Optional[int] = None

    def __str__(self) -> str:
        preview = self.discarded[:32].hex(" ")
        more = " ..." if len(self.discarded) > 32 else ""
        return "%s (%d bytes dropped: %s%s)" % (self.reason, len(self.discarded), preview, more)


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()

Event = Union[Frame, FramingError, _NeedData]


@dataclass
class _Partial:
    """A fragmented message being collected."""

    type: int
    transaction: int
    total: int
    received: int
    payload: bytearray
    last_seen: float
    raw_size: int


def _decode_payload(kind: int, transaction: int, payload: bytes) -> Union[Frame, FramingError]:
    """A whole message from its type and the bytes after the fragment header."""
    fixed = 24 if kind == INDICATE_STATUS else 28
    if len(payload) < fixed:
        return FramingError("%s payload of %d bytes is shorter than its %d-byte header"
                            % (TYPE_NAMES[kind], len(payload), fixed), payload, transaction, LENGTH_MISMATCH)
    service = bytes(payload[:16])
    if kind == INDICATE_STATUS:
        cid, size = _INDICATE_FIELDS.unpack_from(payload, 16)
        middle = 0
    else:
        cid, middle, size = _COMMAND_FIELDS.unpack_from(payload, 16)
    if fixed + size > len(payload):
        return FramingError("InformationBufferLength %d runs past the %s (%d bytes left)"
                            % (size, TYPE_NAMES[kind], len(payload) - fixed), payload, transaction, LENGTH_MISMATCH)
    buffer = bytes(payload[fixed:fixed + size])  # bytes after it are padding some firmware adds: ignored
    if kind == COMMAND:
        return Frame(kind, transaction, service, cid, command_type=middle, buffer=buffer)
    return Frame(kind, transaction, service, cid, status=middle, buffer=buffer)


class FrameParser:
    """Incremental MBIM parsing: ``feed()`` bytes (with the time, for fragment timeouts), then
    call ``next_event()`` until NEED_DATA, and ``expire(now)`` when ``next_deadline()`` passes."""

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE, fragment_timeout: float = FRAGMENT_TIMEOUT) -> None:
        self.max_message_size = max_message_size
        self.fragment_timeout = fragment_timeout
        self._buffer = bytearray()
        self._partial: Optional[_Partial] = None
        self._now = 0.0

    @property
    def buffered(self) -> int:
        return len(self._buffer) + (self._partial.raw_size if self._partial else 0)

    def take_buffered(self) -> bytes:
        """What is left over (a message cut short at the end of a trace), removed from the parser."""
        left = (bytes(self._partial.payload) if self._partial else b"") + bytes(self._buffer)
        self._partial = None
        self._buffer.clear()
        return left

    def feed(self, data: bytes, now: Optional[float] = None) -> None:
        if now is not None:
            self._now = now
        self._buffer += data

    def events(self) -> List[Union[Frame, FramingError]]:
        out: List[Union[Frame, FramingError]] = []
        while True:
            event = self.next_event()
            if event is NEED_DATA:
                return out
            out.append(event)  # type: ignore[arg-type]

    def next_event(self) -> Event:
        buf = self._buffer
        while buf:
            if len(buf) < 4:
                if any(p.startswith(bytes(buf)) for p in _PATTERNS):
                    return NEED_DATA
                return self._skip("bytes that cannot start an MBIM message", 1)
            kind = _U32.unpack_from(buf)[0]
            if kind not in TYPE_NAMES:
                return self._skip("bytes that cannot start an MBIM message", 1)
            if len(buf) < _HEADER.size:
                return NEED_DATA
            _, length, transaction = _HEADER.unpack_from(buf)
            if length < (_PREFIX + 1 if kind in _FRAGMENTED else _MIN_LENGTH[kind]):
                return self._skip("%s of %d bytes is shorter than its header" % (TYPE_NAMES[kind], length), 1)
            if length > self.max_message_size:
                return self._skip("oversize %s (%d bytes)" % (TYPE_NAMES[kind], length), 1)
            if kind in _FRAGMENTED:
                problem = self._check_fragment_header(kind, length)
                if problem is NEED_DATA:
                    return NEED_DATA
                if problem is not None:
                    return self._skip(str(problem), 1)
            if len(buf) < length:
                return NEED_DATA
            raw = bytes(buf[:length])
            del buf[:length]
            event = self._message(kind, transaction, raw)
            if event is not None:
                return event
        return NEED_DATA

    def _check_fragment_header(self, kind: int, length: int) -> object:
        """None if the fragment header is plausible, NEED_DATA, or the reason it is not.
        Checking before waiting for the whole message keeps garbage that happens to start
        with a MessageType from stalling the stream until the size cap."""
        buf = self._buffer
        if len(buf) < _PREFIX:
            return NEED_DATA
        total, current = _FRAGMENT.unpack_from(buf, _HEADER.size)
        if total == 0 or current >= total:
            return "fragment %d of %d is impossible" % (current, total)
        if total == 1:
            fixed = _MIN_LENGTH[kind]
            if length < fixed:
                return "%s of %d bytes is shorter than its header" % (TYPE_NAMES[kind], length)
            if len(buf) < fixed:
                return NEED_DATA
            size = _U32.unpack_from(buf, fixed - 4)[0]
            if fixed + size > length:
                return "%s InformationBufferLength %d does not fit its MessageLength %d" % (
                    TYPE_NAMES[kind], size, length)
        elif total > self.max_message_size // 4:
            return "%d fragments announced" % total
        return None

    def _skip(self, reason: str, start: int) -> FramingError:
        cut = self._next_candidate(start)
        dropped = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return FramingError(reason, dropped)

    def _next_candidate(self, start: int) -> int:
        buf = self._buffer
        best = len(buf)
        for pattern in _PATTERNS:
            index = buf.find(pattern, start, best + 4)
            if 0 <= index < best:
                best = index
        for index in range(max(start, len(buf) - 3), best):  # a type cut short at the end
            tail = bytes(buf[index:])
            if any(p.startswith(tail) for p in _PATTERNS):
                return index
        return best

    def _message(self, kind: int, transaction: int, raw: bytes) -> Optional[Union[Frame, FramingError]]:
        if kind not in _FRAGMENTED:
            value = _U32.unpack_from(raw, 12)[0] if len(raw) >= 16 else 0
            if kind == OPEN:
                return Frame(kind, transaction, max_control_transfer=value)
            return Frame(kind, transaction, status=value)
        total, current = _FRAGMENT.unpack_from(raw, _HEADER.size)
        if total == 1:
            return _decode_payload(kind, transaction, raw[_PREFIX:])
        return self._fragment(kind, transaction, total, current, raw)

    def _fragment(self, kind: int, transaction: int, total: int, current: int,
                  raw: bytes) -> Optional[Union[Frame, FramingError]]:
        partial = self._partial
        if current == 0:
            self._partial = _Partial(kind, transaction, total, 1, bytearray(raw[_PREFIX:]), self._now, len(raw))
            if partial is not None:
                return FramingError("%s %d lost fragments %d to %d of %d (another message started)" % (
                    TYPE_NAMES[partial.type], partial.transaction, partial.received, partial.total - 1, partial.total),
                    bytes(partial.payload), partial.transaction, FRAGMENT_OUT_OF_SEQUENCE)
            return None
        if partial is None or partial.type != kind or partial.transaction != transaction:
            return FramingError("fragment %d of %d of %s %d arrived without its first fragment" % (
                current, total, TYPE_NAMES[kind], transaction), raw, transaction, FRAGMENT_OUT_OF_SEQUENCE)
        if current != partial.received or total != partial.total:
            self._partial = None
            return FramingError("fragment %d of %d of %s %d out of sequence (expected %d of %d)" % (
                current, total, TYPE_NAMES[kind], transaction, partial.received, partial.total),
                bytes(partial.payload) + raw, transaction, FRAGMENT_OUT_OF_SEQUENCE)
        partial.payload += raw[_PREFIX:]
        partial.raw_size += len(raw)
        partial.received += 1
        partial.last_seen = self._now
        if partial.raw_size > self.max_message_size:
            self._partial = None
            return FramingError("fragmented %s %d exceeds %d bytes" % (TYPE_NAMES[kind], transaction, self.max_message_size),
                                bytes(partial.payload), transaction, None)
        if partial.received < partial.total:
            return None
        self._partial = None
        return _decode_payload(kind, transaction, bytes(partial.payload))

    # ---------------------------------------------------------------- time

    def next_deadline(self) -> Optional[float]:
        return self._partial.last_seen + self.fragment_timeout if self._partial else None

    def expire(self, now: float) -> List[FramingError]:
        """Fragments that stopped arriving: the partial message is dropped and reported."""
        self._now = max(self._now, now)
        partial = self._partial
        if partial is None or now < partial.last_seen + self.fragment_timeout:
            return []
        self._partial = None
        return [FramingError("%s %d: fragments stopped after %d of %d" % (
            TYPE_NAMES[partial.type], partial.transaction, partial.received, partial.total),
            bytes(partial.payload), partial.transaction, TIMEOUT_FRAGMENT)]
