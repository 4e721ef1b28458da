"""The layout language of MBIM information buffers, and its codec.

An MBIM information buffer is a fixed part, whose fields follow each other, and a variable
part that the fixed part points into with offsets counted from the start of the buffer (or
of the enclosing struct), every item padded to 4 bytes (libmbim ``mbim-message.c``). MBIMEx
v3 adds TLVs laid inline. The catalogue writes a layout as rows ``[Name, spec]``::

    u16 u32 u64                 little-endian integers; u32<Enum> names the value (or flags)
    uuid                        16 bytes, printed form order; known UUIDs get their name
    ipv4 ipv6                   an address inline, network order
    ref-ipv4 ref-ipv6           an offset u32 to one address; 0 means none
    str                         offset u32 + size u32 -> UTF-16LE text, no NUL
    str[Count]                  Count (offset, size) pairs inline, one per string
    ipv4[Count] ipv6[Count]     an offset u32 -> Count addresses
    u32[Count]                  Count u32 values inline (the CID lists of structs)
    struct(Name)                the fields of struct Name inline
    structs(Name)[Count]        an offset u32 -> Count fixed-size structs
    refs(Name)[Count]           Count (offset, size) pairs inline, each -> one struct whose own
                                offsets count from its start
    ms-structs(Name)            offset u32 + size u32 -> ElementCount u32 + the structs
    tlv-str tlv-u16s            an MBIMEx v3 TLV inline (WCHAR_STR, UINT16_TBL)
    tlvs                        TLVs up to the end of the buffer ({type, data} each)
    bytes                       raw bytes up to the end of the buffer (QMI-over-MBIM)
    ...!                        personal data: shown as ### unless asked for

A field named as another field's ``[Count]`` is derived: the encoder fills it from the list's
length and the decoder leaves it out (the list says it). Missing fields encode as zero, empty
text, an empty list or no address. Decoding checks every offset, size and count against the
buffer and raises DecodeError; encoding raises EncodeError for a value that does not fit.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ..qmi.formats import DecodeError, EncodeError, Enum, FormatSyntaxError, key_of

__all__ = ["field_key", "Uuid", "Layout", "FieldDef", "Span", "Resolver", "parse_spec", "parse_layout", "has_personal", "TLV_WCHAR_STR", "TLV_UINT16_TBL",
           "DecodeError", "EncodeError", "FormatSyntaxError"]

TLV_WCHAR_STR = 10   # libmbim MBIM_TLV_TYPE_WCHAR_STR
TLV_UINT16_TBL = 11  # MBIM_TLV_TYPE_UINT16_TBL

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_PAIR = struct.Struct("<II")
_TLV = struct.Struct("<HBBI")  # type, reserved, padding length, data length

Span = Tuple[int, int]  # [start, end) of personal bytes within the buffer


def field_key(name: str) -> str:
    """The Python key of a field: "IPv4DnsServerCount" -> "ipv4_dns_server_count"."""
    name = name.replace("IPv4", "Ipv4").replace("IPv6", "Ipv6")
    return key_of(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name))


class Uuid(str):
    """A UUID in its printed form that knows its catalogue name (a service or a context type)."""

    name: str

    def __new__(cls, text: str, name: str = "") -> "Uuid":
        self = super().__new__(cls, text)
        self.name = name
        return self

    def __reduce__(self) -> Tuple[Any, ...]:
        return (str, (str(self),))


def _pad4(size: int) -> int:
    return (4 - size % 4) % 4


def _need(pos: int, size: int, end: int, what: str) -> None:
    if size < 0 or pos + size > end:
        raise DecodeError("%s needs %d bytes at offset %d, only %d left" % (what, size, pos, max(0, end - pos)))


def _text(raw: bytes) -> str:
    return raw.decode("utf-16-le", "replace")


def _utf16(value: Any) -> bytes:
    if not isinstance(value, str):
        raise EncodeError("text expected, got %r" % (value,))
    try:
        return value.encode("utf-16-le")
    except UnicodeEncodeError as exc:
        raise EncodeError("%r cannot be sent as UTF-16: %s" % (value, exc)) from None


class _Out:
    """A struct being encoded: its inline part, and variable items to append after it."""

    def __init__(self) -> None:
        self.inline = bytearray()
        self.tail: List[Tuple[int, bytes, bool]] = []  # (where the offset goes, data, also write the size)

    def later(self, data: bytes, sized: bool) -> None:
        self.tail.append((len(self.inline), data, sized))
        self.inline += b"\0" * (8 if sized else 4)

    def finish(self) -> bytes:
        out = bytearray(self.inline)
        for where, data, sized in self.tail:
            if not data:
                continue  # empty text, empty list, no address: offset 0 (and size 0)
            _U32.pack_into(out, where, len(out))
            if sized:
                _U32.pack_into(out, where + 4, len(data))
            out += data + b"\0" * _pad4(len(data))
        return bytes(out)


class _In(NamedTuple):
    data: bytes
    base: int      # offsets count from here
    end: int       # nothing of this struct lies at or beyond here
    spans: List[Span]


# --------------------------------------------------------------------------- field formats


class Format:
    __slots__ = ("personal", "count", "spec")

    def __init__(self, spec: str, count: str = "") -> None:
        self.personal = False
        self.count = count   # key of the field that holds this list's length
        self.spec = spec

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        raise NotImplementedError

    def encode(self, value: Any, out: _Out) -> None:
        raise NotImplementedError

    def default(self) -> Any:
        return [] if self.count else None

    def _count(self, values: Mapping[str, Any]) -> int:
        count = values.get(field_key(self.count), 0)
        return int(count)

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self.spec)


class IntFormat(Format):
    __slots__ = ("codec", "enum")

    def __init__(self, spec: str, codec: struct.Struct, enum: Optional[Enum]) -> None:
        super().__init__(spec)
        self.codec = codec
        self.enum = enum

    @property
    def max(self) -> int:
        return (1 << (8 * self.codec.size)) - 1

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        _need(pos, self.codec.size, ctx.end, self.spec)
        value = self.codec.unpack_from(ctx.data, pos)[0]
        if self.personal:
            ctx.spans.append((pos, pos + self.codec.size))
        return (self.enum.wrap(value) if self.enum is not None else value), pos + self.codec.size

    def encode(self, value: Any, out: _Out) -> None:
        if value is None:
            value = 0
        if self.enum is not None:
            if isinstance(value, str):
                value = self.enum.lookup(value)
            elif isinstance(value, (list, tuple)) and self.enum.flags:
                value = sum({self.enum.lookup(v) if isinstance(v, str) else int(v) for v in value})
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError("%s expects an integer, got %r" % (self.spec, value))
        if not 0 <= value <= self.max:
            raise EncodeError("%d does not fit in %s" % (value, self.spec))
        out.inline += self.codec.pack(int(value))

    def default(self) -> Any:
        return 0


class UuidFormat(Format):
    __slots__ = ("names", "by_name")

    def __init__(self, spec: str, names: Mapping[str, str]) -> None:
        super().__init__(spec)
        self.names = names
        self.by_name = {v: k for k, v in names.items()}

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        _need(pos, 16, ctx.end, "uuid")
        h = ctx.data[pos:pos + 16].hex()
        text = "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
        return Uuid(text, self.names.get(text, "")), pos + 16

    def encode(self, value: Any, out: _Out) -> None:
        if value is None:
            value = "00000000-0000-0000-0000-000000000000"
        if not isinstance(value, str):
            raise EncodeError("a UUID expected, got %r" % (value,))
        text = self.by_name.get(value, value)
        try:
            raw = bytes.fromhex(text.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) != 16:
            raise EncodeError("%r is not a UUID nor one of %s" % (value, ", ".join(sorted(self.by_name))))
        out.inline += raw

    def default(self) -> Any:
        return Uuid("00000000-0000-0000-0000-000000000000")


def _address(raw: bytes) -> Any:
    return ipaddress.ip_address(bytes(raw))


def _packed(value: Any, version: int) -> bytes:
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise EncodeError(str(exc)) from None
    if address.version != version:
        raise EncodeError("%s is not an IPv%d address" % (value, version))
    return address.packed


class AddressFormat(Format):
    """An address inline (``ipv4``), behind an offset (``ref-ipv4``), or a counted list behind
    an offset (``ipv4[Count]``)."""

    __slots__ = ("version", "size", "ref")

    def __init__(self, spec: str, version: int, ref: bool = False, count: str = "") -> None:
        super().__init__(spec, count)
        self.version = version
        self.size = 4 if version == 4 else 16
        self.ref = ref

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        if not self.ref and not self.count:
            _need(pos, self.size, ctx.end, self.spec)
            return _address(ctx.data[pos:pos + self.size]), pos + self.size
        _need(pos, 4, ctx.end, self.spec + " offset")
        offset = _U32.unpack_from(ctx.data, pos)[0]
        number = self._count(values) if self.count else 1
        if self.ref and offset == 0:
            return None, pos + 4
        if self.count and number == 0:
            return [], pos + 4
        start = ctx.base + offset
        _need(start, number * self.size, ctx.end, self.spec)
        found = [_address(ctx.data[start + i * self.size:start + (i + 1) * self.size]) for i in range(number)]
        return (found if self.count else found[0]), pos + 4

    def encode(self, value: Any, out: _Out) -> None:
        if not self.ref and not self.count:
            out.inline += _packed(value if value is not None else ("0.0.0.0" if self.version == 4 else "::"),
                                  self.version)
        elif self.count:
            if not isinstance(value, (list, tuple)):
                raise EncodeError("a list of addresses expected, got %r" % (value,))
            out.later(b"".join(_packed(v, self.version) for v in value), sized=False)
        else:
            out.later(b"" if value is None else _packed(value, self.version), sized=False)

    def default(self) -> Any:
        if self.count:
            return []
        if self.ref:
            return None
        return ipaddress.ip_address("0.0.0.0" if self.version == 4 else "::")


class TextFormat(Format):
    """``str``: one (offset, size) pair; ``str[Count]``: Count pairs."""

    __slots__ = ()

    def _one(self, ctx: _In, pos: int) -> str:
        offset, size = _PAIR.unpack_from(ctx.data, pos)
        if size == 0:
            return ""
        start = ctx.base + offset
        _need(start, size, ctx.end, "string")
        if self.personal:
            ctx.spans.append((start, start + size))
        return _text(ctx.data[start:start + size])

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        if not self.count:
            _need(pos, 8, ctx.end, "string offset and size")
            return self._one(ctx, pos), pos + 8
        number = self._count(values)
        _need(pos, 8 * number, ctx.end, "%d string offsets" % number)
        return [self._one(ctx, pos + 8 * i) for i in range(number)], pos + 8 * number

    def encode(self, value: Any, out: _Out) -> None:
        if not self.count:
            out.later(_utf16("" if value is None else value), sized=True)
            return
        if not isinstance(value, (list, tuple)):
            raise EncodeError("a list of strings expected, got %r" % (value,))
        for item in value:
            out.later(_utf16(item), sized=True)

    def default(self) -> Any:
        return [] if self.count else ""


class U32ListFormat(Format):
    """``u32[Count]``: values inline."""

    __slots__ = ()

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        number = self._count(values)
        _need(pos, 4 * number, ctx.end, "%d u32 values" % number)
        return list(struct.unpack_from("<%dI" % number, ctx.data, pos)), pos + 4 * number

    def encode(self, value: Any, out: _Out) -> None:
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFFFFFF for v in value):
            raise EncodeError("a list of u32 expected, got %r" % (value,))
        out.inline += struct.pack("<%dI" % len(value), *value)


class BytesFormat(Format):
    __slots__ = ()

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        if self.personal:
            ctx.spans.append((pos, ctx.end))
        return bytes(ctx.data[pos:ctx.end]), ctx.end

    def encode(self, value: Any, out: _Out) -> None:
        if value is None:
            value = b""
        if not isinstance(value, (bytes, bytearray)):
            raise EncodeError("bytes expected, got %r" % (value,))
        out.inline += value

    def default(self) -> Any:
        return b""


def _read_tlv(ctx: _In, pos: int) -> Tuple[int, bytes, int, int]:
    """(type, data, where the data starts, position after the TLV and its padding)."""
    _need(pos, _TLV.size, ctx.end, "TLV header")
    kind, _, padding, size = _TLV.unpack_from(ctx.data, pos)
    start = pos + _TLV.size
    _need(start, size + padding, ctx.end, "TLV data")
    return kind, bytes(ctx.data[start:start + size]), start, start + size + padding


def _tlv(kind: int, data: bytes) -> bytes:
    padding = _pad4(len(data))
    return _TLV.pack(kind, 0, padding, len(data)) + data + b"\0" * padding


class TlvFormat(Format):
    """One inline MBIMEx v3 TLV: ``tlv-str`` (text) or ``tlv-u16s`` (a list of u16)."""

    __slots__ = ("tlv_type",)

    def __init__(self, spec: str, tlv_type: int) -> None:
        super().__init__(spec)
        self.tlv_type = tlv_type

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        kind, data, start, after = _read_tlv(ctx, pos)
        if kind != self.tlv_type:
            raise DecodeError("%s: a TLV of type %d expected, found type %d" % (self.spec, self.tlv_type, kind))
        if self.personal:
            ctx.spans.append((start, start + len(data)))
        if self.tlv_type == TLV_WCHAR_STR:
            return _text(data), after
        if len(data) % 2:
            raise DecodeError("UINT16_TBL of odd size %d" % len(data))
        return list(struct.unpack("<%dH" % (len(data) // 2), data)), after

    def encode(self, value: Any, out: _Out) -> None:
        if self.tlv_type == TLV_WCHAR_STR:
            data = _utf16("" if value is None else value)
        else:
            value = value or []
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFF for v in value):
                raise EncodeError("a list of u16 expected, got %r" % (value,))
            data = struct.pack("<%dH" % len(value), *value)
        out.inline += _tlv(self.tlv_type, data)

    def default(self) -> Any:
        return "" if self.tlv_type == TLV_WCHAR_STR else []


class TlvListFormat(Format):
    """``tlvs``: every TLV up to the end of the buffer, as {type, data}."""

    __slots__ = ()

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        items = []
        while pos < ctx.end:
            kind, data, _, pos = _read_tlv(ctx, pos)
            items.append({"type": kind, "data": data})
        return items, pos

    def encode(self, value: Any, out: _Out) -> None:
        for item in value or []:
            try:
                kind, data = int(item["type"]), bytes(item["data"])
            except (TypeError, KeyError, ValueError):
                raise EncodeError("TLVs are {type, data} mappings, got %r" % (item,)) from None
            if not 0 <= kind <= 0xFFFF:
                raise EncodeError("TLV type %d does not fit u16" % kind)
            out.inline += _tlv(kind, data)

    def default(self) -> Any:
        return []


class StructFormat(Format):
    """A struct inline, a counted array of fixed structs behind an offset, a counted list of
    (offset, size) references to structs, or an ms-struct-array (offset, size -> count + structs)."""

    __slots__ = ("layout", "mode", "rest")

    def __init__(self, spec: str, layout: "Layout", mode: str, count: str = "") -> None:
        super().__init__(spec, count)
        self.layout = layout
        self.mode = mode  # "inline" | "array" | "refs" | "ms"
        if mode in ("array", "ms") and layout.fixed_size() is None:
            raise FormatSyntaxError("%s: struct %s must have a fixed size here" % (spec, layout.name))
        self.rest = mode == "inline" and layout.fixed_size() is None  # its own variable data follows it

    def decode(self, ctx: _In, pos: int, values: Mapping[str, Any]) -> Tuple[Any, int]:
        layout = self.layout
        if self.mode == "inline":
            size = ctx.end - pos if self.rest else layout.fixed_size() or 0
            _need(pos, size, ctx.end, layout.name)
            value, _ = layout.decode_at(_In(ctx.data, pos, pos + size, ctx.spans), pos)
            return value, pos + size
        if self.mode == "refs":
            number = self._count(values)
            _need(pos, 8 * number, ctx.end, "%d struct references" % number)
            items = []
            for i in range(number):
                offset, size = _PAIR.unpack_from(ctx.data, pos + 8 * i)
                start = ctx.base + offset
                _need(start, size, ctx.end, layout.name)
                items.append(layout.decode_at(_In(ctx.data, start, start + size, ctx.spans), start)[0])
            return items, pos + 8 * number
        _need(pos, 8 if self.mode == "ms" else 4, ctx.end, self.spec + " offset")
        offset = _U32.unpack_from(ctx.data, pos)[0]
        after = pos + (8 if self.mode == "ms" else 4)
        start = ctx.base + offset
        end = ctx.end
        if self.mode == "ms":
            size = _U32.unpack_from(ctx.data, pos + 4)[0]
            if size == 0:
                return [], after
            _need(start, max(size, 4), ctx.end, self.spec)
            number = _U32.unpack_from(ctx.data, start)[0]
            end = start + size
            start += 4
        else:
            number = self._count(values)
            if number == 0:
                return [], after
        element = layout.fixed_size() or 0
        _need(start, number * element, end, "%d x %s" % (number, layout.name))
        items = [layout.decode_at(_In(ctx.data, start + i * element, start + (i + 1) * element, ctx.spans),
                                  start + i * element)[0] for i in range(number)]
        return items, after

    def encode(self, value: Any, out: _Out) -> None:
        if self.mode == "inline":
            out.inline += self.layout.encode(value if value is not None else {})
            return
        if not isinstance(value, (list, tuple)):
            raise EncodeError("a list of %s expected, got %r" % (self.layout.name, value))
        if self.mode == "refs":
            for item in value:
                out.later(self.layout.encode(item), sized=True)
            return
        data = b"".join(self.layout.encode(item) for item in value)
        if self.mode == "ms":
            out.later(_U32.pack(len(value)) + data if value else b"", sized=True)
        else:
            out.later(data, sized=False)

    def default(self) -> Any:
        return self.layout.defaults() if self.mode == "inline" else []


# --------------------------------------------------------------------------- layouts


class FieldDef(NamedTuple):
    name: str
    key: str
    format: Format


class Layout:
    """The fields of one information buffer (or struct), in wire order."""

    __slots__ = ("name", "fields", "derived", "_fixed")

    def __init__(self, name: str, fields: Sequence[FieldDef]) -> None:
        self.name = name
        self.fields = tuple(fields)
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise FormatSyntaxError("%s: duplicate field names" % name)
        self.derived: Dict[str, str] = {}  # count key -> list key
        for position, f in enumerate(self.fields):
            if f.format.count:
                count = field_key(f.format.count)
                if count not in keys[:position]:
                    raise FormatSyntaxError("%s: %s counts with %s, which is not an earlier field"
                                            % (name, f.name, f.format.count))
                self.derived[count] = f.key
        for f in self.fields[:-1]:
            if isinstance(f.format, (TlvListFormat, BytesFormat)) or getattr(f.format, "rest", False):
                raise FormatSyntaxError("%s: %s fills the rest and must come last" % (name, f.name))
        self._fixed = self._fixed_size()

    def _fixed_size(self) -> Optional[int]:
        size = 0
        for f in self.fields:
            fmt = f.format
            if isinstance(fmt, IntFormat):
                size += fmt.codec.size
            elif isinstance(fmt, UuidFormat):
                size += 16
            elif isinstance(fmt, AddressFormat) and not fmt.ref and not fmt.count:
                size += fmt.size
            elif isinstance(fmt, StructFormat) and fmt.mode == "inline":
                size += fmt.layout.fixed_size() or 0
            else:
                return None
        return size

    def fixed_size(self) -> Optional[int]:
        """The size when every field is inline and fixed (ints, UUIDs, addresses), else None."""
        return self._fixed

    def visible_fields(self) -> Tuple[FieldDef, ...]:
        """The fields a caller gives and a decoder returns (derived counts left out)."""
        return tuple(f for f in self.fields if f.key not in self.derived)

    def defaults(self) -> Dict[str, Any]:
        return {f.key: f.format.default() for f in self.visible_fields()}

    def encode(self, values: Optional[Mapping[str, Any]]) -> bytes:
        if values is not None and not isinstance(values, Mapping):
            raise EncodeError("%s: a mapping of field values expected, got %r" % (self.name, values))
        values = dict(values or {})
        known = {f.key for f in self.fields}
        unknown = set(values) - known
        if unknown:
            raise EncodeError("%s has no field %s (it has: %s)" % (self.name, ", ".join(sorted(unknown)),
                                                                   ", ".join(f.key for f in self.visible_fields()) or "none"))
        for count, listed in self.derived.items():
            items = values.get(listed) or []
            if not isinstance(items, (list, tuple)):
                raise EncodeError("%s: %s must be a list" % (self.name, listed))
            if values.get(count) is not None and values[count] != len(items):
                raise EncodeError("%s: %s is %r but %s has %d items" % (self.name, count, values[count], listed, len(items)))
            values[count] = len(items)
        out = _Out()
        for f in self.fields:
            value = values.get(f.key)
            try:
                f.format.encode(f.format.default() if value is None and f.format.count else value, out)
            except EncodeError as exc:
                raise EncodeError("%s %s: %s" % (self.name, f.name, exc)) from None
        return out.finish()

    def decode(self, data: bytes) -> Tuple[Dict[str, Any], List[Span]]:
        """Values by key, and where personal bytes lie (for redacted hex). Raises DecodeError."""
        spans: List[Span] = []
        values, _ = self.decode_at(_In(bytes(data), 0, len(data), spans), 0)
        return values, spans

    def decode_at(self, ctx: _In, pos: int) -> Tuple[Dict[str, Any], int]:
        values: Dict[str, Any] = {}
        for f in self.fields:
            try:
                values[f.key], pos = f.format.decode(ctx, pos, values)
            except DecodeError as exc:
                raise DecodeError("%s: %s" % (f.name, exc)) from None
            except struct.error as exc:  # a pair or count read past the end: the same fault
                raise DecodeError("%s: %s" % (f.name, exc)) from None
        for count in self.derived:
            values.pop(count, None)
        return values, pos

    def __repr__(self) -> str:
        return "Layout(%s: %s)" % (self.name, ", ".join("%s %s" % (f.name, f.format.spec) for f in self.fields))


def has_personal(fmt: Format) -> bool:
    """Whether a field, or anything inside it, is personal data."""
    if fmt.personal:
        return True
    return isinstance(fmt, StructFormat) and any(has_personal(f.format) for f in fmt.layout.fields)


# --------------------------------------------------------------------------- spec parser

_SPEC = re.compile(r"^(?P<base>[a-z0-9-]+)(?:\((?P<struct>\w+)\))?(?:\[(?P<count>\w+)\])?"
                   r"(?:<(?P<enum>[\w.]+)>)?(?P<personal>!)?$")

_INTS = {"u16": _U16, "u32": _U32, "u64": _U64}


class Resolver(NamedTuple):
    enums: Callable[[str], Enum]
    structs: Callable[[str], "Layout"]
    uuid_names: Mapping[str, str]


def parse_spec(spec: str, resolve: Resolver) -> Format:
    """One field's format from its spec string (see the module docstring)."""
    match = _SPEC.match(spec.replace(" ", ""))
    if not match:
        raise FormatSyntaxError("bad field spec %r" % spec)
    base, struct_name, count, enum_name = match.group("base", "struct", "count", "enum")
    count = count or ""

    def need(allowed_struct: bool, allowed_count: Optional[bool], allowed_enum: bool = False) -> None:
        if bool(struct_name) != allowed_struct or (allowed_count is not None and bool(count) != allowed_count) \
                or (enum_name and not allowed_enum):
            raise FormatSyntaxError("bad field spec %r" % spec)

    fmt: Format
    if base in _INTS and not count:
        need(False, False, True)
        enum = None
        if enum_name:
            try:
                enum = resolve.enums(enum_name)
            except KeyError:
                raise FormatSyntaxError("%r: unknown enum %s" % (spec, enum_name)) from None
        fmt = IntFormat(spec, _INTS[base], enum)
    elif base == "u32":
        need(False, True)
        fmt = U32ListFormat(spec, count)
    elif base == "uuid":
        need(False, False)
        fmt = UuidFormat(spec, resolve.uuid_names)
    elif base in ("ipv4", "ipv6", "ref-ipv4", "ref-ipv6"):
        need(False, None)
        ref = base.startswith("ref-")
        if ref and count:
            raise FormatSyntaxError("bad field spec %r" % spec)
        fmt = AddressFormat(spec, 4 if base.endswith("4") else 6, ref, count)
    elif base == "str":
        need(False, None)
        fmt = TextFormat(spec, count)
    elif base in ("struct", "structs", "refs", "ms-structs"):
        need(True, base in ("structs", "refs"))
        try:
            layout = resolve.structs(struct_name)
        except KeyError:
            raise FormatSyntaxError("%r: unknown struct %s" % (spec, struct_name)) from None
        mode = {"struct": "inline", "structs": "array", "refs": "refs", "ms-structs": "ms"}[base]
        fmt = StructFormat(spec, layout, mode, count)
    elif base in ("tlv-str", "tlv-u16s"):
        need(False, False)
        fmt = TlvFormat(spec, TLV_WCHAR_STR if base == "tlv-str" else TLV_UINT16_TBL)
    elif base == "tlvs":
        need(False, False)
        fmt = TlvListFormat(spec)
    elif base == "bytes":
        need(False, False)
        fmt = BytesFormat(spec)
    else:
        raise FormatSyntaxError("unknown field type in %r" % spec)
    fmt.personal = bool(match.group("personal"))
    return fmt


def parse_layout(name: str, rows: Any, resolve: Resolver) -> Layout:
    if not isinstance(rows, list):
        raise FormatSyntaxError("%s: a layout is a list of [name, spec] rows" % name)
    fields = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(x, str) for x in row)):
            raise FormatSyntaxError("%s: rows are [name, spec], got %r" % (name, row))
        fields.append(FieldDef(row[0], field_key(row[0]), parse_spec(row[1], resolve)))
    return Layout(name, fields)
