"""`plantvision schema [--out DIR]`: JSON Schema for deployment and zone files, for editors.

Generated from the same pydantic models that validate the files, so field descriptions, ranges
and enums cannot drift from what `check` enforces. The shipped copies live in
plantvision/schemas/ and the example files point at them with a `yaml-language-server` comment,
so an editor with the YAML language server flags a misspelt key or an out-of-range value as you
type. Cross-field rules (polygons inside the frame, unique ids, ...) stay `check`'s job.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from plantvision.loop.deployment import DeploymentModel
from plantvision.zones.model import ZoneFileModel

SHIPPED = Path(__file__).resolve().parents[1] / "schemas"
SCHEMAS: dict[str, type[BaseModel]] = {
    "deployment.schema.json": DeploymentModel,
    "zones.schema.json": ZoneFileModel,
}
TITLES = {
    "deployment.schema.json": "plantvision deployment file",
    "zones.schema.json": "plantvision zone file",
}


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="write JSON Schema for deployment and zone files")
    p.add_argument(
        "--out", type=Path, default=SHIPPED, help=f"folder to write into (default {SHIPPED})"
    )
    p.set_defaults(handler=run)


def schema_text(name: str) -> str:
    """The schema file `name` as written: stable key order, a trailing newline."""
    schema: dict[str, Any] = SCHEMAS[name].model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": TITLES[name],
        **{k: v for k, v in schema.items() if k != "title"},
    }
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        path = args.out / name
        path.write_text(schema_text(name), encoding="utf-8")
        print(f"wrote {path}")
    return 0
