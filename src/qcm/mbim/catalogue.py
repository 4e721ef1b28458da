"""The MBIM message catalogue: services by UUID, commands by CID, layouts, structs and enums,
loaded from JSON data (``catalogue/*.json``). The client, the simulator's device model, the
decoder and log redaction all read it; adding a command is adding an entry.

A service file::

    {
      "service": {"name": "Basic Connect", "nick": "basic-connect", "uuid": "a289cc33-..."},
      "enums": {"MbimRegisterState": {"0": "unknown", "3": "home"},
                "MbimDataClass": {"flags": true, "values": {"32": "lte"}}},
      "structs": {"IPv4Element": [["OnLinkPrefixLength", "u32"], ["IPv4Address", "ipv4"]],
                  "Tai": [["PlmnMcc", "u16"], ["PlmnMnc", "u16"], ["Tac", "u32"]]},
      "commands": [
        {"name": "Connect", "cid": 12,
         "query": [["SessionId", "u32"]], "set": [...], "response": [...], "notification": "response",
         "v3": {"set": [...], "response": [...], "notification": "response"}}
      ]
    }

A command has a layout for each kind it supports: ``query`` and ``set`` (COMMAND), ``response``
(COMMAND_DONE), ``notification`` (INDICATE_STATUS); a string instead of rows names another
kind with the same layout. ``v2``/``v3`` blocks hold the layouts MBIMEx 2.0/3.0 change: once
a version is agreed with the device, a kind takes the layout of the highest block at or
below it that defines it. Layout rows are written in the language of ``layout.py``; fields
marked ``!`` are personal. Enums and structs form one namespace across files; ``common.json``
also names known UUIDs (services, context types). Everything is validated at load time.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ..qmi.formats import Enum, FormatSyntaxError, key_of
from .framing import uuid_bytes, uuid_text
from .layout import Layout, Resolver, parse_layout

__all__ = ["CatalogueError", "CommandDef", "ServiceDef", "Catalogue", "load", "catalogue",
           "QUERY", "SET", "RESPONSE", "NOTIFICATION", "KINDS", "VERSIONS"]

QUERY = "query"
SET = "set"
RESPONSE = "response"
NOTIFICATION = "notification"
KINDS = (QUERY, SET, RESPONSE, NOTIFICATION)
VERSIONS = (1, 2, 3)  # MBIM 1.0 and MBIMEx 2.0 / 3.0

CATALOGUE_DIR = Path(__file__).with_name("catalogue")


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (a bug in the data files, caught at load time)."""


class CommandDef:
    """One CID of one service. Layouts are parsed on first use and cached per (kind, version)."""

    __slots__ = ("service", "cid", "name", "key", "_blocks", "_resolver", "_parsed")

    def __init__(self, service: "ServiceDef", cid: int, name: str, blocks: Dict[int, Dict[str, Any]],
                 resolver: Resolver) -> None:
        self.service = service
        self.cid = cid
        self.name = name
        self.key = key_of(name)
        self._blocks = blocks  # version -> kind -> rows or alias
        self._resolver = resolver
        self._parsed: Dict[Tuple[str, int], Optional[Layout]] = {}

    @property
    def kinds(self) -> Tuple[str, ...]:
        return tuple(k for k in KINDS if k in self._blocks[1] or any(k in b for b in self._blocks.values()))

    def versions(self, kind: str) -> Tuple[int, ...]:
        """The MBIMEx versions whose layout of ``kind`` differs from the one below."""
        return tuple(v for v in VERSIONS if kind in self._blocks.get(v, {}))

    def supports(self, kind: str, version: int = 1) -> bool:
        return self._block_for(kind, version) is not None

    def _block_for(self, kind: str, version: int) -> Optional[int]:
        for v in range(min(version, VERSIONS[-1]), 0, -1):
            if kind in self._blocks.get(v, {}):
                return v
        return None

    def layout(self, kind: str, version: int = 1) -> Optional[Layout]:
        """The layout of ``kind`` under the agreed MBIMEx ``version``; None if it has none."""
        cache_key = (kind, version)
        if cache_key in self._parsed:
            return self._parsed[cache_key]
        if kind not in KINDS:
            raise KeyError(kind)
        block = self._block_for(kind, version)
        layout = None
        if block is not None:
            rows = self._blocks[block][kind]
            seen = {kind}
            while isinstance(rows, str):  # an alias: "notification": "response"
                if rows in seen or rows not in self._blocks[block]:
                    raise CatalogueError("%s v%d: %s is an alias of %r, which it does not define" % (self, block, kind, rows))
                seen.add(rows)
                rows = self._blocks[block][rows]
            name = "%s %s %s%s" % (self.service.name, self.name, kind, " v%d" % block if block > 1 else "")
            try:
                layout = parse_layout(name, rows, self._resolver)
            except FormatSyntaxError as exc:
                raise CatalogueError(str(exc)) from None
        self._parsed[cache_key] = layout
        return layout

    def validate(self) -> None:
        for kind in KINDS:
            for version in VERSIONS:
                self.layout(kind, version)

    def __repr__(self) -> str:
        return "CommandDef(%s)" % self

    def __str__(self) -> str:
        return "%s %s (cid %d)" % (self.service.name, self.name, self.cid)


class ServiceDef:
    def __init__(self, name: str, nick: str, uuid: str) -> None:
        self.name = name
        self.nick = nick
        self.uuid = uuid
        self.uuid_bytes = uuid_bytes(uuid)
        self.commands: Dict[int, CommandDef] = {}

    def __repr__(self) -> str:
        return "ServiceDef(%s %s)" % (self.name, self.uuid)


class Catalogue:
    def __init__(self, services: List[ServiceDef], enums: Mapping[str, Enum], uuid_names: Mapping[str, str],
                 recovery: Optional[Mapping[str, Mapping[str, str]]] = None) -> None:
        self.services: Dict[bytes, ServiceDef] = {s.uuid_bytes: s for s in services}
        # "status" / "nw_error" -> name -> recovery class name (qcm.errors.Recovery)
        self.recovery: Dict[str, Dict[str, str]] = {k: dict(v) for k, v in (recovery or {}).items()}
        self._by_name: Dict[str, ServiceDef] = {}
        for s in services:
            self._by_name[key_of(s.name)] = s
            self._by_name[key_of(s.nick)] = s
        self.enums = dict(enums)
        self.uuid_names = dict(uuid_names)

    def service(self, which: Any) -> ServiceDef:
        """A service by name, nick, printed UUID or raw UUID bytes."""
        if isinstance(which, (bytes, bytearray)) and bytes(which) in self.services:
            return self.services[bytes(which)]
        if isinstance(which, str):
            found = self._by_name.get(key_of(which))
            if found is not None:
                return found
            try:
                return self.services[uuid_bytes(which)]
            except (ValueError, KeyError):
                pass
        raise KeyError("unknown MBIM service %r" % (which,))

    def command(self, service: Any, name: Any) -> CommandDef:
        table = self.service(service).commands
        found = table.get(name) if isinstance(name, int) else next(
            (c for c in table.values() if c.key == key_of(name)), None)
        if found is None:
            raise KeyError("no MBIM command %r in service %r" % (name, service))
        return found

    def lookup(self, service: bytes, cid: int) -> Optional[CommandDef]:
        found = self.services.get(bytes(service))
        return found.commands.get(cid) if found is not None else None

    def service_name(self, service: bytes) -> str:
        found = self.services.get(bytes(service))
        if found is not None:
            return found.name
        text = uuid_text(service) if len(service) == 16 else bytes(service).hex()
        return self.uuid_names.get(text, text)

    def enum(self, name: str) -> Enum:
        return self.enums[name]

    def recovery_of(self, status: str, nw_error: str = "") -> Optional[str]:
        """The recovery class (``qcm.errors.Recovery`` value) the catalogue gives a failure: its
        NwError's when listed, else its status's; None when neither is listed (retry)."""
        return self.recovery.get("nw_error", {}).get(nw_error) or self.recovery.get("status", {}).get(status)

    def commands(self) -> Iterator[CommandDef]:
        for service in self.services.values():
            yield from service.commands.values()


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


def load(directory: Path = CATALOGUE_DIR, validate: bool = True) -> Catalogue:
    documents = []
    for path in sorted(directory.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            documents.append((path.name, json.load(handle)))

    enums: Dict[str, Enum] = {}
    struct_rows: Dict[str, Tuple[str, Any]] = {}
    uuid_names: Dict[str, str] = {}
    for filename, doc in documents:
        for name, data in doc.get("enums", {}).items():
            if name in enums:
                raise CatalogueError("%s: enum %s is defined twice" % (filename, name))
            enums[name] = _load_enum(name, data, filename)
        for name, data in doc.get("structs", {}).items():
            if name in struct_rows:
                raise CatalogueError("%s: struct %s is defined twice" % (filename, name))
            struct_rows[name] = (filename, data)
        for text, name in doc.get("uuids", {}).items():
            uuid_names[uuid_text(uuid_bytes(text))] = name

    recovery: Dict[str, Dict[str, str]] = {"status": {}, "nw_error": {}}
    for filename, doc in documents:
        for table, classes in doc.get("recovery", {}).items():
            if table == "comment":
                continue
            enum = enums.get({"status": "MbimStatusError", "nw_error": "MbimNwError"}.get(table, ""))
            if enum is None or not isinstance(classes, dict):
                raise CatalogueError("%s: recovery table %r is not status or nw_error" % (filename, table))
            for kind, names in classes.items():
                for name in names:
                    if name.lower() not in enum.by_name:
                        raise CatalogueError("%s: recovery for %s %r, which does not exist" % (filename, table, name))
                    if name in recovery[table]:
                        raise CatalogueError("%s: %s %s has two recovery classes" % (filename, table, name))
                    recovery[table][name] = kind

    structs: Dict[str, Layout] = {}

    def struct_layout(name: str) -> Layout:
        if name not in structs:
            filename, rows = struct_rows[name]
            structs[name] = parse_layout(name, rows, resolver)
        return structs[name]

    resolver = Resolver(enums.__getitem__, struct_layout, uuid_names)

    services: List[ServiceDef] = []
    for filename, doc in documents:
        if "service" not in doc:
            continue
        info = doc["service"]
        try:
            service = ServiceDef(info["name"], info.get("nick", info["name"]), info["uuid"])
        except (KeyError, ValueError) as exc:
            raise CatalogueError("%s: bad service header (%s)" % (filename, exc)) from None
        uuid_names.setdefault(service.uuid, service.nick)
        for entry in doc.get("commands", []):
            where = "%s %s" % (filename, entry.get("name"))
            cid = _int(entry.get("cid"), where)
            blocks: Dict[int, Dict[str, Any]] = {1: {k: entry[k] for k in KINDS if k in entry}}
            for version in VERSIONS[1:]:
                block = entry.get("v%d" % version)
                if block is not None:
                    unknown = set(block) - set(KINDS)
                    if unknown:
                        raise CatalogueError("%s v%d: unknown kinds %s" % (where, version, sorted(unknown)))
                    blocks[version] = dict(block)
            unknown = set(entry) - set(KINDS) - {"name", "cid", "v2", "v3", "comment"}
            if unknown:
                raise CatalogueError("%s: unknown keys %s" % (where, sorted(unknown)))
            command = CommandDef(service, cid, entry["name"], blocks, resolver)
            if cid in service.commands or any(c.key == command.key for c in service.commands.values()):
                raise CatalogueError("%s: cid %d or its name is used twice" % (where, cid))
            if validate:
                try:
                    command.validate()
                except (FormatSyntaxError, KeyError) as exc:
                    raise CatalogueError("%s: %s" % (where, exc)) from None
            service.commands[cid] = command
        services.append(service)
    if len({s.uuid for s in services}) != len(services) or len({key_of(s.name) for s in services}) != len(services):
        raise CatalogueError("duplicate service names or UUIDs")
    for name in ("MbimStatusError", "MbimProtocolError", "MbimNwError"):
        if name not in enums:
            raise CatalogueError("common.json must define %s" % name)
    if validate:
        for name in struct_rows:
            try:
                struct_layout(name)
            except FormatSyntaxError as exc:
                raise CatalogueError("struct %s: %s" % (name, exc)) from None
    return Catalogue(services, enums, uuid_names, recovery)


@functools.lru_cache(maxsize=None)
def catalogue() -> Catalogue:
    """The packaged catalogue, loaded once; layouts are parsed as commands are first used."""
    return load(validate=False)
