"""The verifier's walk-in scenario passes with the cell model run by OpenVINO: the real loop,
zones and PLC link give the same stop, judged by the scene's own truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plantvision.cli import main

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "simulators" / "scenarios"


def _absolute(base: Path, rel: str) -> str:
    return str((base / rel).resolve())


@pytest.mark.slow
def test_walk_in_stops_the_machine_in_time_on_openvino(openvino: None, tmp_path: Path) -> None:
    """A worker walks into the machine zone; with model.backend openvino the machine is stopped
    within the scenario's 300 ms, and no deadline fails."""
    dep_file = SCENARIOS / "deployments" / "cell.yaml"
    dep = yaml.safe_load(dep_file.read_text())
    cam = dep["cameras"][0]
    cam["source"]["scenario"] = _absolute(dep_file.parent, cam["source"]["scenario"])
    cam["zones"] = _absolute(dep_file.parent, cam["zones"])
    cam["model"]["path"] = _absolute(dep_file.parent, cam["model"]["path"])
    cam["model"]["backend"] = "openvino"
    (tmp_path / "cell-openvino.yaml").write_text(yaml.safe_dump(dep))
    scenario = yaml.safe_load((SCENARIOS / "walk_in.yaml").read_text())
    scenario["deployment"] = "cell-openvino.yaml"
    scenario["scene"] = _absolute(SCENARIOS, scenario["scene"])
    path = tmp_path / "walk_in_openvino.yaml"
    path.write_text(yaml.safe_dump(scenario))
    report = tmp_path / "report.json"
    rc = main(["simulate", str(path), "--json", str(report), "--no-progress"])
    (result,) = json.loads(report.read_text(encoding="utf-8"))["scenarios"]
    assert rc == 0, [v["detail"] for v in result["worst"] if not v["passed"]]
    rows = {v["deadline"]: v for v in result["worst"]}
    machine = rows["zone machine: entry -> stopped <= 300 ms"]
    assert machine["passed"]
    assert machine["exercised"]
