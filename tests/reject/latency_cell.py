"""A reject cell whose camera has a known capture latency, for `plantvision capture-latency`:
the rig's scene and deployment (the ONNX cell detector), the PLC simulator over loopback TCP with
the belt standing behind a running machine, and the box's own link holding the permit (as the
running service holds it on site). The scene camera shows the belt `capture_ms` before each
frame's stamp: BeltSceneGrabber stamps a frame at the instant it reads the belt, so that is the
true latency to the millisecond."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from plantvision.commands.latency_record import measure_camera
from plantvision.conveyor.latency import Estimate, Limits, estimate
from plantvision.frames.grabbers import Grabber
from plantvision.loop.deployment import CameraModel, load_deployment
from plantvision.plc.link import PlcLink, PlcOutputs
from simulators.demo import conveyor_sim_config, scene_grabber
from simulators.plc import PlcSimulator, SimConfig
from simulators.plc.rig import RigSpec, write_cell
from tests.reject.running_belt import running_link

REPO = Path(__file__).resolve().parents[2]
CELL_MODEL = REPO / "plantvision" / "models" / "cell_detector.onnx"


@dataclass
class LatencyCell:
    dep_file: Path
    sim: PlcSimulator
    speed_mm_s: float
    started: int = 0  # belt starts the command asked for

    def measure(self, capture_ms: float, limits: Limits | None = None) -> Estimate:
        """Stand the belt, run the command's recording with a camera `capture_ms` late, start
        the belt when it says so, and estimate (raises CannotMeasureError)."""
        limits = limits or Limits()
        belt = self.sim.belt
        assert belt is not None
        belt.set_speed(0.0)
        dep = load_deployment(self.dep_file)
        dep = dep.model_copy(update={"plc": dep.plc.model_copy(update={"port": self.sim.port})})

        def start_belt(_items: int) -> None:
            self.started += 1
            belt.set_speed(self.speed_mm_s)

        def camera(cam: CameraModel, base: Path, clock: Callable[[], int]) -> Grabber:
            return scene_grabber(cam, base, clock, lambda: belt.read(int(capture_ms * 1e6)))

        rec = measure_camera(
            dep, self.dep_file, 0, seconds=30, limits=limits, on_standing=start_belt,
            simulated=camera, logger=structlog.get_logger(),
        )  # fmt: skip
        return estimate(rec.track, rec.frames, limits)


def _hold_permit(link: PlcLink, stop: threading.Event) -> None:
    """What the running service does for the cell: keep the permit and heartbeat going."""
    while not stop.wait(0.1):
        link.write(PlcOutputs(permit=True))


@contextmanager
def latency_cell(folder: Path, speed_mm_s: float = 500.0, fps: float = 20.0
                 ) -> Iterator[LatencyCell]:  # fmt: skip
    """The cell in `folder`, its machine running with the belt standing; stopped after."""
    dep_file = write_cell(RigSpec(speed_mm_s, "box", model=CELL_MODEL, fps=fps), folder)
    conveyor, belt = conveyor_sim_config(load_deployment(dep_file).cameras[0], folder)
    sim = PlcSimulator(SimConfig(conveyor=conveyor, item_truth=belt, watchdog_ms=2000))
    assert sim.belt is not None
    sim.belt.set_speed(0.0)  # running, standing: the start is the integrator's, later
    running = running_link(sim)
    _, link = next(running)
    stop = threading.Event()
    keeper = threading.Thread(target=_hold_permit, args=(link, stop), daemon=True)
    keeper.start()
    try:
        yield LatencyCell(dep_file, sim, speed_mm_s)
    finally:
        stop.set()
        keeper.join()
        next(running, None)
