"""`plantvision run` as a child process against a PLC simulator in the test process.

The child renders the scene camera itself (a worker who walks into the machine's stop zone and
back, again and again), runs the project's own detector and drives the simulator over loopback
TCP. Tests judge only by what reaches the simulator: its write log, in order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from simulators.plc import PlcSimulator
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
CELL = REPO / "simulators" / "scenarios" / "deployments" / "cell.yaml"
BOOT_TIMEOUT_S = 90.0

# One worker walks from the left into the machine zone (x >= 0.5), stands there for a while, and
# walks back out; then again, for as long as the run lasts. Out of the zone about 3 s of every 8 s.
SCENE: dict[str, Any] = {
    "seed": 11,
    "width_px": 640,
    "height_px": 480,
    "fps": 15,
    "duration_s": 600,
    "workers": [{
        "waypoints": [[0.15, 0.72], [0.68, 0.72]], "speed_per_s": 0.3, "start_s": 1.0,
        "pause_s": 2.5, "height": 0.42, "clothing": "work",
    }],
    "appearance": {"noise_sigma": 3, "blur_px": 1},
}  # fmt: skip


def cell_deployment(tmp_path: Path, port: int, scene: dict[str, Any] | None = None) -> Path:
    """The verifier's simulated cell with absolute paths, `port`, and the walking worker.

    The budget is generous: these tests are about the stop path, not about a loaded machine's
    frame times, so a slow cycle must not trip the box before the person does."""
    data = yaml.safe_load(CELL.read_text(encoding="utf-8"))
    base = CELL.parent
    (tmp_path / "scene.yaml").write_text(yaml.safe_dump(scene or SCENE), encoding="utf-8")
    cam = data["cameras"][0]
    cam["source"]["scenario"] = str(tmp_path / "scene.yaml")
    cam["model"]["path"] = str((base / cam["model"]["path"]).resolve())
    cam["zones"] = str((base / cam["zones"]).resolve())
    cam.update(budget_ms=2000, stall_ms=2000)
    data["plc"].update(port=port, loop_stale_ms=2000, request_timeout_ms=500)
    data.update(log_json=True, cycle_log_s=0.5)
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def start_box(
    dep: Path, stderr: int | IO[Any], stdout: int | IO[Any], *args: str
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "plantvision", "run", str(dep), "--quiet", *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=stdout, stderr=stderr)


def permit_writes(sim: PlcSimulator, since: int = 0) -> Iterator[tuple[int, int]]:
    """(index in the write log, permit) of every write that set the permit, from `since`."""
    log = sim.write_log
    for i in range(since, len(log)):
        if "permit" in log[i]["signals"]:
            yield i, int(log[i]["signals"]["permit"])


def raise_permit(sim: PlcSimulator, child: subprocess.Popen[bytes]) -> int:
    """Press reset, as a patient operator would, until the box raises the permit; the index of
    the write that raised it. Presses while the worker is in the zone are refused, so this
    also waits for the worker to walk out."""
    assert wait_for(lambda: bool(sim.write_log) or child.poll() is not None, BOOT_TIMEOUT_S), (
        "the box never wrote to the PLC"
    )
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not sim.permit_seen and time.monotonic() < deadline and child.poll() is None:
        sim.press_reset()  # counted on its release, reset_pulse_ms later
        wait_for(lambda: sim.permit_seen, 1.5)
    assert sim.permit_seen, f"the box never raised the permit (exit code {child.poll()})"
    return next(i for i, p in permit_writes(sim) if p == 1)


def end_box(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.wait(30)
