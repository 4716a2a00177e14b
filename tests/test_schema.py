"""Editors validate as you type: the shipped JSON Schemas match the models and accept every
shipped file, and a misspelt key or an out-of-range value is flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from plantvision.cli import main
from plantvision.commands.schema import SCHEMAS, SHIPPED, schema_text

REPO = Path(__file__).resolve().parents[1]
DEPLOYMENTS = sorted((REPO / "deployments").glob("*.yaml")) + sorted(
    (REPO / "simulators" / "scenarios" / "deployments").glob("*.yaml")
)
ZONES = sorted((REPO / "zones").glob("*.yaml"))
EXAMPLES = [
    p for p in sorted((REPO / "deployments").glob("*.yaml")) if p.name != "plc-map.example.yaml"
]


def _validator(name: str, ref: str | None = None) -> jsonschema.Draft202012Validator:
    schema: dict[str, Any] = json.loads((SHIPPED / name).read_text(encoding="utf-8"))
    if ref is not None:  # a fragment of the file, such as the plc section alone
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{ref}"}
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return sorted(
        "/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(data)
    )


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_shipped_schema_is_what_the_models_generate(name: str) -> None:
    """The schema files in plantvision/schemas are current (regenerate: plantvision schema)."""
    assert (SHIPPED / name).read_text(encoding="utf-8") == schema_text(name), (
        f"plantvision/schemas/{name} is stale: run `plantvision schema`"
    )


def test_schema_command_writes_both_files(tmp_path: Path) -> None:
    """`plantvision schema --out DIR` writes the deployment and the zone file schema."""
    assert main(["schema", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SCHEMAS)


@pytest.mark.parametrize("path", DEPLOYMENTS, ids=lambda p: p.name)
def test_every_shipped_deployment_validates(path: Path) -> None:
    """Each deployment file (the plc map alone as the plc section) passes the schema."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if path.name == "plc-map.example.yaml":
        assert _errors(_validator("deployment.schema.json", "PlcConfig"), data["plc"]) == []
    else:
        assert _errors(_validator("deployment.schema.json"), data) == []


@pytest.mark.parametrize("path", ZONES, ids=lambda p: p.name)
def test_every_shipped_zone_file_validates(path: Path) -> None:
    """Each zone file passes the schema."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _errors(_validator("zones.schema.json"), data) == []


@pytest.mark.parametrize(
    ("edit", "flagged"),
    [
        (lambda d: d["cameras"][0].update(budjet_ms=100), "budjet_ms"),
        (lambda d: d["cameras"][0].update(budget_ms=-5), "cameras/0/budget_ms"),
        (lambda d: d["cameras"][0]["source"].update(kind="webcam"), "cameras/0/source/kind"),
        (lambda d: d["plc"].update(request_timeout_ms="fast"), "plc/request_timeout_ms"),
        (lambda d: d.pop("plc"), "'plc' is a required property"),
    ],
)
def test_a_broken_deployment_is_flagged_where_it_is_wrong(edit: Any, flagged: str) -> None:
    """A misspelt key, an out-of-range value, an unknown enum value, a wrong type, a missing
    section: each is an error that points at the place."""
    data = yaml.safe_load((REPO / "deployments" / "demo.yaml").read_text(encoding="utf-8"))
    edit(data)
    errors = _errors(_validator("deployment.schema.json"), data)
    assert any(flagged in e for e in errors), errors


def test_a_conveyor_without_its_longest_item_is_flagged() -> None:
    """An editor flags a conveyor without longest_item_mm as `run` refuses it (required: reject
    unless proven good is the rule, and no default is safe)."""
    data = yaml.safe_load((REPO / "deployments" / "demo-conveyor.yaml").read_text("utf-8"))
    conveyor = data["cameras"][0]["conveyor"]
    validator = _validator("deployment.schema.json", "DeployedConveyor")
    assert _errors(validator, conveyor) == []
    conveyor.pop("longest_item_mm")
    assert _errors(validator, conveyor) == [": 'longest_item_mm' is a required property"]
    assert _errors(_validator("deployment.schema.json"), data)  # the whole file, too


def test_a_broken_zone_file_is_flagged() -> None:
    """An unknown zone kind and a misspelt key in a zone are both flagged."""
    data = yaml.safe_load((REPO / "zones" / "simcell.yaml").read_text(encoding="utf-8"))
    data["zones"][0]["kind"] = "halt"
    data["zones"][0]["polygonn"] = data["zones"][0]["polygon"]
    errors = _errors(_validator("zones.schema.json"), data)
    assert any(e.startswith("zones/0/kind") for e in errors), errors
    assert any("polygonn" in e for e in errors), errors


@pytest.mark.parametrize("path", [*EXAMPLES, *ZONES], ids=lambda p: p.name)
def test_example_files_point_editors_at_their_schema(path: Path) -> None:
    """The first line names the schema for the YAML language server, by a path that exists."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    target = (path.parent / first.removeprefix(prefix)).resolve()
    kind = "zones" if path.parent.name == "zones" else "deployment"
    assert target == (SHIPPED / f"{kind}.schema.json").resolve()
