"""The reject rig's plant: the PLC simulator with the belt's truth, the network camera over that
belt, and the witness; what the box under test talks to, and what the judge's truth comes from.

`LocalPlant(spec, folder)` builds it in the calling process from the cell files `rig.write_cell`
wrote into `folder` (the deployment's signal map and conveyor, the scenario's belt): the rig's
in-process plant (`RigSpec.plant` "thread", and every rendered-camera run), and what the plant
process (simulators.plc.plant_process) runs inside itself. Either way the rig drives it through
the same five steps (`Plant`): build (-> Modbus port, camera URL), `begin` (-> belt travel at the
start; the witness starts), `run_belt` (reset, start, run), `finish` (-> `PlantLog`), `close`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from plantvision.loop.deployment import load_deployment
from plantvision.types import ImageArray
from simulators.demo import conveyor_sim_config
from simulators.plc.conveyor import EjectorSite
from simulators.plc.rig_spec import RigSpec
from simulators.plc.server import PlcSimulator, SimConfig
from simulators.plc.witness import BeltWitness
from simulators.scene import SceneRenderer, load_scenario
from simulators.scene.mjpeg import MjpegCamera


@dataclass(frozen=True)
class PlantLog:
    """What a run left at the plant: the simulator's pulse and write logs, the belt travel of
    every frame the camera sent (network) or the box grabbed (rendered camera), the belt travel
    at `begin` and at `finish`, the witness's samples, and the simulator's ejector (its true
    response)."""

    pulses: list[dict[str, Any]]
    write_log: list[dict[str, Any]]
    grabbed_mm: list[float]
    start_mm: float
    end_mm: float
    witness_t_ns: list[int]
    witness_mm: list[float]
    site: EjectorSite


class Plant(Protocol):
    """The rig's handle on its plant, wherever it runs."""

    port: int  # the PLC simulator's Modbus TCP port on 127.0.0.1
    url: str  # the network camera's stream, or "" (the box renders its own)
    note: str  # where it runs, at which priority
    in_box: bool  # in the box's own process (its witness sees the box's stalls)

    def begin(self) -> float: ...
    def run_belt(self, belt_s: float) -> None: ...
    def finish(self) -> PlantLog: ...
    def close(self) -> None: ...


class LocalPlant:
    """The plant in this process. `sim_class`: the simulator to build (a bench's subclass may
    inject faults)."""

    in_box = True

    def __init__(
        self, spec: RigSpec, folder: Path, sim_class: type[PlcSimulator] = PlcSimulator
    ) -> None:
        dep = load_deployment(folder / "deployment.yaml")
        cam = dep.cameras[0]
        # The belt's truth comes from the scenario, which a network camera's source does not name.
        scene_cam = cam.model_copy(
            update={"source": cam.source.model_copy(update={"scenario": "scenario.yaml"})}
        )
        conveyor, belt = conveyor_sim_config(scene_cam, folder)
        # The push comes output_ms after the coil on top of the actuator's response (truth's own
        # figure, not the deployment's, which may not be told it).
        late = tuple(replace(e, response_ms=spec.actuator_response_ms + spec.output_ms)
                     for e in conveyor.ejectors)  # fmt: skip
        self.sim = sim_class(
            SimConfig(
                signals=dep.plc.signals, item_truth=belt,
                conveyor=replace(conveyor, ejectors=late, ramp_ms=spec.ramp_ms),
                stopping_ms=50, watchdog_ms=1000, encoder_age_ms=spec.encoder_ms,
                log_path=folder / "plc_writes.jsonl", pulse_log_path=folder / "pulses.jsonl",
            )
        )  # fmt: skip
        assert self.sim.belt is not None
        self.note = "threads in the box's process"
        self.grabbed_mm: list[float] = []  # appended by the camera (or the box's grabber)
        self.witness = BeltWitness(self.sim.belt.read)
        self._started = self._stopped = False
        self._start_mm = 0.0
        self.port = self.sim.start()
        self._netcam = network_camera(folder, spec.fps) if spec.network else None
        self.url = ""
        if self._netcam is not None:
            # The box grabs what the camera sends it, never more.
            self._netcam.on_sent = self.grabbed_mm.append
            self.url = self._netcam.start(self.sim.belt.read)  # exposed where the belt truly is

    def begin(self) -> float:
        """The witness starts; returns the belt travel now (before the box starts)."""
        assert self.sim.belt is not None
        self._start_mm = self.sim.belt.belt_mm()
        self.witness.start()
        self._started = True
        return self._start_mm

    def run_belt(self, belt_s: float) -> None:
        run_belt(self.sim, belt_s)

    def finish(self) -> PlantLog:
        """The witness stops; the logs (call after the box stopped)."""
        belt = self.sim.belt
        assert belt is not None
        self._stop_witness()
        t_ns, mm = self.witness.samples()
        return PlantLog(
            belt.pulses(), list(self.sim.write_log), list(self.grabbed_mm), self._start_mm,
            belt.belt_mm(), t_ns, mm, belt.cfg.ejectors[0],
        )  # fmt: skip

    def close(self) -> None:
        self._stop_witness()
        if self._netcam is not None:
            self._netcam.stop()
        self.sim.stop()

    def _stop_witness(self) -> None:
        if self._started and not self._stopped:
            self.witness.stop()
            self._stopped = True


def network_camera(folder: Path, fps: float) -> MjpegCamera:
    """The MJPEG camera over the scenario in `folder` (not yet exposing)."""
    renderer = SceneRenderer(load_scenario(folder / "scenario.yaml"))

    def render(t_s: float, travel_mm: float) -> ImageArray:
        image: ImageArray = renderer.render(t_s, travel_mm)[0]
        return image

    return MjpegCamera(render, fps)


RESET_TRIES, START_WAIT_S = 10, 3.0
RUN_BELT_BOUND_S = RESET_TRIES * (START_WAIT_S + 0.1)  # run_belt's own waits, past the belt's


def run_belt(sim: PlcSimulator, belt_s: float) -> None:
    """Press reset, then start once ready, until the belt runs; then let it run `belt_s`
    seconds (bounded waits). A reset re-arms; only the start command starts the belt."""
    for _ in range(RESET_TRIES):
        sim.press_reset()
        # The reset input stays high for reset_pulse_ms: the box counts the press on release,
        # raises its permit, and the machine is ready for the start button.
        if _wait_for(sim.press_start, START_WAIT_S):
            time.sleep(belt_s)
            return
    raise RuntimeError("the belt never started: the box did not take the reset")


def _wait_for(cond: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
