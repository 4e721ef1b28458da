"""The QMI message catalogue: services, messages, TLVs and enums, loaded from JSON data.

Every file in ``catalogue/`` has the same shape::

    {
      "service": {"name": "DMS", "id": 2, "title": "Device Management"},
      "enums": {
        "DmsOperatingMode": {"0": "online", "1": "low-power"},
        "WdsAuthentication": {"flags": true, "values": {"1": "pap", "2": "chap"}},
        "QmiProtocolError": {"0x5e": ["NotSupported", "what it means, for a person"]}
      },
      "messages": [
        {"name": "Get Revision", "id": "0x0023",
         "request": [], "response": [["0x01", "Revision", "str"]]},
        {"name": "Event Report", "id": "0x0001", "indication": [["0x14", "Operating Mode", "u8<DmsOperatingMode>"]]}
      ]
    }

A message with "request"/"response" is a method, one with "indication" an indication; the
two may share an id. TLV formats are written in the language of ``formats.py``. The Result
TLV (0x02) that every response carries is declared once, in ``common.json``. Enums form a
single namespace across files. The whole catalogue is validated when it is loaded: unknown
enums, duplicate ids or names and malformed formats are errors, never surprises at run time.

Adding a message is adding an entry to a JSON file.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from .formats import Decoder, Encoder, Enum, Format, FormatSyntaxError, key_of, parse_format

__all__ = ["CatalogueError", "TlvDef", "TlvCodec", "MessageDef", "Enums", "ServiceDef", "Catalogue", "load",
           "catalogue", "REQUEST", "RESPONSE", "INDICATION", "RESULT_TLV"]

REQUEST = "request"
RESPONSE = "response"
INDICATION = "indication"
RESULT_TLV = 0x02

CATALOGUE_DIR = Path(__file__).with_name("catalogue")


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (a bug in the data files, caught at load time)."""


@dataclass(frozen=True)
class TlvDef:
    type: int
    name: str
    key: str
    format: Format

    @property
    def personal(self) -> bool:
        return self.format.personal


class TlvCodec:
    """One message kind's TLVs as the codec looks them up: by type when decoding, by key with
    their place in catalogue order (the order of the wire) when encoding. Each TLV's format
    makes its coding functions on first use, so a message costs memory for what is used."""

    __slots__ = ("by_type", "decoders", "by_key", "encoders", "results")

    def __init__(self, tlvs: Tuple[TlvDef, ...]) -> None:
        self.by_type: Dict[int, TlvDef] = {t.type: t for t in tlvs}
        # type -> (key, decoding function, definition) of the TLVs received so far
        self.decoders: Dict[int, Tuple[str, Decoder, TlvDef]] = {}
        self.by_key: Dict[str, Tuple[int, TlvDef]] = {t.key: (index, t) for index, t in enumerate(tlvs)}
        # key -> (place in catalogue order, definition, encoding function) of the TLVs sent so far
        self.encoders: Dict[str, Tuple[int, TlvDef, Encoder]] = {}
        self.results: Dict[int, bytes] = {}  # a response's Result TLV by error code, encoded (message.py)

    def encoder(self, key: str) -> Tuple[int, TlvDef, Encoder]:
        """What build() needs for the TLV named ``key`` (KeyError: the catalogue does not declare it)."""
        found = self.encoders.get(key)
        if found is None:
            index, tlv = self.by_key[key]
            found = self.encoders[key] = (index, tlv, tlv.format.encoder())
        return found

    def decoder(self, tlv_type: int) -> Optional[Tuple[str, Decoder, TlvDef]]:
        """What decode() needs for a TLV of this type (None: the catalogue does not declare it)."""
        found = self.decoders.get(tlv_type)
        if found is None:
            tlv = self.by_type.get(tlv_type)
            if tlv is None:
                return None
            found = self.decoders[tlv_type] = (tlv.key, tlv.format.decoder(), tlv)
        return found


class MessageDef:
    """One message. Its TLV formats are parsed on first use: a manager touches a few dozen of
    the catalogue's messages, and parsed formats are most of the catalogue's memory."""

    __slots__ = ("service", "id", "name", "key", "is_indication", "_rows", "_parsed", "_enums", "_common", "_codecs")

    def __init__(self, service: "ServiceDef", id: int, name: str, is_indication: bool,
                 rows: Dict[str, List[Any]], enums: Mapping[str, Enum], common: Tuple[TlvDef, ...]) -> None:
        self.service = service
        self.id = id
        self.name = name
        self.key = key_of(name)  # looked up by this on every request: computed once
        self.is_indication = is_indication
        self._rows = rows
        self._parsed: Dict[str, Tuple[TlvDef, ...]] = {}
        self._codecs: Dict[str, TlvCodec] = {}
        self._enums = enums
        self._common = common

    def tlvs(self, kind: str) -> Tuple[TlvDef, ...]:
        parsed = self._parsed.get(kind)
        if parsed is None:
            if kind not in (REQUEST, RESPONSE, INDICATION):
                raise KeyError(kind)
            common = self._common if kind == RESPONSE and not self.is_indication else ()
            parsed = _load_tlvs(self._rows.get(kind, []), self._enums, "%s %s" % (self, kind), common)
            self._parsed[kind] = parsed
        return parsed

    def codec(self, kind: str) -> "TlvCodec":
        """The TLVs of ``kind`` made ready for encoding and decoding (once, on first use)."""
        codec = self._codecs.get(kind)
        if codec is None:
            codec = self._codecs[kind] = TlvCodec(self.tlvs(kind))
        return codec

    @property
    def request(self) -> Tuple[TlvDef, ...]:
        return self.tlvs(REQUEST)

    @property
    def response(self) -> Tuple[TlvDef, ...]:
        return self.tlvs(RESPONSE)

    @property
    def indication(self) -> Tuple[TlvDef, ...]:
        return self.tlvs(INDICATION)

    def validate(self) -> None:
        for kind in ((INDICATION,) if self.is_indication else (REQUEST, RESPONSE)):
            self.tlvs(kind)

    def tlv(self, kind: str, type_or_key: Any) -> Optional[TlvDef]:
        for tlv in self.tlvs(kind):
            if tlv.type == type_or_key or tlv.key == type_or_key:
                return tlv
        return None

    def __repr__(self) -> str:
        return "MessageDef(%s)" % self

    def __str__(self) -> str:
        return "%s %s (0x%04x)" % (self.service.name, self.name, self.id)


@dataclass
class ServiceDef:
    id: int
    name: str
    title: str
    methods: Dict[int, MessageDef] = field(default_factory=dict)
    indications: Dict[int, MessageDef] = field(default_factory=dict)

    def all_messages(self) -> Iterator[MessageDef]:
        yield from self.methods.values()
        yield from self.indications.values()


class Catalogue:
    def __init__(self, services: Iterable[ServiceDef], enums: Mapping[str, Enum], result: TlvDef,
                 recovery: Optional[Mapping[str, str]] = None) -> None:
        self.result = result  # the Result TLV every response carries, whatever the message
        self.recovery = dict(recovery or {})  # QMI error name -> recovery class name (errors.Recovery)
        self.services: Dict[int, ServiceDef] = {}
        self.by_name: Dict[str, ServiceDef] = {}
        for service in services:
            self.services[service.id] = service
            self.by_name[service.name.upper()] = service
        self.enums = enums
        # (service, message id, kind) -> what decode() needs; only messages that exist, so the
        # ids a broken device makes up cannot grow it.
        self._decoding: Dict[Tuple[int, int, str], Tuple[MessageDef, TlvCodec]] = {}

    def service(self, which: Any) -> ServiceDef:
        try:
            return self.by_name[which.upper()] if isinstance(which, str) else self.services[int(which)]
        except KeyError:
            raise KeyError("unknown QMI service %r" % (which,)) from None

    def service_name(self, service_id: int) -> str:
        service = self.services.get(service_id)
        if service is not None:
            return service.name
        return self.enums["QmiService"].value_name(service_id).upper()

    def method(self, service: Any, name: Any) -> MessageDef:
        return self._find(self.service(service).methods, service, name)

    def indication(self, service: Any, name: Any) -> MessageDef:
        return self._find(self.service(service).indications, service, name)

    @staticmethod
    def _find(table: Dict[int, MessageDef], service: Any, name: Any) -> MessageDef:
        if isinstance(name, int):
            found = table.get(name)
        else:
            wanted = key_of(name)
            found = next((m for m in table.values() if m.key == wanted), None)
        if found is None:
            raise KeyError("no QMI message %r in service %r" % (name, service))
        return found

    def lookup(self, service_id: int, message_id: int, kind: str) -> Optional[MessageDef]:
        service = self.services.get(service_id)
        if service is None:
            return None
        table = service.indications if kind == INDICATION else service.methods
        return table.get(message_id)

    def decoding(self, service_id: int, message_id: int, kind: str
                 ) -> Optional[Tuple[MessageDef, TlvCodec]]:
        """The message and its TLVs, for a frame received (None: not in the catalogue)."""
        found = self._decoding.get((service_id, message_id, kind))
        if found is None:
            definition = self.lookup(service_id, message_id, kind)
            if definition is None:
                return None
            found = self._decoding[(service_id, message_id, kind)] = (definition, definition.codec(kind))
        return found

    def enum(self, name: str) -> Enum:
        return self.enums[name]

    def messages(self) -> Iterator[MessageDef]:
        for service in self.services.values():
            yield from service.all_messages()


def _int(text: Any, where: str) -> int:
    try:
        return int(text, 0) if isinstance(text, str) else int(text)
    except (TypeError, ValueError):
        raise CatalogueError("%s: %r is not a number" % (where, text)) from None


def _load_enum(name: str, data: Mapping[str, Any], where: str) -> Enum:
    flags = bool(data.get("flags", False)) if "values" in data else False
    values = data["values"] if "values" in data else data
    names: Dict[int, str] = {}
    meanings: Dict[int, str] = {}
    for raw, entry in values.items():
        number = _int(raw, "%s enum %s" % (where, name))
        if isinstance(entry, list):
            names[number], meanings[number] = entry[0], entry[1]
        else:
            names[number] = entry
    if len({n.lower() for n in names.values()}) != len(names):
        raise CatalogueError("%s: enum %s has duplicate names" % (where, name))
    return Enum(name, names, meanings, flags)


class Enums(Mapping[str, Enum]):
    """The catalogue's enums by name, each made from its JSON data on first use: a dial names
    the values of a handful of the hundred enums, and making them all is most of a load."""

    def __init__(self) -> None:
        self._data: Dict[str, Tuple[Mapping[str, Any], str]] = {}  # name -> (JSON data, file)
        self._made: Dict[str, Enum] = {}

    def add(self, name: str, data: Mapping[str, Any], where: str) -> None:
        if name in self._data:
            raise CatalogueError("%s: enum %s is defined twice" % (where, name))
        self._data[name] = (data, where)

    def __getitem__(self, name: str) -> Enum:
        made = self._made.get(name)
        if made is None:
            data, where = self._data[name]
            made = self._made[name] = _load_enum(name, data, where)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data


def _load_tlvs(rows: List[Any], enums: Mapping[str, Enum], where: str,
               common: Tuple[TlvDef, ...] = ()) -> Tuple[TlvDef, ...]:
    tlvs: List[TlvDef] = list(common)
    for row in rows:
        if not (isinstance(row, list) and len(row) == 3):
            raise CatalogueError("%s: TLV rows are [type, name, format], got %r" % (where, row))
        tlv_type, name, spec = _int(row[0], where), row[1], row[2]
        try:
            fmt = parse_format(spec, enums)
        except FormatSyntaxError as exc:
            raise CatalogueError("%s TLV %s: %s" % (where, name, exc)) from None
        tlvs.append(TlvDef(tlv_type, name, key_of(name), fmt))
    if len({t.type for t in tlvs}) != len(tlvs) or len({t.key for t in tlvs}) != len(tlvs):
        raise CatalogueError("%s: duplicate TLV types or names" % where)
    return tuple(tlvs)


def load(directory: Path = CATALOGUE_DIR, validate: bool = True) -> Catalogue:
    """Read the catalogue; ``validate`` parses every format now instead of on first use."""
    documents = []
    for path in sorted(directory.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            documents.append((path.name, json.load(handle)))

    enums = Enums()
    for filename, doc in documents:
        for name, data in doc.get("enums", {}).items():
            enums.add(name, data, filename)
    if validate:
        for name in enums:
            enums[name]  # made now, so that bad enum data is an error at load time

    common_response: Tuple[TlvDef, ...] = ()
    recovery: Dict[str, str] = {}
    for filename, doc in documents:
        if "response" in doc:
            common_response = _load_tlvs(doc["response"], enums, filename)
        for kind, names in doc.get("recovery", {}).items():
            if kind == "comment":
                continue
            for name in names:
                if name in recovery:
                    raise CatalogueError("%s: error %s has two recovery classes" % (filename, name))
                recovery[name] = kind

    services: List[ServiceDef] = []
    for filename, doc in documents:
        if "service" not in doc:
            continue
        info = doc["service"]
        service = ServiceDef(_int(info["id"], filename), info["name"], info.get("title", info["name"]))
        for entry in doc.get("messages", []):
            where = "%s %s" % (filename, entry.get("name"))
            message_id = _int(entry["id"], where)
            is_indication = "indication" in entry
            rows = {kind: entry[kind] for kind in (REQUEST, RESPONSE, INDICATION) if kind in entry}
            message = MessageDef(service, message_id, entry["name"], is_indication, rows, enums, common_response)
            if validate:
                message.validate()
            table = service.indications if is_indication else service.methods
            if message_id in table:
                raise CatalogueError("%s: id 0x%04x already used by %s" % (where, message_id, table[message_id].name))
            if any(m.key == message.key for m in table.values()):
                raise CatalogueError("%s: name used twice" % where)
            table[message_id] = message
        services.append(service)
    if len({s.name for s in services}) != len(services) or len({s.id for s in services}) != len(services):
        raise CatalogueError("duplicate service names or ids")
    if len(common_response) != 1 or common_response[0].type != RESULT_TLV:
        raise CatalogueError("common.json must declare exactly the Result TLV (0x02) of responses")
    known = set(enums["QmiProtocolError"].names.values()) if "QmiProtocolError" in enums else set()
    unknown = sorted(set(recovery) - known)
    if unknown:
        raise CatalogueError("recovery classes for errors that do not exist: %s" % ", ".join(unknown))
    return Catalogue(services, enums, common_response[0], recovery)


@functools.lru_cache(maxsize=None)
def catalogue() -> Catalogue:
    """The packaged catalogue, loaded once; formats are parsed as messages are first used
    (the tests validate the whole of it)."""
    return load(validate=False)
