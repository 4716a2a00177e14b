"""The scenario suite, end to end in real time: it passes at rated conditions, and planted
failures fail with the right deadline named and a negative margin. (~2 minutes; CI runs it.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plantvision.cli import main
from plantvision.commands.simulate import SUITE, expand
from simulators.verify.suite import run_suite

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_every_suite_scenario_meets_every_deadline(shared_data: Path) -> None:
    """No missed trip, no late stop, no false trip in any suite scenario at rated conditions."""
    results = run_suite(expand([SUITE]), show_progress=False)
    failed = {r.name: [f"{v.deadline}: {v.detail}" for v in r.worst() if not v.passed]
              for r in results if not r.passed}  # fmt: skip
    assert failed == {}
    assert len(results) >= 20


@pytest.mark.parametrize(
    ("planted", "deadline"),
    [
        ("slow_model_late.yaml", "zone machine: entry -> stopped <= 300 ms"),
        ("stall_bound_too_tight.yaml", "fault camera_stall @1000 ms -> stopped <= 100 ms"),
    ],
)
def test_planted_failure_fails_naming_the_deadline_and_the_overrun(
    shared_data: Path, tmp_path: Path, planted: str, deadline: str
) -> None:
    """A verifier that cannot fail proves nothing: exactly the planted deadline fails, late."""
    report = tmp_path / "report.json"
    rc = main(["simulate", str(SUITE / "planted" / planted), "--json", str(report),
               "--no-progress"])  # fmt: skip
    assert rc == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    (scenario,) = data["scenarios"]
    failed = [v for v in scenario["worst"] if not v["passed"]]
    assert [v["deadline"] for v in failed] == [deadline]
    assert failed[0]["margin"] < 0
    assert "LATE by" in failed[0]["detail"]
