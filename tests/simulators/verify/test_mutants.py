"""Planted broken boxes: the table names a killer for every required mutant, the product never
names one, and each patch installs in a process of its own (the verifier's box process)."""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.verify.mutants import BY_NAME, MUTANTS, SCENARIOS, Killer, Mutant
from simulators.verify.scenario import load_verify_scenario

REPO = Path(__file__).resolve().parents[3]
REQUIRED = {
    "anchor_bottom_left", "blind_every_other_second", "release_without_reset", "clear_hold_ignored",
    "camera_left_out", "hung_camera_keeps_permit", "heartbeat_ungated", "ejector_one_pitch_late",
    "verdict_written_twice", "neighbour_alarm_silenced",
}  # fmt: skip
# What each mutant patches, to see the patch take in a fresh process: (module, attribute path).
TARGETS = {
    "anchor_bottom_left": ("plantvision.zones.geometry", "_WX"),
    "blind_every_other_second": ("plantvision.detect.detector", "Detector.detect"),
    "release_without_reset": ("plantvision.guard.latch", "Guard.step"),
    "clear_hold_ignored": ("plantvision.guard.latch", "Guard.__init__"),
    "camera_left_out": ("plantvision.loop.outputs", "OutputImage._combined"),
    "hung_camera_keeps_permit": ("plantvision.loop.outputs", "OutputImage._expired"),
    "heartbeat_ungated": ("plantvision.plc.link", "PlcLink._beat"),
    "ejector_one_pitch_late": ("plantvision.conveyor.scheduler", "RejectScheduler._ejector_for"),
    "verdict_written_twice": ("plantvision.conveyor.verdicts", "deliver"),
    "neighbour_alarm_silenced": ("plantvision.conveyor.push_checks", "PushChecks._good_in_blast"),
}


def test_every_required_mutant_is_planted() -> None:
    assert set(BY_NAME) >= REQUIRED
    assert set(TARGETS) == set(BY_NAME)


def _deadline_exists(k: Killer) -> bool:
    """The killer's expected deadline is one the scenario judges (by its row's name prefix)."""
    sc = load_verify_scenario(SCENARIOS / k.scenario)
    kind, _, what = k.deadline.partition(" ")
    if kind == "zone":
        return what in {z.zone for z in sc.deadlines.zones}
    if kind == "fault":
        return what in {f.kind for f in sc.faults}
    if kind == "reject":
        return what in {r.ejector for r in sc.deadlines.rejects}
    if kind == "pushes":
        return bool(sc.deadlines.rejects)
    if k.deadline == "false rejects announced":
        return sc.deadlines.false_rejects_announced
    return kind == "restart"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_killer_is_a_suite_scenario_judging_the_named_deadline(mutant: Mutant) -> None:
    killers = mutant.killers
    assert killers
    for k in killers:
        assert (SCENARIOS / k.scenario).is_file()
        assert _deadline_exists(k), f"{k.scenario} judges no {k.deadline!r} row"


def test_the_product_never_names_a_mutant() -> None:
    """Only the command line's verifier door (seam, simulate) mentions mutants: no product code
    path, deployment field or environment variable can install one."""
    named = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "plantvision").rglob("*.py")
        if "mutant" in p.read_text(encoding="utf-8").lower()
    )
    assert named == ["plantvision/commands/seam.py", "plantvision/commands/simulate.py"]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_mutant_installs_in_its_own_process_only(name: str) -> None:
    """In a fresh process the patched attribute changes; this process stays the product."""
    module, attr = TARGETS[name]
    code = (
        "import functools, importlib, sys\n"
        f"m = importlib.import_module({module!r})\n"
        f"get = lambda: functools.reduce(getattr, {attr!r}.split('.'), m)\n"
        "before = get()\n"
        "from simulators.verify.mutants import install\n"
        f"install({name!r})\n"
        "print(get() is not before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "True"
    here = functools.reduce(getattr, attr.split("."), importlib.import_module(module))
    assert "mutants" not in getattr(here, "__module__", ""), "the patch leaked into this process"
