"""`plantvision capture-latency` measures what it says, in a real cell: the PLC simulator over
loopback TCP (its encoder read by the command's read-only probe, the permit held by the box's own
link, as the running service holds it on site), the scene camera rendering the belt `capture_ms`
before each frame's stamp (the rig's simulated capture latency: BeltSceneGrabber stamps the
frame at the instant it reads the belt, so that is the true latency to the millisecond), and the
project's ONNX cell detector boxing the items. The belt stands, the command says so, the test
starts it (a step to 500 mm/s, as an integrator's start button does), and the figure it gives
must be the injected latency.

Tolerance, 5 ms (2.5 mm of belt at 500 mm/s): each encoder reading is stamped at the middle of
its round trip, so up to half of it off (the probe keeps readings whose half trip is at most
3 ms, as the runtime does, and the error averages out over hundreds of them); the detector's box
centres move by a pixel or two (1 mm/px here) from frame to frame and the standing references
carry their own error into every frame (about 1 ms). A wrong method misses by tens of ms: an
alias is a pitch (150 mm, 300 ms) off, a frame period is 50 ms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from plantvision.cli import main
from plantvision.commands.latency_record import measure_camera
from plantvision.conveyor.latency import Limits, estimate
from plantvision.frames.grabbers import Grabber
from plantvision.loop.deployment import CameraModel, load_deployment
from plantvision.plc.link import PlcLink, PlcOutputs
from simulators.demo import conveyor_sim_config, scene_grabber
from simulators.plc import PlcSimulator, SimConfig
from simulators.plc.rig import RigSpec, write_cell
from tests.reject.running_belt import running_link

REPO = Path(__file__).resolve().parents[2]
CELL_MODEL = REPO / "plantvision" / "models" / "cell_detector.onnx"
SPEED_MM_S = 500.0
TOLERANCE_MS = 5.0


def _hold_permit(link: PlcLink, stop: threading.Event) -> None:
    """What the running service does for the cell: keep the permit and heartbeat going."""
    while not stop.wait(0.1):
        link.write(PlcOutputs(permit=True))


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[tuple[Path, PlcSimulator, PlcLink]]:
    """The rig's reject cell (scene, deployment with the cell detector), its PLC simulator
    with the belt standing behind a running machine, and the box's link holding the permit."""
    dep_file = write_cell(RigSpec(SPEED_MM_S, "box", model=CELL_MODEL, fps=20.0), tmp_path)
    conveyor, belt = conveyor_sim_config(load_deployment(dep_file).cameras[0], tmp_path)
    sim = PlcSimulator(SimConfig(conveyor=conveyor, item_truth=belt, watchdog_ms=2000))
    assert sim.belt is not None
    sim.belt.set_speed(0.0)  # running, standing: the start is the integrator's, later
    running = running_link(sim)
    _, link = next(running)
    stop = threading.Event()
    keeper = threading.Thread(target=_hold_permit, args=(link, stop), daemon=True)
    keeper.start()
    yield dep_file, sim, link
    stop.set()
    keeper.join()
    next(running, None)


def _camera(
    sim: PlcSimulator, capture_ms: float
) -> Callable[[CameraModel, Path, Callable[[], int]], Grabber]:
    """The scene camera over the simulator's belt, showing it `capture_ms` before the stamp."""
    belt = sim.belt
    assert belt is not None
    return lambda cam, base, clock: scene_grabber(
        cam, base, clock, lambda: belt.read(int(capture_ms * 1e6))
    )


@pytest.mark.parametrize("capture_ms", [0.0, 80.0])
def test_the_measured_capture_latency_is_the_cameras(
    cell: tuple[Path, PlcSimulator, PlcLink], capture_ms: float
) -> None:
    """A camera that shows the belt 0 or 80 ms before its stamp measures 0 or 80 ms, within
    5 ms, from a belt that stood with items in view and then started."""
    dep_file, sim, _ = cell
    dep = load_deployment(dep_file)
    dep = dep.model_copy(update={"plc": dep.plc.model_copy(update={"port": sim.port})})
    started: list[int] = []

    def start_belt(items: int) -> None:
        started.append(items)
        assert sim.belt is not None
        sim.belt.set_speed(SPEED_MM_S)

    limits = Limits()
    rec = measure_camera(
        dep, dep_file, 0, seconds=30, limits=limits, on_standing=start_belt,
        simulated=_camera(sim, capture_ms), logger=structlog.get_logger(),
    )  # fmt: skip
    assert started, "the command never saw the belt stand with items in view"
    est = estimate(rec.track, rec.frames, limits)
    assert est.median_ms == pytest.approx(capture_ms, abs=TOLERANCE_MS), est
    assert len(est.frames) >= limits.min_frames


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deployments/demo-conveyor.yaml"], "cameras[0].source.kind: a simulated source has no"),
        (["deployments/demo-conveyor.yaml", "--camera", "belt2"], "no camera 'belt2'"),
        (["deployments/demo.yaml"], "0 cameras watch a belt with an encoder"),
    ],
)
def test_a_deployment_it_cannot_measure_is_refused_naming_the_field(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any camera or PLC is opened: a camera that is not live, a camera that is not
    there, a deployment without a conveyor camera over an encoder belt (exit 2, one line)."""
    assert (
        main(["capture-latency", *(str(REPO / a) if a.endswith(".yaml") else a for a in argv)]) == 2
    )
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
