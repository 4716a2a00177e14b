"""The verifier's ISO 13855 lines: the floor case from the measured T, and the same zone verdicts
as `check` and `distance` (a zone beside the hazard fails)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantvision.loop.deployment import SafetyModel
from plantvision.zones.config import load_zone_file
from simulators.verify.report import iso_lines

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
