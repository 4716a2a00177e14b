"""The scenario suite, end to end in real time: it passes at rated conditions, and planted
failures fail with the right deadline named and a negative margin. (~2 minutes; CI runs it.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plantvision.cli import main
from plantvision.commands.simulate import SUITE, expand
from simulators.verify.suite import run_suite

# The suite runs the project's own cell model: it needs no outside data.
pytestmark = [pytest.mark.slow]


def test_every_suite_scenario_meets_every_deadline() -> None:
    """No missed trip, no late stop, no false trip in any suite scenario at rated conditions."""
    results = run_suite(expand([SUITE]), show_progress=False)
    failed = {r.name: [f"{v.deadline}: {v.detail}" for v in r.worst() if not v.passed]
              for r in results if not r.passed}  # fmt: skip
    assert failed == {}
    assert len(results) >= 20
    # A zone row that could not fail reads "not exercised", and only with the scenario's reason.
    vacuous = [(r.name, v.deadline) for r in results for v in r.worst()
               if not v.exercised and "not exercised: no entry: " not in v.detail]  # fmt: skip
    assert vacuous == []


@pytest.mark.parametrize(
    ("planted", "deadline", "overrun"),
    [
        ("slow_model_late.yaml", "zone machine: entry -> stopped <= 300 ms", r"LATE by"),
        ("stall_bound_too_tight.yaml", "fault camera_stall @1000 ms -> stopped <= 100 ms",
         r"LATE by"),
        ("reject_window_too_tight.yaml", "reject kicker: |pulse error| <= 0.1 ms",
         r"(LATE|EARLY) by \d"),
    ],
)  # fmt: skip
def test_planted_failure_fails_naming_the_deadline_and_the_overrun(
    tmp_path: Path, planted: str, deadline: str, overrun: str
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
    assert re.search(overrun, failed[0]["detail"])
