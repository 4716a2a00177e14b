"""`check` builds T from the worst case of what it measures and what the deployment configures:
the Modbus write that still lands after every try timed out but the last, the source's own frame
period, and the model timed on the source's own frames (DESIGN, proof rules)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from plantvision.cli import main
from plantvision.plc.config import write_worst_ms
from simulators.plc import PlcSimulator
from tests.loop.rig import write_frames
from tests.loop.test_bad_deployments import base
from tests.loop.test_check_fault_bounds import BIG_ZONE


def _check(
    tmp_path: Path, port: int, capsys: pytest.CaptureFixture[str], changes: dict[str, Any]
) -> tuple[int, str, str]:
    data = base(tmp_path, port)
    write_frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    data["safety"] = {"stopping_time_ms": 100}
    # Short fault bounds and one 50 ms try unless a test says otherwise: S then fits the zone.
    data["cameras"][0].update(stall_ms=100, frozen_ms=100)
    data["plc"].update(request_timeout_ms=50, retries=0)
    for section, values in changes.items():
        target = data["cameras"][0] if section == "camera" else data[section]
        target.update(values)
    (tmp_path / "zones.yaml").write_text(BIG_ZONE)
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    code = main(["check", str(dep), "--runs", "3"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ms(pattern: str, out: str) -> float:
    m = re.search(pattern, out)
    assert m is not None, f"{pattern!r} not in:\n{out}"
    return float(m.group(1))


@pytest.mark.parametrize(
    ("timeout_ms", "retries", "worst_ms"),
    [(150, 1, 300.0), (500, 2, 1500.0), (50, 1, 100.0), (20, 0, 20.0)],
)
def test_the_modbus_term_is_every_try_timing_out_but_the_last(
    timeout_ms: int, retries: int, worst_ms: float
) -> None:
    """A write that still lands can take request_timeout_ms on each of its 1 + retries tries."""
    assert write_worst_ms(timeout_ms, retries) == worst_ms


def test_check_charges_the_configured_modbus_worst_case_to_t(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """request_timeout_ms 500 with a retry: 1000 ms of Modbus in T, printed with its
    derivation, and the same 1000 ms after each fault bound (T charged)."""
    code, out, _ = _check(
        tmp_path, sim.port, capsys, {"plc": {"request_timeout_ms": 500, "retries": 1}}
    )
    assert _ms(r"([\d.]+) ms Modbus", out) == 1000.0
    assert "Modbus: request_timeout_ms 500 x (1 + retries 1) = 1000 ms" in out
    # After the worst fault bound come the write, the PLC scan and the stop: 1000 + 10 + 100.
    assert _ms(r"\+ ([\d.]+) ms write, scan, stopping", out) == 1000.0 + 10 + 100
    assert code == 1  # S = 1600 x 1.735 s + 1200 + 400 > the 2400 mm boundary
    assert "FAIL stop zone press" in out


def test_retries_above_one_are_refused(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two retries (1500 ms for a 500 ms timeout) are refused by the file check: at most one."""
    plc = {"request_timeout_ms": 500, "retries": 2}
    code, _, err = _check(tmp_path, sim.port, capsys, {"plc": plc})
    assert code == 2
    assert "plc.retries" in err


def test_a_folder_source_gives_its_own_period_and_frames(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An image folder is paced at its fps: the period is the source's, the model is timed on
    the folder's own pictures, and nothing is said to be assumed."""
    code, out, _ = _check(tmp_path, sim.port, capsys, {})
    assert code == 0, out
    assert _ms(r"T = 2 x ([\d.]+) ms frames", out) == 100.0
    assert "model timed on 3 frames of the source" in out
    assert "assumed" not in out
    assert "noise" not in out


def test_a_video_file_gives_its_recorded_frame_rate(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 25 fps file plays at 25 fps whatever source.fps says: 40 ms frames."""
    clip = tmp_path / "clip25.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (640, 480))
    rng = np.random.default_rng(2)
    for _ in range(5):
        writer.write(rng.integers(0, 256, (480, 640, 3), np.uint8))
    writer.release()
    source = {"kind": "video", "uri": "clip25.avi", "fps": 5}
    code, out, _ = _check(tmp_path, sim.port, capsys, {"camera": {"source": source}})
    assert code == 0, out
    assert _ms(r"T = 2 x ([\d.]+) ms frames", out) == 40.0
    assert "25 fps recorded in the file" in out
    assert "model timed on 3 frames of the source" in out


def test_a_live_source_says_its_period_and_model_frame_are_assumed(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A camera is not opened by check: its configured fps gives the period, with a warning,
    and the model is timed on a noise frame, which the output says."""
    source = {"kind": "camera", "uri": "0", "fps": 12.5}
    code, out, _ = _check(tmp_path, sim.port, capsys, {"camera": {"source": source}})
    assert code == 0, out
    assert _ms(r"T = 2 x ([\d.]+) ms frames", out) == 80.0
    assert "WARNING frame period assumed" in out
    assert "noise frame" in out


def test_the_capture_latency_is_a_term_of_t_and_of_every_fault_path(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A frame shows the scene source.capture_latency_ms before its stamp, which no measured
    stage sees: T adds it, says where it came from, and so does T after each fault bound."""
    source = {"kind": "folder", "uri": "frames", "fps": 10, "capture_latency_ms": 80}
    _, out, _ = _check(tmp_path, sim.port, capsys, {"camera": {"source": source}})
    assert _ms(r"frames \+ ([\d.]+) ms capture latency", out) == 80.0
    assert "capture latency 80 ms (source.capture_latency_ms)" in out
    detect = _ms(r"\+ ([\d.]+) ms detect p99", out)
    assert _ms(r"= ([\d.]+) ms\n", out) == pytest.approx(2 * 100 + 80 + detect + 50 + 10 + 100)
    assert _ms(r"\+ ([\d.]+) ms capture latency, write, scan, stopping", out) == 80 + 50 + 10 + 100
