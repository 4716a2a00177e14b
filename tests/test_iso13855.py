"""ISO 13855 minimum distance, per-zone boundary checks, and the zones/distance commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from plantvision.cli import main
from plantvision.guard.iso13855 import (
    Approach,
    ResponseTimeParts,
    Supplement,
    check_zones,
    min_distance,
    min_distance_mm,
)

REPO = Path(__file__).resolve().parent.parent

DISTANCE_TABLE = [
    # (T ms, approach, d mm, expected S mm or the error), S = K*T + C without supplement.
    # Floor (detection zone parallel to the approach at H = 0, like a scanner's protective field
    # or a pressure mat): K = 1600 mm/s, C = 1200 mm (2010: 1200 - 0.4 H; 2024: 1200).
    (0.0, "floor", None, 1200.0),
    (155.5, "floor", None, 1448.8),  # 1600 * 0.1555 + 1200: the figure, 1449 mm
    (365.0, "floor", None, 1784.0),  # 1600 * 0.365 + 1200
    # Vertical detection plane, whole body (d > 40 mm): C = 850 mm.
    (0.0, "body", None, 850.0),
    (500.0, "body", None, 1650.0),  # 1600 * 0.5 + 850
    (155.5, "body", None, 1098.8),  # the 350 mm short figure the issue found
    (100.0, "hand", 14.0, 200.0),  # 2000 * 0.1
    (10.0, "hand", 14.0, 100.0),  # 20 mm, raised to the 100 mm floor
    (200.0, "hand", 30.0, 500.0),  # 2000*0.2+128 = 528 > 500 -> 1600*0.2+128 = 448 -> 500
    (400.0, "hand", 30.0, 768.0),  # 928 > 500 -> 1600*0.4+128 = 768
    (100.0, "hand", 8.0, 200.0),  # finger detection earns no negative C
    (100.0, "hand", 50.0, "detection capability"),
    (100.0, "hand", None, "detection capability"),
    (-1.0, "body", None, "finite"),
    (float("nan"), "floor", None, "finite"),
    (100.0, "vertical", None, "vertical"),
]


@pytest.mark.parametrize(("t_ms", "approach", "d_mm", "expected"), DISTANCE_TABLE)
def test_min_distance_follows_iso_13855(
    t_ms: float, approach: str, d_mm: float | None, expected: float | str
) -> None:
    """S = K*T + C with the standard's K, C, floors and the K=1600 recomputation above 500 mm."""
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            min_distance_mm(t_ms, approach, d_mm)
        return
    assert min_distance_mm(t_ms, approach, d_mm) == pytest.approx(expected)


def test_floor_is_the_default_case_and_the_supplement_is_added() -> None:
    """Without an approach the floor case applies; S = 1600 T + 1200 + Z, each term kept."""
    z = Supplement(calibration_mm=12.0, anchor_offset_mm=400.0, other_mm=50.0)
    d = min_distance(155.5, z=z)
    assert d.approach is Approach.FLOOR
    assert (d.k_mm_s, d.c_mm, d.z.total_mm) == (1600.0, 1200.0, 462.0)
    assert d.s_mm == pytest.approx(1600 * 0.1555 + 1200 + 12 + 400 + 50)  # 1910.8


def test_printed_line_names_the_case_and_every_term() -> None:
    """The report line says which case of the standard applies and shows K, T, C and Z."""
    line = min_distance(365.0, z=Supplement(3.0, 400.0, 0.0)).describe()
    for text in ("floor", "parallel", "1600 mm/s", "365.0 ms", "1200 mm", "3 mm calibration",
                 "400 mm anchor offset", "= 2187 mm"):  # fmt: skip
        assert text in line, line
    assert "vertical" in min_distance(100.0, "body").describe()


def test_supplement_refuses_negative_terms() -> None:
    """A position tolerance cannot be negative: it would shorten S."""
    with pytest.raises(ValueError, match=">= 0"):
        Supplement(anchor_offset_mm=-1.0)


def test_response_time_sums_its_parts() -> None:
    """T adds frame periods to decide, processing p99, Modbus write, PLC scan and stopping."""
    parts = ResponseTimeParts(100.0, 2, 15.0, 5.0, 10.0, 100.0)
    assert parts.total_ms == pytest.approx(330.0)
    with pytest.raises(ValueError, match=">= 0"):
        ResponseTimeParts(-1.0)


def test_response_time_adds_the_cameras_capture_latency() -> None:
    """A frame exposed 80 ms before its stamp adds 80 ms to T; a negative latency is refused."""
    assert ResponseTimeParts(100.0, 2, 15.0, 5.0, 10.0, 100.0, 80.0).total_ms == pytest.approx(410)
    with pytest.raises(ValueError, match=">= 0"):
        ResponseTimeParts(100.0, capture_latency_ms=-1.0)


def test_zone_boundary_check_against_hazard() -> None:
    """A zone passes when it surrounds the hazard and its nearest boundary point is >= S away."""
    hazard = np.array([[0.0, 0.0], [100, 0], [100, 100], [0, 100]])
    zones = {
        "wide": np.array([[-1000.0, -1000], [1100, -1000], [1100, 1100], [-1000, 1100]]),
        "tight": np.array([[-200.0, -200], [300, -200], [300, 300], [-200, 300]]),
        "aside": np.array([[2000.0, 0], [3000, 0], [3000, 100]]),
    }
    res = {r.zone_id: r for r in check_zones(zones, hazard, 850.0)}
    assert (res["wide"].boundary_mm, res["wide"].passes) == (pytest.approx(1000.0), True)
    assert (res["tight"].passes, res["tight"].surrounds_hazard) == (False, True)
    # Far enough, but a person reaches the hazard without ever entering it: a failure.
    assert (res["aside"].passes, res["aside"].surrounds_hazard) == (False, False)
    assert "does not surround the hazard" in res["aside"].reason
    assert "closer than S" in res["tight"].reason


def test_distance_command_prints_s_and_zone_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    """`plantvision distance` prints T, the floor case's S and a verdict per stop zone."""
    args = ["distance", "--zones", str(REPO / "zones" / "simcell.yaml"), "--frame-period-ms"]
    # T = 2 * 100 + 15 + 100 = 315 ms; S = 1600 * 0.315 + 1200 + 0 + 400 = 2104 mm.
    assert main([*args, "100", "--processing-p99-ms", "15", "--stopping-ms", "100"]) == 0
    out = capsys.readouterr().out
    assert "floor" in out
    assert "= 2104 mm" in out
    assert "PASS machine" in out
    # T = 2 * 100 + 400 = 600 ms; S = 960 + 1200 + 400 = 2560 mm > the 2400 mm boundary.
    assert main([*args, "100", "--stopping-ms", "400"]) == 1
    assert "FAIL machine" in capsys.readouterr().out


def test_distance_command_refuses_a_vertical_case_for_a_floor_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A calibrated floor stop zone with a feet anchor is a parallel approach: body/hand refused."""
    args = ["distance", "--zones", str(REPO / "zones" / "simcell.yaml"), "--frame-period-ms",
            "100", "--stopping-ms", "100"]  # fmt: skip
    assert main([*args, "--approach", "body"]) == 2
    err = capsys.readouterr().err
    assert "simcell.yaml" in err
    assert "--approach" in err
    assert "floor" in err
    assert main([*args, "--approach", "hand", "--d-mm", "30"]) == 2
    assert "machine" in capsys.readouterr().err


def test_distance_command_fails_a_zone_that_does_not_surround_the_hazard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stop zone beside the hazard fails even when it is far enough: people walk around it."""
    text = (REPO / "zones" / "simcell.yaml").read_text(encoding="utf-8")
    aside = "hazard_mm: [[100, 100], [600, 100], [600, 600], [100, 600]]"
    f = tmp_path / "aside.yaml"
    f.write_text(re.sub(r"^hazard_mm: .*$", aside, text, flags=re.M), encoding="utf-8")
    assert main(["distance", "--zones", str(f), "--frame-period-ms", "100", "--stopping-ms",
                 "0"]) == 1  # fmt: skip
    out = capsys.readouterr().out
    assert "FAIL machine" in out
    assert "does not surround the hazard" in out


def test_distance_command_refuses_zone_file_without_calibration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Checking zones needs a floor calibration and hazard; the error names them."""
    args = ["distance", "--zones", str(REPO / "zones" / "vtest.yaml")]
    assert main([*args, "--frame-period-ms", "100", "--stopping-ms", "100"]) == 2
    assert "calibration/hazard_mm" in capsys.readouterr().err


def test_zones_command_validates_and_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    """`plantvision zones FILE --bench` lists the zones and prints median/p99/max timings."""
    assert main(["zones", str(REPO / "zones" / "vtest.yaml"), "--bench", "--frames", "20"]) == 0
    out = capsys.readouterr().out
    assert "stop junction" in out
    assert "mask signpost" in out
    assert "median" in out
    assert "p99" in out


def test_zones_command_reports_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad zone file exits 2 with a one-line error naming the file and field."""
    f = tmp_path / "z.yaml"
    f.write_text("version: 1\ncamera: c\nunits: normalized\nzones: []\n")
    assert main(["zones", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: zones:" in err
    assert err.count("\n") == 1
