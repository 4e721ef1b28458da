"""Human and JSON views of decoded MBIM messages, with personal data redacted.

Fields the catalogue marks personal (device id/IMEI, subscriber id/IMSI, SIM ICCID, PIN,
user name, password, telephone numbers) are shown as ``###`` unless the caller asks for them,
in text, in JSON and in hex dumps. A QMI message carried over MBIM is decoded and redacted
by the QMI catalogue.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Optional, Set

from ..qmi import message as qmi_message
from ..qmi import render as qmi_render
from ..qmi.formats import EnumValue, FlagsValue
from ..qmi.qmux import Frame as QmuxFrame
from ..qmi.qmux import FrameParser as QmuxParser
from .framing import CLOSE, COMMAND, COMMAND_DONE, FUNCTION_ERROR, HOST_ERROR, INDICATE_STATUS, OPEN, uuid_text
from .layout import Format, StructFormat, Uuid, has_personal
from .message import Message, describe_status, protocol_error

__all__ = ["REDACTED", "summary", "to_json", "to_text", "redacted_hex"]

REDACTED = "###"
_FROM_HOST = (OPEN, CLOSE, COMMAND, HOST_ERROR)
_BUFFER_AT = {COMMAND: 48, COMMAND_DONE: 48, INDICATE_STATUS: 44}


def summary(message: Message) -> str:
    """One line: direction, message type, command, transaction and status."""
    frame = message.frame
    arrow = "->" if frame.type in _FROM_HOST else "<-"
    if frame.fragmented:
        what = "%s %s (cid %d)" % (message.name, message.kind or frame.type_name, frame.cid)
    else:
        what = frame.type_name
    line = "%s MBIM %s transaction %d" % (arrow, what, frame.transaction)
    if frame.type == OPEN:
        line += " max-control-transfer %d" % frame.max_control_transfer
    status = message.status
    if status is not None:
        line += " status %s" % status.name
    if frame.type in (FUNCTION_ERROR, HOST_ERROR):
        line += " error %s" % protocol_error(frame.status).name
    if message.version > 1 and frame.fragmented:
        line += " (MBIMEx %d.0)" % message.version
    return line


def _plain(fmt: Optional[Format], value: Any, show_personal: bool) -> Any:
    """A JSON-able copy of ``value`` with personal fields replaced by ###."""
    if fmt is not None and fmt.personal and not show_personal:
        return REDACTED
    if isinstance(value, dict):
        fields = {f.key: f.format for f in fmt.layout.fields} if isinstance(fmt, StructFormat) else {}
        return {k: _plain(fields.get(k), v, show_personal) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(fmt, v, show_personal) if isinstance(fmt, StructFormat) else _plain(None, v, show_personal)
                for v in value]
    if isinstance(value, FlagsValue):
        return {"value": int(value), "names": value.names}
    if isinstance(value, EnumValue):
        out: Dict[str, Any] = {"value": int(value), "name": value.name}
        if value.meaning:
            out["meaning"] = value.meaning
        return out
    if isinstance(value, Uuid):
        return {"uuid": str(value), "name": value.name} if value.name else str(value)
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _inner_qmi(message: Message) -> Optional[QmuxFrame]:
    """The QMUX frame a QMI-over-MBIM message carries, if it is exactly one."""
    raw = message.values.get("qmi_msg", message.values.get("qmux"))
    if not isinstance(raw, bytes) or message.definition is None or message.definition.service.nick != "qmi":
        return None
    parser = QmuxParser(max_frame_size=0x10000)
    parser.feed(raw)
    events = parser.events()
    return events[0] if len(events) == 1 and isinstance(events[0], QmuxFrame) and not parser.buffered else None


def to_json(message: Message, show_personal: bool = False) -> Dict[str, Any]:
    frame = message.frame
    out: Dict[str, Any] = {"protocol": "mbim", "type": frame.type_name, "transaction": frame.transaction}
    if frame.type == OPEN:
        out["max_control_transfer"] = frame.max_control_transfer
    if frame.fragmented:
        out.update({"service": message.service_name, "service_uuid": uuid_text(frame.service), "cid": frame.cid,
                    "command": message.definition.name if message.definition else None, "kind": message.kind})
        if message.version > 1:
            out["mbimex_version"] = message.version
    status = message.status
    if status is not None:
        out["status"] = {"value": int(status), "name": status.name, "description": describe_status(status)}
    if frame.type in (FUNCTION_ERROR, HOST_ERROR):
        error = protocol_error(frame.status)
        out["error"] = {"value": int(error), "name": error.name, "meaning": error.meaning}
    if frame.fragmented:
        layout = message.definition.layout(message.kind, message.version) if message.definition and message.kind else None
        formats = {f.key: f.format for f in layout.fields} if layout is not None else {}
        out["fields"] = {k: _plain(formats.get(k), v, show_personal) for k, v in message.values.items()}
        inner = _inner_qmi(message)
        if inner is not None:
            out["qmi"] = qmi_render.to_json(qmi_message.decode(inner), show_personal)
        elif not message.values and frame.buffer:
            out["raw"] = frame.buffer.hex()
    if message.problems:
        out["problems"] = list(message.problems)
    return out


def _text_value(value: Any, indent: str, lines: List[str], label: str) -> None:
    if isinstance(value, dict) and set(value) >= {"value", "name"} and len(value) <= 3:
        meaning = " - %s" % value["meaning"] if "meaning" in value else ""
        lines.append("%s%s: %s (%s)%s" % (indent, label, value["name"], value["value"], meaning))
    elif isinstance(value, dict) and set(value) == {"value", "names"}:
        lines.append("%s%s: %s (0x%x)" % (indent, label, "|".join(value["names"]) or "none", value["value"]))
    elif isinstance(value, dict) and set(value) == {"uuid", "name"}:
        lines.append("%s%s: %s (%s)" % (indent, label, value["name"], value["uuid"]))
    elif isinstance(value, dict):
        lines.append("%s%s:" % (indent, label))
        for key, item in value.items():
            _text_value(item, indent + "    ", lines, key.replace("_", " "))
    elif isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value) and value:
        lines.append("%s%s: %s" % (indent, label, ", ".join(str(v) for v in value)))
    elif isinstance(value, list):
        lines.append("%s%s: %d item%s" % (indent, label, len(value), "" if len(value) == 1 else "s"))
        for index, item in enumerate(value):
            _text_value(item, indent + "    ", lines, "[%d]" % index)
    elif isinstance(value, str) and value != REDACTED:
        lines.append("%s%s: '%s'" % (indent, label, value.encode("utf-8", "replace").decode("utf-8")))
    else:
        lines.append("%s%s: %s" % (indent, label, value))


def to_text(message: Message, show_personal: bool = False) -> List[str]:
    data = to_json(message, show_personal)
    lines = [summary(message)]
    if "status" in data:
        lines.append("    status: %s" % data["status"]["description"])
    if "error" in data:
        error = data["error"]
        lines.append("    error: %s (%d)%s" % (error["name"], error["value"],
                                              " - %s" % error["meaning"] if error["meaning"] else ""))
    for key, value in data.get("fields", {}).items():
        _text_value(value, "    ", lines, key.replace("_", " "))
    if "qmi" in data:
        inner = _inner_qmi(message)
        if inner is not None:
            lines.extend("    " + line for line in qmi_render.to_text(qmi_message.decode(inner), show_personal))
    if "raw" in data:
        lines.append("    raw: %s" % data["raw"])
    for problem in message.problems:
        lines.append("    ! %s" % problem)
    return lines


def redacted_hex(message: Message, show_personal: bool = False) -> str:
    """The message's bytes as hex (one piece), with personal bytes replaced by ##."""
    raw = message.frame.encode()
    if show_personal:
        return raw.hex(" ")
    start = _BUFFER_AT.get(message.frame.type, len(raw))
    inner = _inner_qmi(message)
    if inner is not None:
        return raw[:start].hex(" ") + " " + qmi_render.redacted_hex(qmi_message.decode(inner))
    hidden: Set[int] = set()
    for begin, end in message.personal:
        hidden.update(range(start + begin, start + end))
    if not hidden and message.problems and message.definition is not None:
        # Undecodable but possibly personal: hide the whole buffer rather than leak it.
        layout = message.definition.layout(message.kind or "", message.version) if message.kind else None
        if layout is not None and any(has_personal(f.format) for f in layout.fields):
            hidden.update(range(start, len(raw)))
    return " ".join("##" if i in hidden else "%02x" % b for i, b in enumerate(raw))
