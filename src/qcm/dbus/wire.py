"""The D-Bus wire protocol, as much as qcm needs, without I/O: the EXTERNAL authentication lines,
messages (header and body) marshalled and unmarshalled in the little-endian format, and a parser
that takes bytes in any split and gives whole messages.

qcm speaks D-Bus for one thing: asking ModemManager to let go of a module (``InhibitDevice``),
which lasts as long as the asking connection stays on the bus. A command-line tool (busctl,
gdbus) would drop the connection, and with it the inhibition, when it exits; hence this small
client instead of a library. Types: every basic type, arrays, structs, dict entries and
variants (``Variant``: a signature and a value). Incoming data is bounded: message and array
sizes, nesting, signature length (the specification's limits or below).

Values in Python: y n q i u x t h -> int, b -> bool, d -> float, s o g -> str, a -> list, a{..}
-> dict, (..) -> tuple, v -> Variant.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["Message", "Variant", "WireError", "MessageParser", "encode", "marshal", "unmarshal", "split_signature",
           "auth_begin", "auth_reply", "AuthRejected", "METHOD_CALL", "METHOD_RETURN", "ERROR", "SIGNAL",
           "NO_REPLY_EXPECTED", "MAX_MESSAGE"]

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED = 0x1
MAX_MESSAGE = 1 << 20       # qcm's messages and ModemManager's answers are a few KiB; the bus allows 128 MiB
MAX_ARRAY = 1 << 20
MAX_DEPTH = 32              # the specification's limit for arrays, and for structs
PROTOCOL_VERSION = 1

_FIXED = {"y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4), "u": ("I", 4),
          "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4)}
_ALIGN = dict({k: v[1] for k, v in _FIXED.items()}, s=4, o=4, g=1, a=4, v=1, **{"(": 8, "{": 8})
# Header fields: code -> (name, signature)
_FIELDS = {1: ("path", "o"), 2: ("interface", "s"), 3: ("member", "s"), 4: ("error_name", "s"),
           5: ("reply_serial", "u"), 6: ("destination", "s"), 7: ("sender", "s"), 8: ("signature", "g"),
           9: ("unix_fds", "u")}
_CODES = {name: (code, sig) for code, (name, sig) in _FIELDS.items()}


class WireError(ValueError):
    """Bytes that are not a D-Bus message (or one past qcm's limits)."""


class AuthRejected(WireError):
    """The bus refused our credentials."""


@dataclass(frozen=True)
class Variant:
    signature: str
    value: Any


@dataclass
class Message:
    type: int
    serial: int = 0
    path: Optional[str] = None
    interface: Optional[str] = None
    member: Optional[str] = None
    error_name: Optional[str] = None
    reply_serial: Optional[int] = None
    destination: Optional[str] = None
    sender: Optional[str] = None
    signature: str = ""
    body: Tuple[Any, ...] = ()
    flags: int = 0
    unix_fds: Optional[int] = None
    extra: Dict[int, Any] = field(default_factory=dict)   # header fields qcm does not know (kept, ignored)

    def describe(self) -> str:
        kind = {METHOD_CALL: "call", METHOD_RETURN: "return", ERROR: "error", SIGNAL: "signal"}.get(self.type, "?")
        return "%s %s %s.%s%s" % (kind, self.path or "", self.interface or "", self.member or self.error_name or "",
                                  " (reply to %s)" % self.reply_serial if self.reply_serial else "")


# ---------------------------------------------------------------------- signatures

def split_signature(signature: str) -> List[str]:
    """The complete types of a signature, in order; WireError if it is not one."""
    if len(signature) > 255:
        raise WireError("signature longer than 255")
    types, at = [], 0
    while at < len(signature):
        end = _one_type(signature, at, 0, 0)
        types.append(signature[at:end])
        at = end
    return types


def _one_type(signature: str, at: int, arrays: int, structs: int) -> int:
    """The end of the complete type starting at ``at``."""
    if at >= len(signature):
        raise WireError("signature %r ends inside a type" % signature)
    char = signature[at]
    if char in _FIXED or char in "sogv":
        return at + 1
    if char == "a":
        if arrays >= MAX_DEPTH:
            raise WireError("arrays nested too deep")
        if signature[at + 1:at + 2] == "{":
            key = at + 2
            if key >= len(signature) or signature[key] not in _FIXED and signature[key] not in "sog":
                raise WireError("a dict entry's key must be a basic type in %r" % signature)
            value_end = _one_type(signature, key + 1, arrays + 1, structs + 1)
            if signature[value_end:value_end + 1] != "}":
                raise WireError("a dict entry holds two types in %r" % signature)
            return value_end + 1
        return _one_type(signature, at + 1, arrays + 1, structs)
    if char == "(":
        if structs >= MAX_DEPTH:
            raise WireError("structs nested too deep")
        at += 1
        if signature[at:at + 1] == ")":
            raise WireError("an empty struct in %r" % signature)
        while signature[at:at + 1] != ")":
            at = _one_type(signature, at, arrays, structs + 1)
        return at + 1
    raise WireError("unknown type %r in signature %r" % (char, signature))


# ---------------------------------------------------------------------- marshalling

class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def pad(self, alignment: int) -> None:
        self.data += b"\0" * (-len(self.data) % alignment)

    def value(self, kind: str, value: Any) -> None:
        char = kind[0]
        self.pad(_ALIGN[char])
        if char in _FIXED:
            code, _ = _FIXED[char]
            if char == "b":
                value = 1 if value else 0
            try:
                self.data += struct.pack("<" + code, value)
            except struct.error as exc:
                raise WireError("%r is not a D-Bus %s: %s" % (value, char, exc)) from None
        elif char in "so":
            raw = str(value).encode("utf-8")
            self.data += struct.pack("<I", len(raw)) + raw + b"\0"
        elif char == "g":
            raw = str(value).encode("ascii")
            if len(raw) > 255:
                raise WireError("signature longer than 255")
            self.data += bytes([len(raw)]) + raw + b"\0"
        elif char == "v":
            if not isinstance(value, Variant):
                raise WireError("a variant needs Variant(signature, value), got %r" % (value,))
            split_signature(value.signature)
            self.value("g", value.signature)
            self.value(value.signature, value.value)
        elif char == "a":
            element = kind[1:]
            at = len(self.data)
            self.data += b"\0\0\0\0"
            self.pad(_ALIGN[element[0]])
            start = len(self.data)
            items = value.items() if element[0] == "{" else value
            for item in items:
                self.value(element, item)
            struct.pack_into("<I", self.data, at, len(self.data) - start)
        elif char in "({":
            inner = split_signature(kind[1:-1])
            values = tuple(value)
            if len(values) != len(inner):
                raise WireError("%s needs %d values, got %d" % (kind, len(inner), len(values)))
            for sub, item in zip(inner, values):
                self.value(sub, item)
        else:
            raise WireError("unknown type %r" % char)


def marshal(signature: str, values: Tuple[Any, ...], offset: int = 0) -> bytes:
    """The body for ``values`` of ``signature`` (aligned as if it started at ``offset``, a multiple of 8)."""
    writer = _Writer()
    writer.data += b"\0" * (offset % 8)
    types = split_signature(signature)
    if len(types) != len(values):
        raise WireError("signature %r takes %d values, got %d" % (signature, len(types), len(values)))
    for kind, value in zip(types, values):
        writer.value(kind, value)
    return bytes(writer.data[offset % 8:])


class _Reader:
    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data = data
        self.at = at

    def align(self, alignment: int) -> None:
        end = self.at + (-self.at % alignment)
        if end > len(self.data):
            raise WireError("truncated (padding)")
        if any(self.data[self.at:end]):
            raise WireError("padding that is not zero")
        self.at = end

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise WireError("truncated: %d bytes wanted at %d of %d" % (size, self.at, len(self.data)))
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def string(self, length: int) -> str:
        raw = self.take(length)
        if self.take(1) != b"\0":
            raise WireError("a string without its NUL")
        if b"\0" in raw:
            raise WireError("a NUL inside a string")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("a string that is not UTF-8") from None

    def value(self, kind: str, depth: int = 0) -> Any:
        if depth > 2 * MAX_DEPTH:
            raise WireError("nested too deep")
        char = kind[0]
        self.align(_ALIGN[char])
        if char in _FIXED:
            code, size = _FIXED[char]
            (value,) = struct.unpack("<" + code, self.take(size))
            if char == "b":
                if value > 1:
                    raise WireError("a boolean of %d" % value)
                return bool(value)
            return value
        if char in "so":
            (length,) = struct.unpack("<I", self.take(4))
            return self.string(length)
        if char == "g":
            return self.string(self.take(1)[0])
        if char == "v":
            signature = self.value("g", depth)
            types = split_signature(signature)
            if len(types) != 1:
                raise WireError("a variant holds %d types" % len(types))
            return Variant(signature, self.value(signature, depth + 1))
        if char == "a":
            (length,) = struct.unpack("<I", self.take(4))
            if length > MAX_ARRAY:
                raise WireError("an array of %d bytes" % length)
            element = kind[1:]
            self.align(_ALIGN[element[0]])
            end = self.at + length
            if end > len(self.data):
                raise WireError("truncated array")
            items = []
            while self.at < end:
                items.append(self.value(element, depth + 1))
            if self.at != end:
                raise WireError("an array's elements overrun its length")
            if element[0] == "{":
                return dict(items)
            return items
        if char in "({":
            return tuple(self.value(sub, depth + 1) for sub in split_signature(kind[1:-1]))
        raise WireError("unknown type %r" % char)


def unmarshal(signature: str, data: bytes, offset: int = 0) -> Tuple[Any, ...]:
    """The values of ``signature`` in ``data`` (which starts at ``offset`` of its message, for alignment)."""
    reader = _Reader(b"\0" * (offset % 8) + data, offset % 8)
    values = tuple(reader.value(kind) for kind in split_signature(signature))
    if reader.at != len(reader.data):
        raise WireError("%d bytes after the body" % (len(reader.data) - reader.at))
    return values


# ---------------------------------------------------------------------- messages

def encode(message: Message) -> bytes:
    fields: List[Tuple[int, Variant]] = []
    for name, (code, sig) in _CODES.items():
        value = getattr(message, name, None) if name != "signature" else (message.signature or None)
        if value is not None:
            fields.append((code, Variant(sig, value)))
    body = marshal(message.signature, message.body) if message.signature else b""
    header = marshal("yyyyuua(yv)", (ord("l"), message.type, message.flags, PROTOCOL_VERSION, len(body),
                                      message.serial, fields))
    header += b"\0" * (-len(header) % 8)
    if len(header) + len(body) > MAX_MESSAGE:
        raise WireError("message of %d bytes" % (len(header) + len(body)))
    return header + body


def _decode(data: bytes) -> Message:
    if data[:1] != b"l":
        raise WireError("big-endian messages are not spoken here")  # the bus sends ours in our byte order
    header_end = 16 + _fields_length(data)
    _, kind, flags, version, body_length, serial, fields = unmarshal("yyyyuua(yv)", data[:header_end])
    if version != PROTOCOL_VERSION or kind not in (METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL) or serial == 0:
        raise WireError("not a D-Bus message (version %d, type %d, serial %d)" % (version, kind, serial))
    message = Message(kind, serial, flags=flags)
    for code, variant in fields:
        known = _FIELDS.get(code)
        if known is None:
            message.extra[code] = variant.value
        elif variant.signature != known[1]:
            raise WireError("header field %d of type %r" % (code, variant.signature))
        else:
            setattr(message, known[0], variant.value)
    if any(data[header_end:header_end + (-header_end % 8)]):
        raise WireError("padding that is not zero")
    header_end += -header_end % 8
    body = data[header_end:header_end + body_length]
    if len(body) != body_length:
        raise WireError("truncated body")
    if message.signature:
        message.body = unmarshal(message.signature, body, header_end)
    elif body_length:
        raise WireError("a body without a signature")
    return message


def _fields_length(data: bytes) -> int:
    return struct.unpack_from("<I", data, 12)[0]


class MessageParser:
    """Bytes in (any split), whole messages out; a message that does not parse is an error (a stream that
    lost its framing cannot be resynchronised: the connection must be dropped)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> List[Message]:
        self.buffer += data
        messages = []
        while len(self.buffer) >= 16:
            if self.buffer[0:1] != b"l":
                raise WireError("a message in another byte order, or garbage: %r" % bytes(self.buffer[:4]))
            body_length, _, fields_length = struct.unpack_from("<III", self.buffer, 4)
            header = 16 + fields_length
            total = header + (-header % 8) + body_length
            if fields_length > MAX_MESSAGE or total > MAX_MESSAGE:
                raise WireError("a message of %d bytes" % total)
            if len(self.buffer) < total:
                break
            raw = bytes(self.buffer[:total])
            del self.buffer[:total]
            messages.append(_decode(raw))
        return messages


# ---------------------------------------------------------------------- authentication

def auth_begin(uid: int) -> bytes:
    """The client's first bytes: the credentials byte and AUTH EXTERNAL with our uid (the kernel vouches
    for it on a Unix socket)."""
    return b"\0AUTH EXTERNAL " + str(uid).encode().hex().encode() + b"\r\n"


def auth_reply(line: bytes) -> bytes:
    """What to send after the server's line: BEGIN after OK; AuthRejected otherwise."""
    text = line.strip()
    if text.startswith(b"OK "):
        return b"BEGIN\r\n"
    raise AuthRejected("the bus refused us: %s" % text[:80].decode("ascii", "replace"))
