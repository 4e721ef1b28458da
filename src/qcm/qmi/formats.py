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
    "Decoder",
    "Encoder",
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
        self._wrapper: Optional[Callable[[int], int]] = None

    def value_name(self, value: int) -> str:
        if self.flags:
            return "|".join(FlagsValue(value, self).names) or "none"
        return self.names.get(value, "unknown-%d" % value)

    def meaning(self, value: int) -> str:
        return self.meanings.get(value, "")

    def wrap(self, value: int) -> int:
        """The value as an EnumValue (or FlagsValue) that knows its name."""
        return self.wrapper()(value)

    def wrapper(self) -> Callable[[int], int]:
        """wrap() as a plain dict lookup once a value has been seen (what the decoders call)."""
        if self._wrapper is None:
            self._wrapper = _Kept(self._wrap).__getitem__
        return self._wrapper

    def _wrap(self, value: int) -> int:
        return FlagsValue(value, self) if self.flags else EnumValue(value, self)

    def lookup(self, name: str) -> int:
        try:
            return self.by_name[name.lower()]
        except KeyError:
            raise EncodeError("%r is not a value of %s (known: %s)"
                              % (name, self.name, ", ".join(sorted(self.names.values())))) from None

    def __repr__(self) -> str:
        return "Enum(%s, %d values)" % (self.name, len(self.names))


class _Kept(Dict[Any, Any]):
    """Immutable values (enum values, addresses) made on first sight and kept, so that one
    object serves every frame: a modem sends the same few again and again, while a stream of
    random ones (a broken or hostile device) cannot grow it past its bound."""

    def __init__(self, make: Callable[[Any], Any], bound: int = 256) -> None:
        super().__init__()
        self.make = make
        self.bound = bound

    def __missing__(self, raw: Any) -> Any:
        made = self.make(raw)
        if len(self) < self.bound:
            self[raw] = made
        return made


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

# A decoder reads one value: (data, position, end of the TLV) -> (value, position after it).
# An encoder appends one value to the output. Each format makes its own once, on first use.
Decoder = Callable[[bytes, int, int], Tuple[Any, int]]
Encoder = Callable[[Any, bytearray], None]
# One step of a struct's encoder: writes one or more fields of the dict.
_Writer = Callable[[Dict[str, Any], bytearray], None]
# A number of fixed size: its struct code with byte order ("<H"), and what makes the value of it.
Scalar = Tuple[str, Optional[Callable[[int], Any]]]
# One step of a struct's decoder: reads one or more fields into the dict, returns the new position.
_Step = Callable[[bytes, int, int, Dict[str, Any]], int]


class Format:
    """One wire layout. Subclasses say how to decode and encode it, and describe themselves.

    The codec is the hot path of every frame, so a format turns its description into plain
    functions once (``decoder()``, ``encoder()``) instead of interpreting it on every value:
    a struct of integers becomes one struct.Struct call, an array of bytes one slice.

    Formats use __slots__: the catalogue holds thousands of them, and the manager's memory
    budget (25 MB on a 64 MB router) is tight.
    """

    __slots__ = ("personal", "fills_rest", "_decoder", "_encoder")

    def __init__(self) -> None:
        self.personal = False
        self.fills_rest = False  # consumes everything up to the end of the TLV
        self._decoder: Optional[Decoder] = None
        self._encoder: Optional[Encoder] = None

    def decode(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        return self.decoder()(data, pos, end)

    def encode(self, value: Any, out: bytearray) -> None:
        self.encoder()(value, out)

    def decoder(self) -> Decoder:
        if self._decoder is None:
            self._decoder = self._make_decoder()
        return self._decoder

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._make_encoder()
        return self._encoder

    def _make_decoder(self) -> Decoder:
        return self._decode_value

    def _make_encoder(self) -> Encoder:
        return self._encode_value

    def _decode_value(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        raise NotImplementedError

    def _encode_value(self, value: Any, out: bytearray) -> None:
        raise NotImplementedError

    def scalar(self) -> Optional[Scalar]:
        """(struct code with its byte order, conversion of the number read) when this format is
        one fixed-size number on the wire, so that neighbours can be read in one call."""
        return None

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

    def _make_decoder(self) -> Decoder:
        unpack_from, size, name = self._struct.unpack_from, self.size, self.name

        def decode_int(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
            if pos + size > end:
                _need(data, pos, size, end, name)
            return unpack_from(data, pos)[0], pos + size
        if self.enum is None:
            return decode_int
        wrap = self.enum.wrapper()

        def decode_enum(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
            if pos + size > end:
                _need(data, pos, size, end, name)
            return wrap(unpack_from(data, pos)[0]), pos + size
        return decode_enum

    def _make_encoder(self) -> Encoder:
        pack, low, high, checked = self._struct.pack, self.min, self.max, self._encode_value
        names = self.enum.by_name if self.enum is not None else {}

        def encode_int(value: Any, out: bytearray) -> None:
            if type(value) is str:
                value = names.get(value, value)  # a value's name as the catalogue spells it
            if type(value) is int and low <= value <= high:
                out += pack(value)
            else:  # names in other spellings, flag lists, enum values, and everything that is an error
                checked(value, out)
        return encode_int

    def _encode_value(self, value: Any, out: bytearray) -> None:
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

    def scalar(self) -> Optional[Scalar]:
        order = ">" if self.big_endian else "<"
        return order + _INT_CODES[self.name], (self.enum.wrapper() if self.enum is not None else None)

    def spec(self) -> str:
        base = self.name + ("be" if self.big_endian else "")
        if self.selector:
            base += "<%s[%s]>" % (self.enum_family, self.selector)
        elif self.enum is not None:
            base += "<%s>" % self.enum.name
        return base + self._suffix()


class BoolFormat(Format):
    __slots__ = ()

    def _decode_value(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        if pos + 1 > end:
            _need(data, pos, 1, end, "bool")
        return data[pos] != 0, pos + 1

    def _encode_value(self, value: Any, out: bytearray) -> None:
        if isinstance(value, bool) or value in (0, 1):
            out.append(1 if value else 0)
        else:
            raise EncodeError("bool expects True or False, got %r" % (value,))

    def scalar(self) -> Optional[Scalar]:
        return "<B", bool

    def spec(self) -> str:
        return "bool" + self._suffix()


def _pack_ipv4(value: Any) -> bytes:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError as exc:
        raise EncodeError(str(exc)) from None
    return _IPV4.pack(int(address))


def _pack_ipv6(value: Any) -> bytes:
    try:
        return ipaddress.IPv6Address(value).packed
    except ValueError as exc:
        raise EncodeError(str(exc)) from None


_IPV4 = struct.Struct("<I")


_ipv4_address = _Kept(ipaddress.IPv4Address).__getitem__  # decoding
_ipv6_address = _Kept(ipaddress.IPv6Address).__getitem__
_ipv4_packed = _Kept(_pack_ipv4).__getitem__  # encoding addresses given as text
_ipv6_packed = _Kept(_pack_ipv6).__getitem__


class Ipv4Format(Format):
    __slots__ = ()

    def _decode_value(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        if pos + 4 > end:
            _need(data, pos, 4, end, "ipv4")
        return _ipv4_address(_IPV4.unpack_from(data, pos)[0]), pos + 4

    def _encode_value(self, value: Any, out: bytearray) -> None:
        out += _ipv4_packed(value) if type(value) is str else _pack_ipv4(value)

    def scalar(self) -> Optional[Scalar]:
        return "<I", ipaddress.IPv4Address

    def spec(self) -> str:
        return "ipv4" + self._suffix()


class Ipv6Format(Format):
    __slots__ = ()

    def _decode_value(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        if pos + 16 > end:
            _need(data, pos, 16, end, "ipv6")
        return _ipv6_address(bytes(data[pos:pos + 16])), pos + 16

    def _encode_value(self, value: Any, out: bytearray) -> None:
        out += _ipv6_packed(value) if type(value) is str else _pack_ipv6(value)

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

    def _make_decoder(self) -> Decoder:
        fixed, prefix = self.fixed, self.prefix
        if fixed is not None:
            what = "str(%d)" % fixed

            def decode_fixed(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
                if pos + fixed > end:
                    _need(data, pos, fixed, end, what)
                return str(bytes(data[pos:pos + fixed]).rstrip(b"\xff\x00"), "utf-8", "surrogateescape"), pos + fixed
            return decode_fixed
        if prefix:
            length = _U8 if prefix == 1 else _U16

            def decode_counted(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
                if pos + prefix > end:
                    _need(data, pos, prefix, end, "string length")
                size = length.unpack_from(data, pos)[0]
                pos += prefix
                if pos + size > end:
                    _need(data, pos, size, end, "string")
                return str(data[pos:pos + size], "utf-8", "surrogateescape"), pos + size
            return decode_counted

        def decode_rest(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
            return str(data[pos:end], "utf-8", "surrogateescape"), end
        return decode_rest

    def _encode_value(self, value: Any, out: bytearray) -> None:
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


_ONLY_INT = frozenset((int,))
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class BytesFormat(Format):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.fills_rest = True

    def _decode_value(self, data: bytes, pos: int, end: int) -> Tuple[Any, int]:
        return bytes(data[pos:end]), end

    def _encode_value(self, value: Any, out: bytearray) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise EncodeError("bytes expected, got %r" % (value,))
        out += value

    def spec(self) -> str:
        return "bytes" + self._suffix()


class Field(NamedTuple):
    name: str
    key: str
    format: Format


def _read_fields(run: Sequence[Tuple[Field, Scalar]]) -> _Step:
    """A step reading neighbouring fixed-size numbers (one byte order) with one struct call."""
    order = run[0][1][0][0]
    layout = struct.Struct(order + "".join(code[1:] for _, (code, _) in run))
    unpack_from, size = layout.unpack_from, layout.size
    keys = tuple(f.key for f, _ in run)
    conversions = tuple((f.key, convert) for f, (_, convert) in run if convert is not None)
    one_by_one = tuple(f.format.decoder() for f, _ in run)

    def read_fields(data: bytes, pos: int, end: int, values: Dict[str, Any]) -> int:
        if pos + size > end:  # too short: read field by field for an error naming the one missing
            for decode in one_by_one:
                pos = decode(data, pos, end)[1]
        values.update(zip(keys, unpack_from(data, pos)))
        for key, convert in conversions:
            values[key] = convert(values[key])
        return pos + size
    return read_fields


def _read_field(key: str, decode: Decoder) -> _Step:
    def read_field(data: bytes, pos: int, end: int, values: Dict[str, Any]) -> int:
        values[key], pos = decode(data, pos, end)
        return pos
    return read_field


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

    def _steps(self) -> List[_Step]:
        """Fields in order; runs of fixed-size numbers in one byte order are read together."""
        steps: List[_Step] = []
        run: List[Tuple[Field, Scalar]] = []
        for f in self.fields:
            scalar = f.format.scalar()
            if run and (scalar is None or scalar[0][0] != run[0][1][0][0]):
                steps.append(_read_fields(run))
                run = []
            if scalar is not None:
                run.append((f, scalar))
            else:
                steps.append(_read_field(f.key, f.format.decoder()))
        if run:
            steps.append(_read_fields(run))
        return steps

    def _selections(self) -> List[Callable[[Dict[str, Any]], None]]:
        """Fields whose enum is chosen by an earlier sibling's value (``u8<Family[Type]>``)."""
        chosen: List[Callable[[Dict[str, Any]], None]] = []
        resolver = self._resolver
        earlier = set()
        for f in self.fields:
            fmt = f.format
            if isinstance(fmt, IntFormat) and fmt.selector and resolver is not None \
                    and key_of(fmt.selector) in earlier:
                chosen.append(_select_enum(f.key, key_of(fmt.selector), fmt.enum_family, resolver))
            earlier.add(f.key)
        return chosen

    def _make_decoder(self) -> Decoder:
        steps = tuple(self._steps())
        selections = tuple(self._selections())
        if len(steps) == 1 and not selections:  # one step (often: only numbers): no loop
            step = steps[0]

            def decode_simple_struct(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
                values: Dict[str, Any] = {}
                return values, step(data, pos, end, values)
            return decode_simple_struct

        def decode_struct(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
            values: Dict[str, Any] = {}
            for step in steps:
                pos = step(data, pos, end, values)
            for select in selections:
                select(values)
            return values, pos
        return decode_struct

    def _make_encoder(self) -> Encoder:
        writers = tuple(self._writers())
        keys = frozenset(f.key for f in self.fields)
        checked = self._encode_value

        def encode_struct(value: Any, out: bytearray) -> None:
            if type(value) is not dict or len(value) != len(keys) or not keys.issuperset(value):
                checked(value, out)  # other mappings, and the errors
                return
            for write in writers:
                write(value, out)
        return encode_struct

    def _writers(self) -> List[_Writer]:
        """Fields in order; runs of integers in one byte order are written together."""
        writers: List[_Writer] = []
        run: List[Tuple[Field, IntFormat]] = []
        for f in self.fields:
            fmt = f.format
            if run and (not isinstance(fmt, IntFormat) or fmt.big_endian != run[0][1].big_endian):
                writers.append(_write_ints(run))
                run = []
            if isinstance(fmt, IntFormat):
                run.append((f, fmt))
            else:
                writers.append(_write_field(f.key, fmt.encoder()))
        if run:
            writers.append(_write_ints(run))
        return writers

    def _encode_value(self, value: Any, out: bytearray) -> None:
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


def _write_ints(run: Sequence[Tuple[Field, IntFormat]]) -> _Writer:
    """Neighbouring integers (numbers, or names as the catalogue spells them) packed with one
    struct call; anything else (flag lists, enum values, other spellings, values out of range)
    goes field by field, which also gives errors that name the field."""
    pack = struct.Struct((">" if run[0][1].big_endian else "<") + "".join(_INT_CODES[i.name] for _, i in run)).pack
    fields = tuple((f.key, i.enum.by_name if i.enum is not None else {}) for f, i in run)
    one_by_one = tuple((f.key, i.encoder()) for f, i in run)

    def write_ints(value: Dict[str, Any], out: bytearray) -> None:
        numbers = []
        for key, names in fields:
            number = value[key]
            if type(number) is not int:
                number = names.get(number) if type(number) is str else None
                if number is None:
                    break
            numbers.append(number)
        else:
            try:
                out += pack(*numbers)
                return
            except struct.error:
                pass
        for key, encode in one_by_one:
            encode(value[key], out)
    return write_ints


def _write_field(key: str, encode: Encoder) -> _Writer:
    def write_field(value: Dict[str, Any], out: bytearray) -> None:
        encode(value[key], out)
    return write_field


def _select_enum(key: str, selector: str, family: str, resolver: EnumResolver) -> Callable[[Dict[str, Any]], None]:
    def select(values: Dict[str, Any]) -> None:
        chosen = getattr(values.get(selector), "name", None)
        if chosen is not None:
            try:
                values[key] = resolver("%s.%s" % (family, chosen)).wrap(values[key])
            except KeyError:
                pass  # no names for this family member: keep the number
    return select


class ArrayFormat(Format):
    __slots__ = ("element", "prefix", "fixed")

    def __init__(self, element: Format, prefix: int = 1, fixed: Optional[int] = None) -> None:
        super().__init__()
        if element.fills_rest:
            raise FormatSyntaxError("array elements cannot fill the rest of the TLV")
        self.element = element
        self.prefix = 0 if fixed is not None else prefix
        self.fixed = fixed

    def _make_decoder(self) -> Decoder:
        fixed, prefix = self.fixed, self.prefix
        count_struct = {1: _U8, 2: _U16, 4: _U32}.get(prefix, _U8)
        element = self.element.decoder()
        scalar = self.element.scalar()
        item = struct.Struct(scalar[0]) if scalar is not None else None
        convert = scalar[1] if scalar is not None else None
        as_bytes = scalar is not None and scalar[0][1:] == "B" and convert is None

        def decode_array(data: bytes, pos: int, end: int) -> Tuple[Any, int]:
            if fixed is not None:
                count = fixed
            else:
                _need(data, pos, prefix, end, "array count")
                count = count_struct.unpack_from(data, pos)[0]
                pos += prefix
            if item is not None and pos + count * item.size <= end:  # numbers: all in one go
                stop = pos + count * item.size
                if as_bytes:
                    return list(data[pos:stop]), stop
                numbers = [number for (number,) in item.iter_unpack(data[pos:stop])]
                return (numbers if convert is None else list(map(convert, numbers))), stop
            items = []  # anything else, and numbers running past the end (the error names where)
            for _ in range(count):
                value, pos = element(data, pos, end)
                items.append(value)
            return items, pos
        return decode_array

    def _make_encoder(self) -> Encoder:
        fixed, prefix, element = self.fixed, self.prefix, self.element.encoder()
        ints = self.element if isinstance(self.element, IntFormat) else None
        code = (">" if ints.big_endian else "<") + "%d" + _INT_CODES[ints.name] if ints is not None else ""

        def encode_array(value: Any, out: bytearray) -> None:
            if not isinstance(value, (list, tuple)):
                raise EncodeError("a list expected, got %r" % (value,))
            if fixed is not None:
                if len(value) != fixed:
                    raise EncodeError("exactly %d elements expected, got %d" % (fixed, len(value)))
            else:
                if len(value) >= 1 << (8 * prefix):
                    raise EncodeError("%d elements do not fit a %d-byte count" % (len(value), prefix))
                out += len(value).to_bytes(prefix, "little")
            if ints is not None and _ONLY_INT.issuperset(map(type, value)):  # plain numbers: in one go
                try:
                    out += struct.pack(code % len(value), *value)
                    return
                except struct.error:
                    pass  # out of range: the element encoder says which
            for item in value:
                element(item, out)
        return encode_array

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
