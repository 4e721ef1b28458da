"""MBIM messages: catalogue-driven building of frames from values and decoding back. No I/O.

``build()`` is strict: the values must belong to the command's layout for that kind and
MBIMEx version and fit their formats. ``decode()`` is tolerant: a command the catalogue does
not know, or an information buffer that does not match its layout, is kept as raw bytes and
reported in ``problems``, never dropped. The layout depends on the MBIMEx version agreed
with the device (1 unless VERSION, or mbim-proxy's version notice, said otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from ..errors import ModemError
from ..qmi.formats import DecodeError, EncodeError, EnumValue
from .catalogue import NOTIFICATION, QUERY, RESPONSE, SET, Catalogue, CommandDef, catalogue
from .framing import (CLOSE, CLOSE_DONE, COMMAND, COMMAND_DONE, FUNCTION_ERROR, INDICATE_STATUS, OPEN, OPEN_DONE,
                      Frame, FrameParser, FramingError)
from .framing import QUERY as QUERY_TYPE
from .framing import SET as SET_TYPE
from .layout import Layout, Span

__all__ = ["Message", "MbimError", "MissingField", "build", "decode", "decode_stream", "status_name",
           "describe_status", "protocol_error", "open_message", "close_message", "version_of", "agreed_version"]

_KIND_OF = {QUERY_TYPE: QUERY, SET_TYPE: SET}


def status_name(code: int) -> EnumValue:
    return catalogue().enum("MbimStatusError").wrap(int(code))  # type: ignore[return-value]


def protocol_error(code: int) -> EnumValue:
    return catalogue().enum("MbimProtocolError").wrap(int(code))  # type: ignore[return-value]


def describe_status(code: int) -> str:
    """``status 18 invalid-access-string: the network rejected the APN ...`` (libmbim's names)."""
    named = status_name(code)
    text = "status %d %s" % (int(named), named.name) if int(code) < 0x10000 else "status 0x%08x %s" % (int(named), named.name)
    return "%s: %s" % (text, named.meaning) if named.meaning else text


def version_of(bcd: int) -> int:
    """MBIMEx version from its BCD form: 0x0100 -> 1, 0x0200 -> 2, 0x0300 -> 3."""
    return max(1, (int(bcd) >> 8) & 0xFF)


class MissingField(ModemError, KeyError):
    """A response lacks a field the caller needs (no buffer, or one that did not decode)."""

    __str__ = Exception.__str__


class MbimError(Exception):
    """The device answered a command with a failure status (or a FUNCTION_ERROR)."""

    def __init__(self, message: "Message") -> None:
        self.message = message
        self.status = message.status if message.status is not None else status_name(0)
        if message.frame.type == FUNCTION_ERROR:
            error = protocol_error(message.frame.status)
            text = "MBIM transaction %d failed: function error %d %s%s" % (
                message.transaction, int(error), error.name, ": %s" % error.meaning if error.meaning else "")
        else:
            text = "MBIM %s %s failed: %s" % (message.name, message.kind or message.frame.type_name,
                                              describe_status(self.status))
            nw_error = message.values.get("nw_error")
            if nw_error:
                text += " (NwError %d %s%s)" % (int(nw_error), getattr(nw_error, "name", nw_error),
                                                ": %s" % nw_error.meaning if getattr(nw_error, "meaning", "") else "")
        super().__init__(text)

    @property
    def code(self) -> int:
        return int(self.status)


@dataclass(frozen=True)
class Message:
    """A decoded MBIM message: its frame, its command (if the catalogue knows it) and values."""

    frame: Frame
    definition: Optional[CommandDef]
    kind: Optional[str]              # query / set / response / notification; None for OPEN, CLOSE, errors
    version: int = 1
    values: Dict[str, Any] = field(default_factory=dict)
    problems: Tuple[str, ...] = ()
    personal: Tuple[Span, ...] = ()  # byte ranges of personal data in the information buffer

    @property
    def transaction(self) -> int:
        return self.frame.transaction

    @property
    def service_name(self) -> str:
        return catalogue().service_name(self.frame.service) if self.frame.service else ""

    @property
    def name(self) -> str:
        if not self.frame.fragmented:
            return self.frame.type_name
        if self.definition is not None:
            return "%s %s" % (self.definition.service.name, self.definition.name)
        return "%s cid %d" % (self.service_name, self.frame.cid)

    @property
    def status(self) -> Optional[EnumValue]:
        if self.frame.type in (OPEN_DONE, CLOSE_DONE, COMMAND_DONE):
            return status_name(self.frame.status)
        return None

    @property
    def ok(self) -> bool:
        status = self.status
        return status is not None and int(status) == 0

    def raise_for_status(self) -> "Message":
        if self.frame.type == FUNCTION_ERROR or (self.status is not None and not self.ok):
            raise MbimError(self)
        return self

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            detail = "; ".join(self.problems)
            raise MissingField("MBIM %s has no usable %s%s" % (self.name, key.replace("_", " "),
                                                              " (%s)" % detail if detail else "")) from None

    def __contains__(self, key: str) -> bool:
        return key in self.values


def _layout(definition: CommandDef, kind: str, version: int) -> Layout:
    layout = definition.layout(kind, version)
    if layout is None:
        raise EncodeError("%s has no %s" % (definition, kind))
    return layout


def build(definition: CommandDef, kind: str, transaction: int, values: Optional[Mapping[str, Any]] = None, *,
          version: int = 1, status: int = 0) -> Frame:
    """A COMMAND (query/set), COMMAND_DONE (response) or INDICATE_STATUS (notification) frame.
    A failed response built without values carries an empty information buffer."""
    if kind == RESPONSE and status and values is None:
        buffer = b""
    else:
        buffer = _layout(definition, kind, version).encode(values)
    service = definition.service.uuid_bytes
    if kind in (QUERY, SET):
        return Frame(COMMAND, transaction, service, definition.cid,
                     command_type=SET_TYPE if kind == SET else QUERY_TYPE, buffer=buffer)
    if kind == RESPONSE:
        return Frame(COMMAND_DONE, transaction, service, definition.cid, status=status, buffer=buffer)
    if kind == NOTIFICATION:
        return Frame(INDICATE_STATUS, transaction, service, definition.cid, buffer=buffer)
    raise EncodeError("unknown kind %r (query, set, response, notification)" % kind)


def open_message(transaction: int, max_control_transfer: int) -> Frame:
    return Frame(OPEN, transaction, max_control_transfer=max_control_transfer)


def close_message(transaction: int) -> Frame:
    return Frame(CLOSE, transaction)


def decode(frame: Frame, version: int = 1, cat: Optional[Catalogue] = None) -> Message:
    """Decode the information buffer as the catalogue lays it out; never raises on bad content."""
    if not frame.fragmented:
        return Message(frame, None, None, version)
    cat = cat or catalogue()
    problems: List[str] = []
    if frame.type == COMMAND:
        kind = _KIND_OF.get(frame.command_type)
        if kind is None:
            return Message(frame, cat.lookup(frame.service, frame.cid), None, version,
                           problems=("unknown CommandType %d" % frame.command_type,))
    else:
        kind = RESPONSE if frame.type == COMMAND_DONE else NOTIFICATION
    definition = cat.lookup(frame.service, frame.cid)
    if definition is None:
        what = "service %s" % cat.service_name(frame.service) if frame.service not in cat.services else "cid %d" % frame.cid
        return Message(frame, None, kind, version,
                       problems=("unknown %s: %d bytes left undecoded" % (what, len(frame.buffer)),) if frame.buffer else ())
    layout = definition.layout(kind, version)
    if layout is None:
        return Message(frame, definition, kind, version, problems=("%s has no %s" % (definition, kind),))
    if frame.type == COMMAND_DONE and frame.status and not frame.buffer:
        return Message(frame, definition, kind, version)  # a failure without details: nothing to decode
    try:
        values, spans = layout.decode(frame.buffer)
    except DecodeError as exc:
        problems.append("%s: %s" % (layout.name, exc))
        return Message(frame, definition, kind, version, problems=tuple(problems))
    return Message(frame, definition, kind, version, values, tuple(problems), tuple(spans))


def decode_stream(data: bytes, version: int = 1) -> List[Union[Message, FramingError]]:
    """Every message in ``data`` (a trace or a pasted log), in order, with what was skipped.
    A VERSION response or mbim-proxy's version notice in the stream switches the layouts used
    for the messages after it, as the device would."""
    parser = FrameParser()
    parser.feed(data)
    out: List[Union[Message, FramingError]] = []
    for event in parser.events():
        if isinstance(event, FramingError):
            out.append(event)
            continue
        message = decode(event, version)
        out.append(message)
        agreed = agreed_version(message)
        if agreed is not None:
            version = agreed
    leftover = parser.take_buffered()
    if leftover:
        out.append(FramingError("incomplete message at the end", leftover))
    return out


def agreed_version(message: Message, offered: int = 3) -> Optional[int]:
    """The MBIMEx version a message settles, if it is a successful MS Basic Connect Extensions
    VERSION response (the lower of the device's and ``offered``) or mbim-proxy's version notice."""
    definition = message.definition
    if definition is None or definition.key != "version" or "mbim_extended_version" not in message.values:
        return None
    service = definition.service.nick
    if service == "ms-basic-connect-extensions" and message.kind == RESPONSE and message.ok:
        return min(offered, version_of(message.values["mbim_extended_version"]))
    if service == "proxy-control" and message.kind == NOTIFICATION:
        return version_of(message.values["mbim_extended_version"])
    return None
