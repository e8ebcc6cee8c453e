"""Publish the JSON Schema of both YAML formats, for editors and other tools."""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_FILES = {"logic_model": "logic_model.schema.json", "evaluation": "evaluation.schema.json"}


def json_schemas() -> dict[str, dict]:
    from evalkit.spec.raw import EvaluationFile, LogicModelFile

    out = {}
    for name, model in (("logic_model", LogicModelFile), ("evaluation", EvaluationFile)):
        schema = model.model_json_schema(mode="validation")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        out[name] = schema
    return out


def schema_text(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = folder / SCHEMA_FILES[name]
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written
