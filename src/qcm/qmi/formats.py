"""Field formats of the QMI message catalogue: a small type language and its codec.

A format string says how one TLV value, or one field inside it, is laid out on the wire.
The catalogue (``catalogue/*.json``) is written in it, so the client, the simulator, the
decoder and log redaction all read the same description:

    u8 u16 u32 u64 i8 i16 i32 i64   little-endian integers (u16be, u32be: big-endian)
    bool                            one byte, 0 or 1
    ipv4                            u32 little-endian whose numeric value is the address
                                    (how libqmi lays out WDS addresses: 10.0.0.2 is 02 00 00 0a)
    ipv6                            16 bytes in network order
    str                             text filling the rest of the TLV: no length, no NUL
    str8 / str16                    text with a u8 / u16 length prefix
    str(N)                          text in exactly N bytes, NUL-padded (0xFF padding is read too)
    bytes                           raw bytes filling the rest of the TLV
    {Name: fmt, Other: fmt}         a sequence of named fields
    [u8]fmt  [u16]fmt  [N]fmt       an array with a u8 / u16 count prefix, or exactly N elements
    fmt<Enum>                       an integer named by the catalogue's enum (or flag set) Enum
    fmt<Family[Field]>              the enum is Family.<name of sibling Field's value>
                                    (verbose call-end reasons depend on their type)
    fmt!                            personal data (PIN, password, IMSI, ICCID, IMEI): shown as ###

Decoding is tolerant (unknown enum values stay integers) but every length is checked;
encoding is strict: a value that does not fit its format raises EncodeError.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

__all__ = [
    "DecodeError",
    "EncodeError",
    "FormatSyntaxError",
    "Enum",
    "EnumValue",
    "FlagsValue",
    "Format",
    "IntFormat",
    "BoolFormat",
    "Ipv4Format",
    "Ipv6Format",
    "TextFormat",
    "BytesFormat",
    "StructFormat",
    "ArrayFormat",
    "Field",
    "parse_format",
    "key_of",
]


class DecodeError(ValueError):
    """The bytes do not match the format (too short, a count running past the end, ...)."""


class EncodeError(ValueError):
    """A value given to the encoder does not fit its format."""


class FormatSyntaxError(ValueError):
    """A format string in the catalogue is not valid."""


def key_of(name: str) -> str:
    """The Python key of a catalogue name: "Packet Data Handle" -> "packet_data_handle"."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


# --------------------------------------------------------------------------- enums


class Enum:
    """Names (and, for error codes, meanings) of the values of one catalogue enum."""

    def __init__(self, name: str, values: Mapping[int, str], meanings: Optional[Mapping[int, str]] = None,
                 flags: bool = False) -> None:
        self.name = name
        self.names: Dict[int, str] = dict(values)
        self.meanings: Dict[int, str] = dict(meanings or {})
        self.flags = flags
        self.by_name: Dict[str, int] = {v.lower(): k for k, v in self.names.items()}

    def value_name(self, value: int) -> str:
        if self.flags:
            return "|".join(FlagsValue(value, self).names) or "none"
        return self.names.get(value, "unknown-%d" % value)

    def meaning(self, value: int) -> str:
        return self.meanings.get(value, "")

    def wrap(self, value: int) -> int:
        return FlagsValue(value, self) if self.flags else EnumValue(value, self)

    def lookup(self, name: str) -> int:
        try:
            return self.by_name[name.lower()]
        except KeyError:
            raise EncodeError("%r is not a value of %s (known: %s)"
                              % (name, self.name, ", ".join(sorted(self.names.values())))) from None

    def __repr__(self) -> str:
        return "Enum(%s, %d values)" % (self.name, len(self.names))


class EnumValue(int):
    """An integer that knows its name in the catalogue; compares and hashes as the integer."""

    enum: Enum

    def __new__(cls, value: int, enum: Enum) -> "EnumValue":
        self = super().__new__(cls, value)
        self.enum = enum
        return self

    @property
    def name(self) -> str:
        return self.enum.value_name(int(self))

    @property
    def meaning(self) -> str:
        return self.enum.meaning(int(self))

    def __repr__(self) -> str:
        return "%s(%d)" % (self.name, int(self))

    __str__ = __repr__

    def __reduce__(self) -> Tuple[Any, ...]:  # pickles as a plain int
        return (int, (int(self),))


class FlagsValue(EnumValue):
    """A bit set whose bits are named by a flags enum."""

    @property
    def names(self) -> List[str]:
        value = int(self)
        named = [name for bit, name in sorted(self.enum.names.items()) if bit and value & bit == bit]
        rest = value
        for bit in self.enum.names:
            if bit and value & bit == bit:
                rest &= ~bit
        if rest:
            named.append("0x%x" % rest)
        return named

    @property
    def name(self) -> str:
        return "|".join(self.names) or "none"


EnumResolver = Callable[[str], Enum]


# --------------------------------------------------------------------------- formats


class Format:
    """One wire layout. Subclasses implement decode/encode and describe themselves.

    Formats use __slots__: the catalogue holds thousands of them, and the manager's memory
    budget (25 MB on a 64 MB router) is tight.
    """

    __slots__ = ("personal", "fills_rest")

    def __init__(self) -> None:
        self.personal = False
        self.fills_rest = False  # consumes everything up to the end of the TLV

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        raise NotImplementedError

    def encode(self, value: Any, out: bytearray) -> None:
        raise NotImplementedError

    def spec(self) -> str:
        raise NotImplementedError

    def _suffix(self) -> str:
        return "!" if self.personal else ""

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self.spec())


def _need(data: bytes, pos: int, size: int, end: int, what: str) -> None:
    if pos + size > end:
        raise DecodeError("%s needs %d bytes at offset %d, only %d left" % (what, size, pos, max(0, end - pos)))


_INT_CODES = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i8": "b", "i16": "h", "i32": "i", "i64": "q"}
_STRUCTS = {(name, big): struct.Struct((">" if big else "<") + code)
            for name, code in _INT_CODES.items() for big in (False, True)}


class IntFormat(Format):
    __slots__ = ("name", "big_endian", "enum", "enum_family", "selector", "_struct", "size", "signed", "min", "max")

    def __init__(self, name: str, big_endian: bool = False, enum: Optional[Enum] = None,
                 enum_family: str = "", selector: str = "") -> None:
        super().__init__()
        self.name = name
        self.big_endian = big_endian
        self.enum = enum
        self.enum_family = enum_family  # with selector: enum is "<family>.<selector value name>"
        self.selector = selector
        self._struct = _STRUCTS[(name, big_endian)]
        self.size = self._struct.size
        bits = self.size * 8
        self.signed = name.startswith("i")
        self.min = -(1 << (bits - 1)) if self.signed else 0
        self.max = (1 << (bits - 1)) - 1 if self.signed else (1 << bits) - 1

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        _need(data, pos, self.size, end, self.name)
        (value,) = self._struct.unpack_from(data, pos)
        if self.enum is not None:
            value = self.enum.wrap(value)
        return value, pos + self.size

    def encode(self, value: Any, out: bytearray) -> None:
        if isinstance(value, str):
            if self.enum is None:
                raise EncodeError("%s expects an integer, got %r" % (self.name, value))
            value = self.enum.lookup(value)
        elif isinstance(value, (list, tuple)) and self.enum is not None and self.enum.flags:
            bits = 0
            for item in value:
                bits |= self.enum.lookup(item) if isinstance(item, str) else int(item)
            value = bits
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError("%s expects an integer, got %r" % (self.name, value))
        if not self.min <= value <= self.max:
            raise EncodeError("%d does not fit in %s" % (value, self.name))
        out += self._struct.pack(int(value))

    def spec(self) -> str:
        base = self.name + ("be" if self.big_endian else "")
        if self.selector:
            base += "<%s[%s]>" % (self.enum_family, self.selector)
        elif self.enum is not None:
            base += "<%s>" % self.enum.name
        return base + self._suffix()


class BoolFormat(Format):
    __slots__ = ()

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        _need(data, pos, 1, end, "bool")
        return data[pos] != 0, pos + 1

    def encode(self, value: Any, out: bytearray) -> None:
        if isinstance(value, bool) or value in (0, 1):
            out.append(1 if value else 0)
        else:
            raise EncodeError("bool expects True or False, got %r" % (value,))

    def spec(self) -> str:
        return "bool" + self._suffix()


class Ipv4Format(Format):
    __slots__ = ()

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        _need(data, pos, 4, end, "ipv4")
        (value,) = struct.unpack_from("<I", data, pos)
        return ipaddress.IPv4Address(value), pos + 4

    def encode(self, value: Any, out: bytearray) -> None:
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError as exc:
            raise EncodeError(str(exc)) from None
        out += struct.pack("<I", int(address))

    def spec(self) -> str:
        return "ipv4" + self._suffix()


class Ipv6Format(Format):
    __slots__ = ()

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        _need(data, pos, 16, end, "ipv6")
        return ipaddress.IPv6Address(bytes(data[pos:pos + 16])), pos + 16

    def encode(self, value: Any, out: bytearray) -> None:
        try:
            out += ipaddress.IPv6Address(value).packed
        except ValueError as exc:
            raise EncodeError(str(exc)) from None

    def spec(self) -> str:
        return "ipv6" + self._suffix()


class TextFormat(Format):
    """Text: the rest of the TLV (prefix 0), u8/u16 length prefix (1/2), or fixed size."""

    __slots__ = ("prefix", "fixed")

    def __init__(self, prefix: int = 0, fixed: Optional[int] = None) -> None:
        super().__init__()
        self.prefix = prefix
        self.fixed = fixed
        self.fills_rest = prefix == 0 and fixed is None

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        if self.fixed is not None:
            _need(data, pos, self.fixed, end, "str(%d)" % self.fixed)
            raw = bytes(data[pos:pos + self.fixed]).rstrip(b"\xff\x00")
            return raw.decode("utf-8", "surrogateescape"), pos + self.fixed
        if self.prefix:
            _need(data, pos, self.prefix, end, "string length")
            size = data[pos] if self.prefix == 1 else struct.unpack_from("<H", data, pos)[0]
            pos += self.prefix
            _need(data, pos, size, end, "string")
        else:
            size = end - pos
        return bytes(data[pos:pos + size]).decode("utf-8", "surrogateescape"), pos + size

    def encode(self, value: Any, out: bytearray) -> None:
        if not isinstance(value, str):
            raise EncodeError("text expected, got %r" % (value,))
        raw = value.encode("utf-8", "surrogateescape")
        if self.fixed is not None:
            if len(raw) > self.fixed:
                raise EncodeError("%r is longer than %d bytes" % (value, self.fixed))
            out += raw + b"\0" * (self.fixed - len(raw))
            return
        if self.prefix:
            limit = 0xFF if self.prefix == 1 else 0xFFFF
            if len(raw) > limit:
                raise EncodeError("text of %d bytes does not fit a %d-byte length" % (len(raw), self.prefix))
            out += len(raw).to_bytes(self.prefix, "little")
        out += raw

    def spec(self) -> str:
        if self.fixed is not None:
            base = "str(%d)" % self.fixed
        else:
            base = {0: "str", 1: "str8", 2: "str16"}[self.prefix]
        return base + self._suffix()


class BytesFormat(Format):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.fills_rest = True

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        return bytes(data[pos:end]), end

    def encode(self, value: Any, out: bytearray) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise EncodeError("bytes expected, got %r" % (value,))
        out += value

    def spec(self) -> str:
        return "bytes" + self._suffix()


class Field(NamedTuple):
    name: str
    key: str
    format: Format


class StructFormat(Format):
    __slots__ = ("fields", "_resolver")

    def __init__(self, fields: Sequence[Field]) -> None:
        super().__init__()
        self.fields = tuple(fields)
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise FormatSyntaxError("duplicate field names in %s" % self.spec())
        for f in self.fields[:-1]:
            if f.format.fills_rest:
                raise FormatSyntaxError("%s fills the rest of the TLV and must be the last field" % f.name)
        self.fills_rest = bool(self.fields) and self.fields[-1].format.fills_rest
        self._resolver: Optional[EnumResolver] = None

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        values: Dict[str, Any] = {}
        for f in self.fields:
            value, pos = f.format.decode(data, pos, end)
            fmt = f.format
            if isinstance(fmt, IntFormat) and fmt.selector and self._resolver is not None:
                selector = values.get(key_of(fmt.selector))
                chosen = getattr(selector, "name", None)
                if chosen is not None:
                    try:
                        value = self._resolver("%s.%s" % (fmt.enum_family, chosen)).wrap(value)
                    except KeyError:
                        pass  # no names for this family member: keep the number
            values[f.key] = value
        return values, pos

    def encode(self, value: Any, out: bytearray) -> None:
        if not isinstance(value, Mapping):
            raise EncodeError("a mapping with %s expected, got %r" % ([f.key for f in self.fields], value))
        unknown = set(value) - {f.key for f in self.fields}
        if unknown:
            raise EncodeError("unknown fields %s (expected %s)" % (sorted(unknown), [f.key for f in self.fields]))
        for f in self.fields:
            if f.key not in value:
                raise EncodeError("field %r missing" % f.key)
            f.format.encode(value[f.key], out)

    def spec(self) -> str:
        return "{%s}" % ", ".join("%s: %s" % (f.name, f.format.spec()) for f in self.fields) + self._suffix()


class ArrayFormat(Format):
    __slots__ = ("element", "prefix", "fixed")

    def __init__(self, element: Format, prefix: int = 1, fixed: Optional[int] = None) -> None:
        super().__init__()
        if element.fills_rest:
            raise FormatSyntaxError("array elements cannot fill the rest of the TLV")
        self.element = element
        self.prefix = 0 if fixed is not None else prefix
        self.fixed = fixed

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        if self.fixed is not None:
            count = self.fixed
        else:
            _need(data, pos, self.prefix, end, "array count")
            count = int.from_bytes(bytes(data[pos:pos + self.prefix]), "little")
            pos += self.prefix
        items = []
        for _ in range(count):
            item, pos = self.element.decode(data, pos, end)
            items.append(item)
        return items, pos

    def encode(self, value: Any, out: bytearray) -> None:
        if not isinstance(value, (list, tuple)):
            raise EncodeError("a list expected, got %r" % (value,))
        if self.fixed is not None:
            if len(value) != self.fixed:
                raise EncodeError("exactly %d elements expected, got %d" % (self.fixed, len(value)))
        else:
            if len(value) >= 1 << (8 * self.prefix):
                raise EncodeError("%d elements do not fit a %d-byte count" % (len(value), self.prefix))
            out += len(value).to_bytes(self.prefix, "little")
        for item in value:
            self.element.encode(item, out)

    def spec(self) -> str:
        count = str(self.fixed) if self.fixed is not None else {1: "u8", 2: "u16", 4: "u32"}[self.prefix]
        return "[%s]%s" % (count, self.element.spec()) + self._suffix()


# --------------------------------------------------------------------------- parser

_PUNCTUATION = set("{}[]<>(),:!")


def _tokens(text: str) -> List[str]:
    """Punctuation marks are tokens; everything between them (names with spaces) is one word."""
    tokens: List[str] = []
    word = ""
    for char in text:
        if char in _PUNCTUATION:
            if word.strip():
                tokens.append(word.strip())
            tokens.append(char)
            word = ""
        else:
            word += char
    if word.strip():
        tokens.append(word.strip())
    return tokens


class _Parser:
    def __init__(self, text: str, enums: EnumResolver) -> None:
        self.text = text
        self.enums = enums
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self, expected: Optional[str] = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise FormatSyntaxError("format %r: expected %r, found %r" % (self.text, expected or "more", token))
        self.i += 1
        return token

    def parse(self) -> Format:
        fmt = self.format()
        if self.peek():
            raise FormatSyntaxError("format %r: unexpected %r" % (self.text, self.peek()))
        return fmt

    def format(self) -> Format:
        token = self.peek()
        if token == "{":
            fmt: Format = self.struct()
        elif token == "[":
            self.take("[")
            count = self.take()
            self.take("]")
            element = self.format()
            if count.isdigit():
                fmt = ArrayFormat(element, fixed=int(count))
            elif count in ("u8", "u16", "u32"):
                fmt = ArrayFormat(element, prefix={"u8": 1, "u16": 2, "u32": 4}[count])
            else:
                raise FormatSyntaxError("format %r: bad array count %r" % (self.text, count))
        else:
            fmt = self.scalar()
        if self.peek() == "!":
            self.take("!")
            fmt.personal = True
        return fmt

    def struct(self) -> Format:
        self.take("{")
        fields: List[Field] = []
        while True:
            name = self.take()
            self.take(":")
            fields.append(Field(name, key_of(name), self.format()))
            if self.peek() == ",":
                self.take(",")
                continue
            self.take("}")
            break
        fmt = StructFormat(fields)
        fmt._resolver = self.enums
        return fmt

    def scalar(self) -> Format:
        word = self.take()
        if word == "str" and self.peek() == "(":
            self.take("(")
            size = self.take()
            self.take(")")
            return TextFormat(fixed=int(size))
        simple: Dict[str, Callable[[], Format]] = {
            "bool": BoolFormat, "ipv4": Ipv4Format, "ipv6": Ipv6Format, "bytes": BytesFormat,
            "str": TextFormat, "str8": lambda: TextFormat(prefix=1), "str16": lambda: TextFormat(prefix=2),
        }
        if word in simple:
            return simple[word]()
        big_endian = word.endswith("be")
        base = word[:-2] if big_endian else word
        if base not in _INT_CODES:
            raise FormatSyntaxError("format %r: unknown type %r" % (self.text, word))
        if self.peek() != "<":
            return IntFormat(base, big_endian)
        self.take("<")
        name = self.take()
        selector = ""
        if self.peek() == "[":
            self.take("[")
            selector = self.take()
            self.take("]")
        self.take(">")
        if selector:
            return IntFormat(base, big_endian, enum_family=name, selector=selector)
        try:
            enum = self.enums(name)
        except KeyError:
            raise FormatSyntaxError("format %r: unknown enum %r" % (self.text, name)) from None
        return IntFormat(base, big_endian, enum=enum)


def parse_format(text: str, enums: Union[EnumResolver, Mapping[str, Enum], None] = None) -> Format:
    """Parse a format string; enum names are resolved through ``enums``."""
    if enums is None:
        enums = {}
    resolver: EnumResolver = enums.__getitem__ if isinstance(enums, Mapping) else enums
    return _Parser(text, resolver).parse()
