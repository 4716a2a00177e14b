"""Wire simulated parts into a deployment for the demo: the scene camera and the PLC simulator.

The product never imports its simulators; only this command-line module does, and only when a
deployment asks for them (`source.kind: simulated`, `demo.plc_simulator: true`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plantvision.config import CameraModel, DeploymentModel
from plantvision.deploy import resolve
from plantvision.grabbers import Grabber, RenderGrabber
from plantvision.types import ImageArray


def scene_grabber(cam: CameraModel, base: Path, clock_ns: Callable[[], int]) -> Grabber:
    """A camera that renders the scenario at the time of each grab."""
    from simulators.scene import SceneRenderer, load_scenario

    renderer = SceneRenderer(load_scenario(resolve(base, cam.source.scenario)))

    def render(t_s: float) -> ImageArray:
        image: ImageArray = renderer.render(t_s)[0]
        return image

    return RenderGrabber(render, cam.source.fps, clock_ns, cam.id)


def start_plc_simulator(dep: DeploymentModel, log_path: Path | None = None) -> tuple[Any, int]:
    """Start the PLC simulator in-process on a free loopback port; returns (simulator, port)."""
    from simulators.plc import PlcSimulator, SimConfig

    sim = PlcSimulator(
        SimConfig(
            signals=dep.plc.signals,
            host="127.0.0.1",
            unit_id=dep.plc.unit_id,
            stopping_ms=int(dep.safety.stopping_time_ms),
            log_path=log_path,
        )
    )
    return sim, sim.start()


def spawn_plc_simulator(dep: DeploymentModel) -> tuple[subprocess.Popen[str], int]:
    """Start the PLC simulator as its own process, as a real PLC is its own device: its server
    then never competes with the box for the interpreter lock. Returns (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.plc", "--port", "0", "--unit-id",
         str(dep.plc.unit_id), "--stopping-ms", str(int(dep.safety.stopping_time_ms))],
        stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+)\s*$", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"PLC simulator did not start: {line!r}")
    return proc, int(match.group(1))
