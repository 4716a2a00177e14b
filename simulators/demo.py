"""Wire simulated parts into a deployment for the demo: the scene camera and the PLC simulator.

The product never imports its simulators; only this command-line module does, and only when a
deployment asks for them (`source.kind: simulated`, `demo.plc_simulator: true`).

A simulated camera with a `conveyor:` section watches the PLC simulator's belt: the simulator's
machine is the belt (its encoder counts it), and the scene renders the items at the belt's true
travel at each grab, so camera, encoder and ejector pulses describe one belt in one clock.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plantvision.frames.grabbers import Grabber, RenderGrabber
from plantvision.loop.build import SimulatedGrabber, resolve
from plantvision.loop.deployment import CameraModel, DeploymentModel
from plantvision.types import ImageArray

ReadBelt = Callable[[], tuple[int, float]]


class BeltSceneGrabber:
    """A camera over the PLC simulator's belt: each grab reads (time, belt travel) in one step
    and renders the scene at that travel, stamped with that time. `on_truth(image, truth)` sees
    each frame's ground truth (for development detectors and checks)."""

    def __init__(
        self,
        renderer: Any,
        read_belt: ReadBelt,
        fps: float,
        source_id: str,
        on_truth: Callable[[ImageArray, Any], None] | None = None,
    ) -> None:
        self._renderer, self._read_belt, self._on_truth = renderer, read_belt, on_truth
        self.source_id, self.live = source_id, True
        self.nominal_fps: float | None = fps
        self.last_capture_ns: int | None = None
        self._t0_ns: int | None = None

    def open(self) -> None:
        self._t0_ns = None

    def grab(self) -> ImageArray | None:
        t_ns, travel_mm = self._read_belt()
        self._t0_ns = t_ns if self._t0_ns is None else self._t0_ns
        self.last_capture_ns = t_ns
        image, truth = self._renderer.render((t_ns - self._t0_ns) / 1e9, travel_mm)
        if self._on_truth is not None:
            self._on_truth(image, truth)
        frame: ImageArray = image
        return frame

    def close(self) -> None:
        pass


def scene_grabber(
    cam: CameraModel, base: Path, clock_ns: Callable[[], int], read_belt: ReadBelt | None = None
) -> Grabber:
    """A camera that renders the scenario at the time of each grab (over the simulator's belt
    when `read_belt` is given)."""
    from simulators.scene import SceneRenderer, load_scenario

    renderer = SceneRenderer(load_scenario(resolve(base, cam.source.scenario)))
    if read_belt is not None:
        return BeltSceneGrabber(renderer, read_belt, cam.source.fps, cam.id)

    def render(t_s: float) -> ImageArray:
        image: ImageArray = renderer.render(t_s)[0]
        return image

    return RenderGrabber(render, cam.source.fps, clock_ns, cam.id)


def _conveyor_camera(dep: DeploymentModel) -> CameraModel | None:
    return next(
        (c for c in dep.cameras if c.conveyor is not None and c.source.kind == "simulated"), None
    )


def conveyor_sim_config(cam: CameraModel, base: Path) -> tuple[Any, Any]:
    """(ConveyorSimConfig, item truth) for a simulated conveyor camera: the belt speed from the
    scenario, the ejectors where the camera's mapping puts them on the scene's belt."""
    from simulators.plc import ConveyorSimConfig, EjectorSite
    from simulators.scene import SceneRenderer, load_scenario

    conv = cam.conveyor
    scenario = load_scenario(resolve(base, cam.source.scenario))
    belt = SceneRenderer(scenario).belt
    if conv is None or belt is None or scenario.conveyor is None:
        raise ValueError(f"camera {cam.id}: needs a conveyor section and a conveyor scenario")
    mm_per_px = belt.mm_per_px  # the scene's belt mm per pixel of its own frame width
    origin_mm = conv.mapping.origin_px * mm_per_px
    by_output = {i if e.output is None else e.output: e for i, e in enumerate(conv.ejectors)}
    far_away = EjectorSite(x_mm=1e12)  # coils this camera does not drive hit nothing
    sites = tuple(
        far_away
        if (e := by_output.get(i)) is None
        else EjectorSite(
            x_mm=origin_mm + e.position_mm,
            # PLC-timed: the PLC's own pulse (pulse_mm is box-timed only, the box times it)
            pulse_ms=e.pulse_ms if e.pulse_ms is not None else 30.0,
            # coil on at the PLC to the push: the output's own delay, then the actuator's
            response_ms=e.output_latency_ms + e.actuator_response_ms,
            reach_mm=scenario.conveyor.item_size_mm / 3,
        )
        for i in range(max(by_output) + 1)
    )
    enc = conv.belt.encoder
    return (
        ConveyorSimConfig(
            counts_per_mm=enc.counts_per_mm if enc else 10.0,
            belt_speed_mm_s=scenario.conveyor.belt_speed_mm_s,
            ejectors=sites,
        ),
        belt,
    )


def start_plc_simulator(
    dep: DeploymentModel, log_path: Path | None = None, base: Path | None = None
) -> tuple[Any, int]:
    """Start the PLC simulator in-process on a free loopback port; returns (simulator, port).
    With a simulated conveyor camera, the simulator's machine is that camera's belt."""
    from simulators.plc import PlcSimulator, SimConfig

    cam = _conveyor_camera(dep)
    conveyor, truth = (None, None) if cam is None else conveyor_sim_config(cam, base or Path("."))
    sim = PlcSimulator(
        SimConfig(
            signals=dep.plc.signals,
            host="127.0.0.1",
            unit_id=dep.plc.unit_id,
            stopping_ms=int(dep.safety.stopping_time_ms),
            log_path=log_path,
            conveyor=conveyor,
            item_truth=truth,
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


def start_demo_plant(
    dep: DeploymentModel, base: Path, log_path: Path | None = None
) -> tuple[Any, int, SimulatedGrabber]:
    """The PLC simulator (see start_plc_simulator) and the simulated-camera factory to build the
    cameras with: a conveyor camera renders the simulator's belt."""
    sim, port = start_plc_simulator(dep, log_path, base)
    cam = _conveyor_camera(dep)

    def simulated(c: CameraModel, b: Path, clock_ns: Callable[[], int]) -> Grabber:
        belt = (
            sim.belt.read if sim.belt is not None and cam is not None and c.id == cam.id else None
        )
        return scene_grabber(c, b, clock_ns, belt)

    return sim, port, simulated


def describe_pulses(sim: Any) -> list[str]:
    """Report lines on the simulator's ejector pulses and its reject bin."""
    if sim is None or sim.belt is None:
        return []
    pulses = sim.belt.pulses()
    binned = [p for p in pulses if p.get("binned")]
    good = sum(1 for p in binned if not p.get("defective"))
    errors = sorted(abs(p["error_ms"]) for p in pulses if p.get("error_ms") is not None)
    line = f"  plc simulator: {len(pulses)} ejector pulses, {len(binned)} items in the bin"
    line += f" ({len(binned) - good} defective, {good} good)"
    if errors:
        p99 = errors[min(len(errors) - 1, round(0.99 * (len(errors) - 1)))]
        line += f"; |pulse error| median {errors[len(errors) // 2]:.2f} ms, p99 {p99:.2f} ms"
    return [line]
