"""Human and JSON views of decoded QMI messages, with personal data redacted.

Fields the catalogue marks personal (PIN, APN password, IMSI, ICCID, IMEI, ...) are shown
as ``###`` unless the caller asks for them, in text, in JSON and in hex dumps of the frame.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Optional

from .catalogue import RESPONSE, TlvDef
from .formats import ArrayFormat, EnumValue, FlagsValue, Format, StructFormat
from .message import Message

__all__ = ["REDACTED", "to_json", "to_text", "summary", "redacted_hex"]

REDACTED = "###"
_ARROW = {"request": "->", "response": "<-", "indication": "<-"}


def _plain(fmt: Optional[Format], value: Any, show_personal: bool) -> Any:
    """A JSON-able copy of ``value`` with personal fields replaced by ###."""
    if fmt is not None and fmt.personal and not show_personal:
        return REDACTED
    if isinstance(value, dict):
        fields = {f.key: f.format for f in fmt.fields} if isinstance(fmt, StructFormat) else {}
        return {k: _plain(fields.get(k), v, show_personal) for k, v in value.items()}
    if isinstance(value, list):
        element = fmt.element if isinstance(fmt, ArrayFormat) else None
        return [_plain(element, v, show_personal) for v in value]
    if isinstance(value, FlagsValue):
        return {"value": int(value), "names": value.names}
    if isinstance(value, EnumValue):
        out: Dict[str, Any] = {"value": int(value), "name": value.name}
        if value.meaning:
            out["meaning"] = value.meaning
        return out
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def to_json(message: Message, show_personal: bool = False) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "service": message.service_name,
        "service_id": message.service,
        "kind": message.kind,
        "client_id": message.client_id,
        "transaction": message.transaction,
        "message": message.name,
        "message_id": message.message_id,
    }
    result = message.result
    if result is not None:
        out["result"] = {"status": "success" if result.ok else "failure", "error": result.error.name,
                         "code": int(result.error), "description": result.describe()}
    tlvs: List[Dict[str, Any]] = []
    defs = {t.type: t for t in message.tlv_defs()}
    for tlv_type, raw in message.frame.tlvs:
        tlv: Optional[TlvDef] = defs.get(tlv_type)
        if tlv is not None and tlv.key == "result":
            continue
        entry: Dict[str, Any] = {"type": tlv_type}
        if tlv is not None and tlv.key in message.values:
            entry["name"] = tlv.name
            entry["key"] = tlv.key
            entry["value"] = _plain(tlv.format, message.values[tlv.key], show_personal)
        else:
            if tlv is not None:
                entry["name"] = tlv.name
            hidden = tlv is not None and _has_personal(tlv.format) and not show_personal
            entry["raw"] = REDACTED if hidden else raw.hex()
        tlvs.append(entry)
    out["tlvs"] = tlvs
    if message.problems:
        out["problems"] = list(message.problems)
    return out


def summary(message: Message) -> str:
    """One line: direction, service, message, client and transaction."""
    return "%s %s %s %s (0x%04x) client %d transaction %d" % (
        _ARROW.get(message.kind, "?"), message.service_name, message.kind, message.name,
        message.message_id, message.client_id, message.transaction)


def _text_value(value: Any, indent: str, lines: List[str], label: str) -> None:
    if isinstance(value, dict) and set(value) >= {"value", "name"} and len(value) <= 3:
        meaning = " - %s" % value["meaning"] if "meaning" in value else ""
        lines.append("%s%s: %s (%s)%s" % (indent, label, value["name"], value["value"], meaning))
    elif isinstance(value, dict) and set(value) == {"value", "names"}:
        lines.append("%s%s: %s (0x%x)" % (indent, label, "|".join(value["names"]) or "none", value["value"]))
    elif isinstance(value, dict):
        lines.append("%s%s:" % (indent, label))
        for key, item in value.items():
            _text_value(item, indent + "    ", lines, key.replace("_", " "))
    elif isinstance(value, list):
        lines.append("%s%s: %d item%s" % (indent, label, len(value), "" if len(value) == 1 else "s"))
        for index, item in enumerate(value):
            _text_value(item, indent + "    ", lines, "[%d]" % index)
    elif isinstance(value, str) and value != REDACTED:
        lines.append("%s%s: '%s'" % (indent, label, value))
    else:
        lines.append("%s%s: %s" % (indent, label, value))


def to_text(message: Message, show_personal: bool = False) -> List[str]:
    data = to_json(message, show_personal)
    lines = [summary(message)]
    result = message.result
    if result is not None:
        lines.append("    result: %s" % result.describe())
    elif message.kind == RESPONSE:
        lines.append("    result: missing (the response has no Result TLV)")
    for entry in data["tlvs"]:
        label = "TLV 0x%02x %s" % (entry["type"], entry.get("name", "(unknown)"))
        if "value" in entry:
            _text_value(entry["value"], "    ", lines, label)
        else:
            lines.append("    %s: raw %s" % (label, entry["raw"] or "(empty)"))
    for problem in message.problems:
        lines.append("    ! %s" % problem)
    return lines


def redacted_hex(message: Message, show_personal: bool = False) -> str:
    """The frame's bytes as hex, with the values of personal TLVs replaced by ##."""
    if show_personal:
        return message.frame.encode().hex(" ")
    personal = {t.type for t in message.tlv_defs() if _has_personal(t.format)}
    if not personal:
        return message.frame.encode().hex(" ")
    encoded = message.frame.encode()
    header = 12 if message.service == 0 else 13
    parts = [encoded[:header].hex(" ")]
    for tlv_type, raw in message.frame.tlvs:
        head = bytes([tlv_type]) + len(raw).to_bytes(2, "little")
        parts.append(head.hex(" "))
        if raw:
            parts.append(" ".join("##" for _ in raw) if tlv_type in personal else raw.hex(" "))
    return " ".join(parts)


def _has_personal(fmt: Format) -> bool:
    if fmt.personal:
        return True
    if isinstance(fmt, StructFormat):
        return any(_has_personal(f.format) for f in fmt.fields)
    if isinstance(fmt, ArrayFormat):
        return _has_personal(fmt.element)
    return False

