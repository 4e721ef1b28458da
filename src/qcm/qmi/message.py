"""QMI messages: catalogue-driven encoding of values into frames and decoding back. No I/O.

``build()`` is strict: every value must belong to a TLV the catalogue declares for that
message and fit its format. ``decode()`` is tolerant: TLVs the catalogue does not know, or
that do not match their declared format, are kept as raw bytes and reported, never dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import ModemError, Recovery
from .catalogue import INDICATION, RESPONSE, RESULT_TLV, Catalogue, MessageDef, TlvCodec, TlvDef, catalogue
from .formats import DecodeError, EncodeError, EnumValue
from .qmux import Frame, finish_frame, header_size, new_frame, parse_tlvs

__all__ = ["Message", "Result", "QmiError", "MissingTlv", "build", "build_frame", "decode", "protocol_error"]


@dataclass(frozen=True)
class Result:
    """The Result TLV of a response: success, or a QMI protocol error code."""

    status: int
    error: EnumValue

    @property
    def ok(self) -> bool:
        return self.status == 0

    def describe(self) -> str:
        return "success" if self.ok else describe_error(self.error)


def describe_error(error: int) -> str:
    """``QMUXError 0x5e NotSupported: the modem does not support ...`` (the name users search for)."""
    named = protocol_error(error)
    text = "QMUXError 0x%02x %s" % (int(named), named.name)
    return "%s: %s" % (text, named.meaning) if named.meaning else text


def protocol_error(code: int) -> EnumValue:
    return catalogue().enum("QmiProtocolError").wrap(int(code))  # type: ignore[return-value]


class MissingTlv(ModemError, KeyError):
    """A response lacks a TLV the caller needs (absent, or present but malformed)."""

    __str__ = Exception.__str__


class QmiError(ModemError):
    """The modem answered a request with a failure result; what to do about it (the recovery
    class) is the catalogue's word for that error code."""

    def __init__(self, message: "Message", hint: str = "") -> None:
        self.message = message
        result = message.result
        self.error = result.error if result is not None else protocol_error(0)
        name = message.definition.name if message.definition else "0x%04x" % message.message_id
        recovery = catalogue().recovery.get(self.error.name, Recovery.RETRY.value)
        super().__init__("%s %s failed: %s" % (message.service_name, name, describe_error(self.error)),
                         hint, Recovery(recovery))

    @property
    def code(self) -> int:
        return int(self.error)


@dataclass(frozen=True)
class Message:
    """A decoded QMI message: known TLVs as values by key, plus every raw TLV."""

    frame: Frame
    definition: Optional[MessageDef]
    values: Dict[str, Any] = field(default_factory=dict)
    problems: Tuple[str, ...] = ()  # TLVs that could not be decoded as declared

    @property
    def service(self) -> int:
        return self.frame.service

    @property
    def service_name(self) -> str:
        return catalogue().service_name(self.frame.service)

    @property
    def kind(self) -> str:
        return self.frame.kind

    @property
    def client_id(self) -> int:
        return self.frame.client_id

    @property
    def transaction(self) -> int:
        return self.frame.transaction

    @property
    def message_id(self) -> int:
        return self.frame.message_id

    @property
    def name(self) -> str:
        return self.definition.name if self.definition else "unknown message 0x%04x" % self.frame.message_id

    @property
    def result(self) -> Optional[Result]:
        value = self.values.get("result")
        if self.kind != RESPONSE or not isinstance(value, dict):
            return None
        return Result(value["error_status"], value["error_code"])

    @property
    def ok(self) -> bool:
        result = self.result
        return result is not None and result.ok

    def raise_for_result(self) -> "Message":
        result = self.result
        if result is None or not result.ok:
            raise QmiError(self)
        return self

    def tlv_defs(self) -> Tuple[TlvDef, ...]:
        return self.definition.tlvs(self.kind) if self.definition else ()

    def unknown_tlvs(self) -> Tuple[Tuple[int, bytes], ...]:
        known = {t.type for t in self.tlv_defs()}
        return tuple((t, v) for t, v in self.frame.tlvs if t not in known)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            detail = "; ".join(self.problems)
            raise MissingTlv("%s %s has no usable %s%s" % (self.service_name, self.name, key.replace("_", " "),
                                                           " (%s)" % detail if detail else "")) from None

    def __contains__(self, key: str) -> bool:
        return key in self.values


_TLV_HEADER = struct.Struct("<BH")
_NO_TLV_HEADER = bytes(3)  # room for a TLV header, written once the value's length is known
_write_tlv_header = _TLV_HEADER.pack_into


def _encode_tlvs(definition: MessageDef, kind: str, values: Mapping[str, Any], error: int, out: bytearray) -> None:
    """The TLV area of a message, headers included, in catalogue order (as libqmi emits them)."""
    if kind == INDICATION and not definition.is_indication:
        raise EncodeError("%s is not an indication" % definition)
    codec = definition.codec(kind)
    encoders = codec.encoders
    try:
        tlvs = sorted([encoders.get(key) or codec.encoder(key) for key in values])
    except KeyError:
        raise EncodeError("%s %s has no TLV named %s (it has: %s)" % (
            definition, kind, ", ".join(sorted(set(values) - set(codec.by_key))),
            ", ".join(codec.by_key) or "none")) from None
    if kind == RESPONSE and "result" not in values:  # the Result TLV, unless the caller gives one
        out += codec.results.get(error) or _result_tlv(definition, kind, codec, error)
    for _, tlv, encode in tlvs:  # sorted by their place in the catalogue, which is unique
        value = values[tlv.key]
        if value is None:
            continue
        start = len(out) + 3
        out += _NO_TLV_HEADER
        try:
            encode(value, out)
        except EncodeError as exc:
            raise EncodeError("%s %s TLV 0x%02x %s: %s" % (definition, kind, tlv.type, tlv.name, exc)) from None
        size = len(out) - start
        if size > 0xFFFF:
            raise EncodeError("%s %s TLV 0x%02x %s: %d bytes do not fit a TLV" % (
                definition, kind, tlv.type, tlv.name, size))
        _write_tlv_header(out, start - 3, tlv.type, size)


def _result_tlv(definition: MessageDef, kind: str, codec: TlvCodec, error: int) -> bytes:
    """A response's Result TLV for ``error``, encoded once per message. It is the first TLV in
    catalogue order (common.json's TLVs come first), so it goes before the others."""
    tlv = codec.results.get(error)
    if tlv is None:
        if "result" not in codec.by_key:
            raise EncodeError("%s %s has no TLV named result (it has: %s)" % (
                definition, kind, ", ".join(codec.by_key) or "none"))
        _, result = codec.by_key["result"]
        body = bytearray()
        try:
            result.format.encode({"error_status": 1 if error else 0, "error_code": error}, body)
        except EncodeError as exc:
            raise EncodeError("%s %s TLV 0x%02x %s: %s" % (definition, kind, result.type, result.name, exc)) from None
        tlv = _TLV_HEADER.pack(result.type, len(body)) + bytes(body)
        if len(codec.results) < _RESULTS_KEPT:
            codec.results[error] = tlv
    return tlv


_RESULTS_KEPT = 64  # error codes whose Result TLV is kept encoded, per message


def build_frame(definition: MessageDef, kind: str, client_id: int, transaction: int,
                values: Optional[Mapping[str, Any]] = None, *, error: int = 0) -> Frame:
    """A frame for ``definition``; for a response the Result TLV is filled from ``error``."""
    out = bytearray()
    _encode_tlvs(definition, kind, values or {}, error, out)
    tlvs = parse_tlvs(bytes(out))
    assert tlvs is not None  # we laid them out ourselves
    return new_frame(definition.service.id, client_id, kind, transaction, definition.id, tlvs)


def build(definition: MessageDef, kind: str, client_id: int, transaction: int,
          values: Optional[Mapping[str, Any]] = None, *, error: int = 0) -> bytes:
    """The bytes of ``build_frame(...)``, written in one buffer without making the frame."""
    service = definition.service.id
    out = bytearray(header_size(service))
    _encode_tlvs(definition, kind, values or {}, error, out)
    return finish_frame(out, service, client_id, kind, transaction, definition.id)


_new = object.__new__
_NO_PROBLEMS: Tuple[str, ...] = ()


def decode(frame: Frame, cat: Optional[Catalogue] = None) -> Message:
    """Decode every TLV the catalogue knows; never raises on bad content."""
    cat = cat or catalogue()
    kind = frame.kind
    found = cat.decoding(frame.service, frame.message_id, kind)
    definition = None
    values: Dict[str, Any] = {}
    problems: List[str] = []
    if found is not None:
        definition, codec = found
        decoders = codec.decoders
        for tlv_type, raw in frame.tlvs:
            known = decoders.get(tlv_type) or codec.decoder(tlv_type)
            if known is None:
                continue
            key, decode_value, tlv = known
            size = len(raw)
            try:
                value, end = decode_value(raw, 0, size)
            except DecodeError as exc:
                problems.append("TLV 0x%02x %s: %s" % (tlv_type, tlv.name, exc))
                continue
            if end != size:
                problems.append("TLV 0x%02x %s: %d bytes left over" % (tlv_type, tlv.name, size - end))
                continue
            values[key] = value
    elif kind == RESPONSE:
        # Even for a message we do not know, the Result TLV is the same everywhere.
        result = frame.tlv(RESULT_TLV)
        if result is not None:
            try:
                values["result"] = cat.result.format.decode(result, 0, len(result))[0]
            except DecodeError as exc:
                problems.append("TLV 0x02 Result: %s" % exc)
    # Message(...) without the frozen dataclass's checked assignment of each field
    message = _new(Message)
    message.__dict__.update(frame=frame, definition=definition, values=values,
                            problems=tuple(problems) if problems else _NO_PROBLEMS)
    return message
