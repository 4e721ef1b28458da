"""The JSON Schemas of the --json outputs (schemas/*.schema.json), ready to validate with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def load() -> Dict[str, Dict[str, Any]]:
    """Command name -> schema."""
    return {path.name.split(".")[0]: json.loads(path.read_text())
            for path in sorted(SCHEMAS.glob("*.schema.json"))}


def registry() -> Registry:
    """Every schema under its $id, so that one may refer to another (doctor's module is list's)."""
    resources = [(schema["$id"], Resource.from_contents(schema)) for schema in load().values()]
    return Registry().with_resources(resources)


def validate(command: str, output: Any) -> None:
    """Raise jsonschema.ValidationError unless ``output`` is what ``command --json`` promises."""
    schema = load()[command]
    jsonschema.Draft202012Validator(schema, registry=registry()).validate(output)


def undeclared_status_keys(document: Dict[str, Any]) -> Dict[str, Any]:
    """Keys of a qcm status --json document that schemas/status.schema.json does not list (it allows more, so
    validation alone would not notice a key the schema forgot): {"connection": [...], "bearer": [...]}."""
    definitions = load()["status"]["$defs"]
    connections = document.get("connections", [document])
    known = set(definitions["connection"]["properties"]) | {"schema_version"}
    bearer_known = set(definitions["bearer"]["properties"])
    return {"connection": sorted({k for c in connections for k in c} - known),
            "bearer": sorted({k for c in connections for b in c.get("bearers", []) for k in b} - bearer_known)}
