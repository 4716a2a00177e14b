"""`plantvision run` as a process: ready, permit on after a reset, and on SIGTERM or SIGINT the
permit goes off at the PLC and the heartbeat stops before a clean exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from simulators.plc import PlcSimulator, SimConfig
from tests.detect.onnx_graphs import constant_model
from tests.loop.live import REPO, wait_for
from tests.loop.rig import ZONES


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=400, stopping_ms=20))
    s.start()
    yield s
    s.stop()


def _deployment(tmp_path: Path, port: int) -> Path:
    (tmp_path / "zones.yaml").write_text(ZONES)
    # A real ONNX model that sees nothing: the cell stays clear, so a reset is accepted.
    constant_model(tmp_path / "m.onnx", {"out": np.zeros((1, 5, 84), np.float32)})
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(frames / f"{i}.png"), rng.integers(40, 200, (480, 640, 3), np.uint8))
    dep = {
        "name": "proc",
        "cameras": [{
            "id": "cam0",
            "source": {"kind": "folder", "uri": "frames", "fps": 20, "loop": True},
            "model": {"path": "m.onnx", "family": "yolov8", "class_names": ["person"]},
            "zones": "zones.yaml",
            "frozen_ms": 60000,
        }],
        "plc": {"host": "127.0.0.1", "port": port, "allowed_hosts": ["127.0.0.1"],
                "heartbeat_period_ms": 50},
        "guard": {"clear_hold_ms": 200},
    }  # fmt: skip
    path = tmp_path / "dep.yaml"
    path.write_text(yaml.safe_dump(dep))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_turns_the_permit_off_and_exits_cleanly(
    tmp_path: Path, sim: PlcSimulator, sig: signal.Signals
) -> None:
    """A stop signal leaves the PLC with the permit off and no heartbeat, and exit code 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantvision", "run", str(_deployment(tmp_path, sim.port)),
         "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_for(lambda: "heartbeat" in sim.values, 20), "box never started"
        deadline = time.monotonic() + 20
        while not sim.permit_seen and time.monotonic() < deadline:
            sim.press_reset()  # an operator pressing until the box accepts (on release)
            wait_for(lambda: sim.permit_seen, 1.5)
        assert sim.permit_seen
        assert wait_for(sim.press_start, 2)  # reset re-armed; start starts
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert not sim.permit_seen
    beat = sim.values.get("heartbeat")
    time.sleep(0.3)
    assert sim.values.get("heartbeat") == beat, "heartbeat must stop"
    assert wait_for(lambda: not sim.machine_running, 2)
    assert "frame capture -> permit write acknowledged" in out
