"""`plantvision check` refuses a box-timed reject horizon shorter than the longest gap between
two of the camera's scheduler updates (issue 15, item 4).

Box-timed plans are armed only in a camera cycle, `horizon_ms` before their fire time. A camera
thread waits up to min(stall_ms, budget_ms) / 4 for a frame and then takes up to budget_ms to
decide it (beyond is an overrun): a reject whose fire time fell between two updates further
apart than the horizon was decided after it, a late miss (with a 150 ms cycle and the default
100 ms horizon, 9 of 30 phases of an item against the cycle were missed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plantvision.cli import main
from plantvision.commands.check import latency_line, reject_horizon_line
from plantvision.loop.deployment import CameraModel, load_deployment
from simulators.plc import PlcSimulator
from tests.loop.live import REPO
from tests.loop.test_check_tracker_gate import _deployment

DEMO = REPO / "deployments" / "demo-conveyor.yaml"


def camera(budget_ms: float, stall_ms: float, **conveyor: Any) -> CameraModel:
    """demo-conveyor's camera with its budget, stall bound and conveyor fields replaced."""
    cam = load_deployment(DEMO).cameras[0]
    assert cam.conveyor is not None
    conv = cam.conveyor.model_copy(update=conveyor)
    return cam.model_copy(update={"budget_ms": budget_ms, "stall_ms": stall_ms, "conveyor": conv})


@pytest.mark.parametrize(
    ("budget_ms", "stall_ms", "horizon_ms", "mode", "passes"),
    [
        (200, 500, 100, "box", False),  # the defaults: 200 + 50 ms between updates
        (200, 500, 249, "box", False),
        (200, 500, 250, "box", True),
        (200, 100, 225, "box", True),  # a short stall bound shortens the frame wait: 25 ms
        (200, 500, 100, "plc", True),  # PLC-timed: the PLC fires at a count, no horizon
    ],
)
def test_a_box_timed_horizon_must_cover_the_longest_gap_between_updates(
    budget_ms: float, stall_ms: float, horizon_ms: float, mode: str, passes: bool
) -> None:
    """horizon_ms >= budget_ms + min(stall_ms, budget_ms) / 4 in box mode; a refusal names the
    file, the field, the shortest horizon that passes and why."""
    cam = camera(budget_ms, stall_ms, horizon_ms=horizon_ms, timing_mode=mode)
    line, ok = reject_horizon_line(DEMO, 0, cam)
    assert ok is passes
    if not passes:
        assert line.startswith("  FAIL")
        assert str(DEMO) in line
        assert "cameras[0].conveyor.horizon_ms" in line
        assert f"set horizon_ms to at least {budget_ms + min(stall_ms, budget_ms) / 4:g}" in line
        assert "late" in line
    else:
        assert line.startswith("  ok")


def test_the_horizon_line_says_nothing_for_a_camera_without_a_conveyor() -> None:
    cam = camera(200, 500).model_copy(update={"conveyor": None})
    assert reject_horizon_line(DEMO, 0, cam) == ("", True)


def shipped() -> list[Path]:
    folders = (REPO / "deployments", REPO / "simulators" / "scenarios" / "deployments")
    return sorted(p for f in folders for p in f.glob("*.yaml") if "plc-map" not in p.name)


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.name)
def test_every_shipped_deployment_loads_and_passes_the_horizon_check(path: Path) -> None:
    """The refusal breaks no shipped deployment: each loads (with the new latency fields at
    their defaults) and each box-timed conveyor's horizon covers its camera's update gap."""
    dep = load_deployment(path)
    for i, cam in enumerate(dep.cameras):
        line, ok = reject_horizon_line(path, i, cam)
        assert ok, line


def test_check_says_which_latencies_the_rejects_are_placed_and_led_with() -> None:
    """One line per conveyor camera: capture, encoder and each ejector's output latency; when
    none is set it says they are to be measured."""
    cam = camera(250, 1000)
    assert latency_line(cam) == (
        "  reject latencies: capture 0 ms, encoder 0 ms, output kicker 0 ms "
        '(all 0: measure them on site, README "Latencies")'
    )
    assert cam.conveyor is not None
    assert cam.conveyor.belt.encoder is not None
    enc = cam.conveyor.belt.encoder.model_copy(update={"latency_ms": 20.0})
    ejectors = [cam.conveyor.ejectors[0].model_copy(update={"output_latency_ms": 15.0})]
    belt = cam.conveyor.belt.model_copy(update={"encoder": enc})
    conv = cam.conveyor.model_copy(update={"belt": belt, "ejectors": ejectors})
    source = cam.source.model_copy(update={"capture_latency_ms": 80.0})
    cam = cam.model_copy(update={"conveyor": conv, "source": source})
    assert latency_line(cam) == (
        "  reject latencies: capture 80 ms, encoder 20 ms, output kicker 15 ms"
    )
    stamped = cam.source.model_copy(
        update={"kind": "stream", "uri": "http://10.0.0.7/video", "frame_stamps": "camera"}
    )
    assert latency_line(cam.model_copy(update={"source": stamped})).endswith(
        "output kicker 15 ms; frames dated by the camera's X-Timestamp stamps"
    )


def test_check_fails_a_deployment_whose_horizon_is_short_and_passes_it_once_raised(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole command: exit 1 and the FAIL line for the 100 ms default under a 200 ms
    budget; the horizon it names makes the same deployment READY."""
    conveyor: dict[str, Any] = {"gate_mm": 30, "min_item_pitch_mm": 90}
    dep = _deployment(tmp_path, sim.port, **conveyor)
    assert main(["check", str(dep), "--runs", "3"]) == 1
    out = capsys.readouterr().out
    need = next(line for line in out.splitlines() if "conveyor.horizon_ms" in line)
    least = need.rsplit("at least ", 1)[1]
    dep = _deployment(tmp_path, sim.port, horizon_ms=float(least), **conveyor)
    assert main(["check", str(dep), "--runs", "3"]) == 0, capsys.readouterr().out
