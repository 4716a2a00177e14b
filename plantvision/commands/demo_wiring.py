"""Wire simulated parts into a deployment for the demo: the scene camera and the PLC simulator.

The product never imports its simulators; only this command-line module does, and only when a
deployment asks for them (`source.kind: simulated`, `demo.plc_simulator: true`).
"""

from __future__ import annotations

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
