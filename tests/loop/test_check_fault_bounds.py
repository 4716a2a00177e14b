"""`check` states how long each camera fault can pass for a clear view, and charges the worst
to T: a person who walks in as the camera freezes is unseen until the fault trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from plantvision.cli import main
from simulators.plc import PlcSimulator
from tests.loop.rig import write_frames
from tests.loop.test_bad_deployments import base

# 10 mm of floor per pixel; the stop zone is the whole frame (6400 x 4800 mm) around a hazard
# at its centre: the boundary is 2400 mm from the hazard.
BIG_ZONE = """
version: 1
camera: cam0
units: pixels
frame_size: [640, 480]
zones:
  - {id: press, kind: stop, polygon: [[0, 0], [640, 0], [640, 480], [0, 480]]}
calibration:
  image_px: [[0, 0], [640, 0], [640, 480], [0, 480]]
  floor_mm: [[0, 0], [6400, 0], [6400, 4800], [0, 4800]]
hazard_mm: [[3200, 2400]]
"""


def _check(
    tmp_path: Path, port: int, capsys: pytest.CaptureFixture[str], **cam: float
) -> tuple[int, str]:
    data = base(tmp_path, port)
    write_frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    data["cameras"][0].update(cam)
    data["safety"] = {"stopping_time_ms": 100}
    # One 50 ms try: a 50 ms Modbus term in T, small beside the fault bounds these tests look at.
    data["plc"].update(request_timeout_ms=50, retries=0)
    (tmp_path / "zones.yaml").write_text(BIG_ZONE)
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    code = main(["check", str(dep), "--runs", "3"])
    return code, capsys.readouterr().out


def _ms(pattern: str, out: str) -> float:
    m = re.search(pattern, out)
    assert m is not None, f"{pattern!r} not in:\n{out}"
    return float(m.group(1))


def test_check_prints_each_fault_bound_next_to_t(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stall, frozen, decision expiry and the supervisor each get a line with their bound."""
    code, out = _check(tmp_path, sim.port, capsys, stall_ms=100, frozen_ms=100)
    assert code == 0, out
    assert _ms(r"stall: +([\d.]+) ms", out) == 125.0  # 100 + read wait min(100, 200) / 4
    assert _ms(r"frozen: +([\d.]+) ms", out) >= 200.0  # 100 + one 100 ms frame + detect p99
    assert _ms(r"decision expiry: +([\d.]+) ms", out) == 120.0  # min(100, 225) + 20
    assert "supervisor:" in out
    assert "T charged" in out


def test_a_slow_stall_bound_is_charged_to_t_and_can_fail_the_zone(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """stall_ms 2000: the stall bound (2050 ms) plus write, scan and stop is T, and S for it no
    longer fits inside the 2400 mm boundary: check fails the zone."""
    code, out = _check(tmp_path, sim.port, capsys, stall_ms=2000, frozen_ms=100)
    t_ms = _ms(r"T charged = ([\d.]+) ms", out)
    assert t_ms == 2050.0 + 50 + 10 + 100  # stall bound + Modbus worst case + PLC scan + stop
    assert "(stall)" in out
    assert code == 1
    assert "FAIL stop zone press" in out


def test_check_prints_each_mask_waiver(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A waived mask over a stop zone is blanking: check prints its classes, zones and waiver."""
    data = base(tmp_path, sim.port)
    write_frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    (tmp_path / "zones.yaml").write_text(
        BIG_ZONE
        + "masks:\n  - id: lamp\n    polygon: [[10, 10], [40, 10], [40, 40], [10, 40]]\n"
        + "    classes: [person]\n    waiver: 'RA-3: the lamp post reads as a person'\n"
    )
    main(["check", str(dep), "--runs", "3"])
    out = capsys.readouterr().out
    assert "WAIVER mask lamp (classes person) can hide stop zone press: RA-3: the lamp" in out
