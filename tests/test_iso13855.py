"""ISO 13855 minimum distance, per-zone boundary checks, and the zones/distance commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantvision.cli import main
from plantvision.guard.iso13855 import ResponseTimeParts, check_zones, min_distance_mm

REPO = Path(__file__).resolve().parent.parent

DISTANCE_TABLE = [
    # (T ms, approach, d mm, expected S mm or the error)
    (0.0, "body", None, 850.0),
    (500.0, "body", None, 1650.0),  # 1600 * 0.5 + 850
    (100.0, "hand", 14.0, 200.0),  # 2000 * 0.1
    (10.0, "hand", 14.0, 100.0),  # 20 mm, raised to the 100 mm floor
    (200.0, "hand", 30.0, 500.0),  # 2000*0.2+128 = 528 > 500 -> 1600*0.2+128 = 448 -> 500
    (400.0, "hand", 30.0, 768.0),  # 928 > 500 -> 1600*0.4+128 = 768
    (100.0, "hand", 8.0, 200.0),  # finger detection earns no negative C
    (100.0, "hand", 50.0, "detection capability"),
    (100.0, "hand", None, "detection capability"),
    (-1.0, "body", None, "finite"),
    (float("nan"), "body", None, "finite"),
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


def test_response_time_sums_its_parts() -> None:
    """T adds frame periods to decide, processing p99, Modbus write, PLC scan and stopping."""
    parts = ResponseTimeParts(100.0, 2, 15.0, 5.0, 10.0, 100.0)
    assert parts.total_ms == pytest.approx(330.0)
    with pytest.raises(ValueError, match=">= 0"):
        ResponseTimeParts(-1.0)


def test_zone_boundary_check_against_hazard() -> None:
    """A zone passes when its nearest boundary point is at least S from the hazard."""
    hazard = np.array([[0.0, 0.0], [100, 0], [100, 100], [0, 100]])
    zones = {
        "wide": np.array([[-1000.0, -1000], [1100, -1000], [1100, 1100], [-1000, 1100]]),
        "tight": np.array([[-200.0, -200], [300, -200], [300, 300], [-200, 300]]),
        "aside": np.array([[2000.0, 0], [3000, 0], [3000, 100]]),
    }
    res = {r.zone_id: r for r in check_zones(zones, hazard, 850.0)}
    assert (res["wide"].boundary_mm, res["wide"].passes) == (pytest.approx(1000.0), True)
    assert (res["tight"].passes, res["tight"].surrounds_hazard) == (False, True)
    assert (res["aside"].passes, res["aside"].surrounds_hazard) == (True, False)


def test_distance_command_prints_s_and_zone_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    """`plantvision distance` prints T, S and a verdict per stop zone; failing zones exit 1."""
    args = ["distance", "--zones", str(REPO / "zones" / "simcell.yaml"), "--frame-period-ms"]
    assert main([*args, "100", "--processing-p99-ms", "15", "--stopping-ms", "100"]) == 0
    out = capsys.readouterr().out
    assert "S = 1354 mm" in out
    assert "PASS machine" in out
    assert main([*args, "100", "--stopping-ms", "400"]) == 1
    assert "FAIL machine" in capsys.readouterr().out


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
