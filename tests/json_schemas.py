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
