"""The verifier's ISO 13855 lines: the floor case from the measured T, and the same zone verdicts
as `check` and `distance` (a zone beside the hazard fails)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from plantvision.loop.deployment import SafetyModel
from plantvision.zones.config import load_zone_file
from simulators.verify.analysis import Verdict
from simulators.verify.report import ScenarioResult, iso_lines, vision_t_ms

REPO = Path(__file__).resolve().parents[3]


def test_iso_line_uses_the_floor_case_with_every_term() -> None:
    """T = measured + scan + stopping; S = 1600 T + 1200 + Z for the calibrated cell zone."""
    zones = load_zone_file(REPO / "zones" / "simcell.yaml")
    safety = SafetyModel(stopping_time_ms=100, plc_scan_ms=10)
    lines = iso_lines(140.0, safety, zones)
    # T = 140 + 10 + 100 = 250 ms; S = 1600 * 0.25 + 1200 + 0 + 400 = 2000 mm.
    assert "T = 140.0 ms measured" in lines[0]
    assert "floor" in lines[0]
    assert "= 2000 mm" in lines[0]
    assert "zone machine: boundary 2400 mm from the hazard, keeps S" in lines[1]


def test_iso_line_fails_a_zone_beside_the_hazard() -> None:
    """A stop zone that does not surround the hazard does not keep S, however far it is."""
    z = load_zone_file(REPO / "zones" / "simcell.yaml")
    beside = type(z)(z.zones, z.masks, z.sha256, z.source, z.frame_size, z.image_to_floor_mm,
                     np.array([[100.0, 100.0]]))  # fmt: skip
    lines = iso_lines(140.0, SafetyModel(), beside)
    assert "FAIL" in lines[1]
    assert "does not surround the hazard" in lines[1]


def _result(*zone_rows: Verdict) -> ScenarioResult:
    zones = load_zone_file(REPO / "zones" / "simcell.yaml")
    return ScenarioResult("s", "", [list(zone_rows)], [{}], SafetyModel(), zones)


def test_t_is_the_slowest_truth_measured_response_not_the_fault_adjusted_margin_figure() -> None:
    """An entry during a fault is judged against the fault's longer bound, so the row's
    `measured` subtracts that extra time; S needs the real entry -> stopped time, the slowest
    of every entry the verifier timed (scene truth to the PLC simulator's stop)."""
    row = Verdict("zone machine: entry -> stopped <= 250 ms", "zone", 250.0, 200.0, True,
                  samples=(150.0, 420.0))  # fmt: skip
    assert vision_t_ms([_result(row)]) == 420.0


def test_a_missed_trip_leaves_no_t_to_place_a_zone_with() -> None:
    """The machine ran on after an entry: T is unbounded, and the ISO line says so."""
    missed = Verdict("zone machine: entry -> stopped <= 250 ms", "zone", 250.0, math.inf, False,
                     samples=(150.0,))  # fmt: skip
    t_ms = vision_t_ms([_result(missed)])
    assert t_ms == math.inf
    lines = iso_lines(t_ms, SafetyModel(), _result(missed).zones)
    assert lines == ["ISO 13855: a zone entry was missed (the machine ran on): T is unbounded, "
                     "no S"]  # fmt: skip
