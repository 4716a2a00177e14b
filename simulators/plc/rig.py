"""A whole reject cell on one machine: scene camera, plantvision's loop, PLC simulator over TCP.

`run_rig(spec, folder)` writes a deployment and a scenario into `folder`, builds the cameras
through plantvision.loop.build (as `run` does), starts the PLC simulator with the scene's
belt as its item truth, presses reset and then start until the belt runs, lets it run `belt_s`
seconds, and returns the simulator's pulse log with the truth to judge it by. Used by the
end-to-end tests and by `python -m simulators.plc.pulse_bench`.

The deployment is one `plantvision check` passes (its box-timed reject horizon covers the
camera's longest update gap) and tells the product the simulated paddle's reach. A witness
thread (simulators.plc.witness) reads the belt every millisecond while it runs: a missed reject
the product counted for an item due while the machine held the process off the CPU is excused
(`RigResult.excuses`); every other outcome is judged as it is.

With `network`, the camera is a network camera (simulators.scene.mjpeg: MJPEG over HTTP on
loopback, exposed at the belt's true position) that the box reads through its own `stream`
source, so every millisecond from exposure to the frame's stamp is real, not simulated.

With `stall_s` the camera hangs (its grab blocks, as a dead stream's read does) `stall_at_s`
after the belt started; after it the operator presses reset and start again and the belt runs
`after_s` more. The belt travel of every frame the camera grabbed comes back, so a judge can
tell from the scene's own truth which items no frame showed whole (`unseen_items`).

The deployment always has a coverage map (`longest_item_mm`, by default the scene's own item
size), so at start-up the box pushes over the belt between view and ejector: good items there
are binned rightly (`unseen`), and pushes aimed at blind belt (`aims_unseen`) may meet none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import structlog
import yaml

from plantvision.conveyor.actions import MissedReject
from plantvision.frames.grabbers import Grabber
from plantvision.loop.build import build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import CameraModel, load_deployment
from plantvision.plc.link import PlcLink
from plantvision.types import Detections, ImageArray, StageTimes
from simulators.demo import BeltSceneGrabber, conveyor_sim_config, scene_grabber
from simulators.plc.conveyor import EjectorSite
from simulators.plc.hang import Hang, HangingGrabber, unseen_items
from simulators.plc.server import PlcSimulator, SimConfig
from simulators.plc.witness import BeltWitness, Excuses, judge
from simulators.scene import GroundTruth, SceneRenderer, SceneScenario, load_scenario
from simulators.scene.items import Belt
from simulators.scene.mjpeg import MjpegCamera

FRAME_W, FRAME_H = 640, 480
BUDGET_MS = 500
# Box-timed plans are armed in camera cycles this long before their fire time: at least the
# longest update gap `plantvision check` asks for, budget + min(stall, budget) / 4 = 625 ms (the
# default 100 ms lost items in 150-300 ms stalls of a loaded machine: decided after their fire
# time, reject_missed reason=late).
HORIZON_MS = 650.0
REACH_MM = 20.0  # the simulated paddle's (simulators.demo: item_size_mm / 3 = 60 / 3)
ZONES = {
    "version": 1,
    "camera": "belt",
    "units": "normalized",
    "zones": [
        {"id": "walkway", "kind": "warn", "polygon": [[0, 0.3], [1, 0.3], [1, 0.5], [0, 0.5]]}
    ],
}


Stamps = Literal["arrival", "camera"]


@dataclass(frozen=True)
class RigSpec:
    """One run: belt speed, timing mode, where the ejector is, how long, which detector."""

    speed_mm_s: float
    mode: Literal["box", "plc"]
    ejector_mm: float = 700.0  # downstream of the camera reference line (the frame's left edge)
    belt_s: float = 3.0
    fps: float = 20.0
    pitch_mm: float = 120.0
    defect_rate: float = 0.5
    seed: int = 5
    model: Path | None = None  # ONNX detector; None: a perfect detector from the scene truth
    actuator_response_ms: float = 5.0
    # The cell's own latencies, in the simulator: frames stamped this long after exposure, the
    # encoder register this far behind the counter, the push this much later than the coil
    # (on top of the actuator's response). `told`: the deployment configures the same values
    # (source.capture_latency_ms, encoder.latency_ms, output_latency_ms); else they stay 0.
    capture_ms: float = 0.0
    encoder_ms: float = 0.0
    output_ms: float = 0.0
    told: bool = False
    ramp_ms: float = 0.0  # the belt accelerates to speed_mm_s over this after each start
    # A network camera (MJPEG over HTTP) instead of the rendered one: its capture latency is
    # real, and `capture_ms` is only what the deployment is told (with `told`), never simulated.
    network: bool = False
    # How the box dates the network camera's frames (source.frame_stamps): at arrival, or by
    # the capture time each part carries on the camera's own clock.
    stamps: Stamps = "arrival"
    # Reject unless proven good: the deployment's coverage map (always on, as every deployment's).
    budget_ms: float = BUDGET_MS  # the camera's: a longer one lets the belt run blind longer
    horizon_ms: float = HORIZON_MS  # box: at least the longest update gap (check's rule)
    longest_item_mm: float | None = None  # None: the scene's own item size (its truth)
    no_decision_action: str = "reject"
    stall_at_s: float = 0.0  # the camera hangs this long after the belt starts ...
    stall_s: float = 0.0  # ... for this long (0: never)
    after_s: float = 0.0  # then reset and start again, and run this long


@dataclass
class RigResult:
    """The pulse log and the truth: which items passed camera and ejector while it ran."""

    pulses: list[dict[str, Any]]
    defective_passed: set[int]
    good_passed: set[int]
    counters: dict[str, int]
    timer_errors_ns: list[int] = field(default_factory=list)
    fire_log: list[tuple[int, int, int]] = field(default_factory=list)  # item, planned, actual
    grabbed_mm: list[float] = field(default_factory=list)  # belt travel of every frame grabbed
    start_mm: float = 0.0  # belt travel when the box started, and when the run ended
    end_mm: float = 0.0
    permit_writes: list[tuple[int, int]] = field(default_factory=list)  # (t_ns, permit)
    fault_writes: list[tuple[int, int]] = field(default_factory=list)  # (t_ns, fault code)
    unseen: set[int] = field(default_factory=set)  # passed the ejector, never shown whole
    start_centre_mm: dict[int, float] = field(default_factory=dict)  # binned: where at start
    hang_ns: tuple[int, int] = (0, 0)  # when the camera hung, and until when
    missed_rejects: list[MissedReject] = field(default_factory=list)  # the product's
    excuses: Excuses = field(default_factory=Excuses)
    site: EjectorSite | None = None  # the simulator's ejector (its true response)
    whole_mm: tuple[float, float] = (0.0, 0.0)  # along the view: where an item lies whole

    def aims_unseen(self, pulse: dict[str, Any]) -> bool:
        """The belt the paddle met at `pulse` lay whole in no grabbed frame (the scene's truth,
        as `unseen`): a push over blind belt (start-up, a stall), which may meet no item."""
        if self.site is None:
            return False
        push_mm = pulse["belt_mm"] + pulse["speed_mm_s"] * self.site.response_ms / 1000
        lo, hi = self.whole_mm
        return not any(lo <= self.site.x_mm - push_mm + t <= hi for t in self.grabbed_mm)

    def timing_errors_ms(self) -> list[float]:
        """Per pulse: coil on at the simulator minus the ideal instant the box or PLC aimed at
        (box: the plan's fire time; PLC: when the encoder plus the lead reached the arrival)."""
        out: list[float] = []
        planned = sorted(p for _, p, _ in self.fire_log)
        for p in self.pulses:
            if "end_count" in p:  # a range over a blind segment begins at once, by design
                continue
            if p["mode"] == "plc":
                out.append(p["past_counts"] / p["counts_per_ms"])
            elif planned:
                nearest = min(planned, key=lambda t: abs(t - p["t_ns"]))
                out.append((p["t_ns"] - nearest) / 1e6)
        return out

    def position_errors_ms(self) -> list[float]:
        """Per pulse aimed at an item (not at blind belt, `aims_unseen`): the item's true offset
        from the ejector at the push, as time at belt speed (actual minus ideal, positive: late).
        """
        return [p["error_ms"] for p in self.pulses
                if p.get("error_ms") is not None and not self.aims_unseen(p)]  # fmt: skip

    @property
    def binned(self) -> set[int]:
        """Items in the bin: pushed, or swept by a paddle that stayed out."""
        pushed = {int(p["item"]) for p in self.pulses if p.get("binned")}
        return pushed | {int(s["item"]) for p in self.pulses for s in p.get("swept", ())}

    @property
    def judged_pulses(self) -> list[dict[str, Any]]:
        """The pulse log less the late switch-ons a starved process excuses."""
        return [p for i, p in enumerate(self.pulses) if i not in self.excuses.pulses]

    @property
    def in_bin(self) -> set[int]:
        """Every item in the bin: pushed, or swept by a long push (a range)."""
        return in_bin(self.pulses)

    @property
    def missed(self) -> set[int]:
        """Defective items that passed the ejector and are not in the bin (pushed, or swept by
        a long push: a range over blind belt)."""
        return self.defective_passed - self.in_bin

    @property
    def good_rejected(self) -> set[int]:
        """Good items in the bin (pushed by a judged pulse, or swept by a long push) that some
        grabbed frame showed whole (judged set or not): proven good, never to be binned. A good
        item no frame showed whole (`unseen`: start-up, a stall) is binned rightly (reject
        unless proven good)."""
        pulses = self.judged_pulses
        pushed = {int(p["item"]) for p in pulses if p.get("binned") and not p["defective"]}
        swept = {int(s["item"]) for p in self.pulses for s in p.get("swept", [])
                 if not s["defective"]}  # fmt: skip
        return (pushed | swept) - self.unseen


class TruthDetector:
    """A perfect detector for development: the scene's ground truth of the image it is given."""

    def __init__(self) -> None:
        self._truth: dict[int, Detections] = {}

    def remember(self, image: ImageArray, detections: Detections) -> None:
        if len(self._truth) > 64:
            self._truth.clear()
        self._truth[id(image)] = detections

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        return self._truth.pop(id(image))


def _scenario(spec: RigSpec) -> SceneScenario:
    base = load_scenario(Path(__file__).parents[1] / "scene" / "scenarios" / "conveyor.yaml")
    assert base.conveyor is not None
    conv = base.conveyor.model_copy(
        update={
            "belt_speed_mm_s": spec.speed_mm_s,
            "item_pitch_mm": spec.pitch_mm,
            "defect_rate": spec.defect_rate,
        }
    )
    return base.model_copy(
        update={"seed": spec.seed, "workers": [], "conveyor": conv, "fps": spec.fps}
    )


def _deployment(spec: RigSpec, folder: Path, model: Path, url: str = "") -> dict[str, Any]:
    ejector = {
        "id": "kicker",
        "position_mm": spec.ejector_mm,
        "actuator_response_ms": spec.actuator_response_ms,
        "pulse_ms": 30,
        "output": 0,
        "output_latency_ms": spec.output_ms if spec.told else 0.0,
        "reach_mm": REACH_MM,
    }
    source: dict[str, Any] = {"kind": "simulated", "scenario": "scenario.yaml", "fps": spec.fps}
    if url:
        source = {"kind": "stream", "uri": url, "fps": spec.fps, "frame_stamps": spec.stamps}
    source["capture_latency_ms"] = spec.capture_ms if spec.told else 0.0
    encoder = {"signal": "encoder", "counts_per_mm": 10}
    encoder["latency_ms"] = spec.encoder_ms if spec.told else 0.0
    camera: dict[str, Any] = {
        "id": "belt",
        "source": source,
        # No conf_threshold / nms_iou: the detector runs at the model card's (cell model: 0.55).
        "model": {"path": str(model), "family": "yolov8", "intra_op_threads": 1},
        "zones": "zones.yaml",
        "budget_ms": spec.budget_ms,
        "overrun_policy": "warn",
        "stall_ms": 3000,
        "conveyor": {
            "belt": {"encoder": encoder},
            "mapping": {"mm_per_px": 1.0, "origin_px": 0},
            "gate_mm": 30,
            "ejectors": [ejector],
            "timing_mode": spec.mode,
            "horizon_ms": spec.horizon_ms,
        },
    }
    longest = spec.longest_item_mm
    if longest is None:  # the scene's real longest item: every item is that square
        scene = _scenario(spec).conveyor
        assert scene is not None
        longest = scene.item_size_mm
    camera["conveyor"] |= {
        "longest_item_mm": longest,
        "no_decision_action": spec.no_decision_action,
    }
    plc = {
        "host": "127.0.0.1",
        "allowed_hosts": ["127.0.0.1"],
        "heartbeat_period_ms": 50,
        "loop_stale_ms": 3000,
    }
    guard = {"clear_hold_ms": 0, "min_off_ms": 0, "warn_hold_ms": 0}
    return {"name": "rig", "cameras": [camera], "plc": plc, "guard": guard}


def _grabber_factory(
    sim: PlcSimulator,
    renderer: SceneRenderer,
    truth: TruthDetector | None,
    capture_ms: float,
    hang: Hang,
) -> Callable[[CameraModel, Path, Callable[[], int]], Grabber]:
    belt = sim.belt
    assert belt is not None
    age_ns = int(capture_ms * 1e6)

    def read_belt() -> tuple[int, float]:  # the scene as it was age_ns before the stamp
        t_ns, travel_mm = belt.read(age_ns)
        hang.grabbed_mm.append(travel_mm)
        return t_ns, travel_mm

    def factory(cam: CameraModel, base: Path, clock_ns: Callable[[], int]) -> Grabber:
        if truth is None:
            return HangingGrabber(scene_grabber(cam, base, clock_ns, read_belt), hang.left_s)

        def remember(image: ImageArray, gt: GroundTruth) -> None:
            truth.remember(image, gt.to_detections())

        inner = BeltSceneGrabber(renderer, read_belt, cam.source.fps, cam.id, remember)
        return HangingGrabber(inner, hang.left_s)

    return factory


def run_rig(spec: RigSpec, folder: Path, log: Any = None) -> RigResult:
    """Run one cell as described; `folder` receives the deployment and scenario files."""
    log = log if log is not None else structlog.get_logger("rig")
    if spec.network and spec.model is None:
        raise ValueError("a network camera needs a real detector (RigSpec.model)")
    dep_file = write_cell(spec, folder)
    netcam = _network_camera(spec, folder)
    if netcam is not None:
        dep_file = write_cell(spec, folder, netcam.url)
    dep = load_deployment(dep_file)
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
    sim = PlcSimulator(
        SimConfig(
            signals=dep.plc.signals, item_truth=belt,
            conveyor=replace(conveyor, ejectors=late, ramp_ms=spec.ramp_ms),
            stopping_ms=50, watchdog_ms=1000, encoder_age_ms=spec.encoder_ms,
            log_path=folder / "plc_writes.jsonl", pulse_log_path=folder / "pulses.jsonl",
        )
    )  # fmt: skip
    port = sim.start()
    try:
        if netcam is not None:
            assert sim.belt is not None
            netcam.start(sim.belt.read)  # exposed where the belt truly is, at that instant
        return _run(spec, sim, port, dep, dep_file, belt, conveyor.ejectors[0], log, netcam)
    finally:
        if netcam is not None:
            netcam.stop()
        sim.stop()


def write_cell(spec: RigSpec, folder: Path, url: str = "") -> Path:
    """Write `spec`'s scenario, zones and deployment (a stream source at `url`, if given)
    into `folder`; returns the deployment file."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario = _scenario(spec)
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
    model = spec.model or folder / "unused.onnx"
    model.touch(exist_ok=True)
    # Only a warning zone: a detector's stray "person" must not stop the belt under test.
    (folder / "zones.yaml").write_text(yaml.safe_dump(ZONES))
    dep_file = folder / "deployment.yaml"
    dep_file.write_text(yaml.safe_dump(_deployment(spec, folder, model, url)))
    return dep_file


def _network_camera(spec: RigSpec, folder: Path) -> MjpegCamera | None:
    """The MJPEG camera over the scenario in `folder` (not yet exposing), or None."""
    if not spec.network:
        return None
    renderer = SceneRenderer(load_scenario(folder / "scenario.yaml"))

    def render(t_s: float, travel_mm: float) -> ImageArray:
        image: ImageArray = renderer.render(t_s, travel_mm)[0]
        return image

    return MjpegCamera(render, spec.fps)


def _run(
    spec: RigSpec,
    sim: PlcSimulator,
    port: int,
    dep: Any,
    dep_file: Path,
    belt: Belt,
    site: Any,
    log: Any,
    netcam: MjpegCamera | None = None,
) -> RigResult:
    truth = TruthDetector() if spec.model is None else None
    renderer = SceneRenderer(load_scenario(dep_file.parent / "scenario.yaml"))
    detectors: dict[str, Any] = {} if truth is None else {"belt": truth}
    hang = Hang()
    if netcam is not None:  # the box grabs what the camera sends it, never more
        netcam.on_sent = hang.grabbed_mm.append
    grabbers = _grabber_factory(sim, renderer, truth, spec.capture_ms, hang)
    cams = build_cameras(dep, dep_file, log=log, simulated=grabbers, detectors=detectors)
    link = PlcLink(dep.plc.model_copy(update={"port": port}), log)
    controller = Controller(cams, link, log=log, input_poll_ms=10)
    assert sim.belt is not None
    start_mm = sim.belt.belt_mm()
    witness = BeltWitness(sim.belt.read)
    witness.start()
    link.start()
    controller.start()
    hang_from_ns = 0
    try:
        _run_belt(sim, spec.stall_at_s if spec.stall_s else spec.belt_s)
        if spec.stall_s:
            hang_from_ns = time.monotonic_ns()
            hang.until_ns = hang_from_ns + int(spec.stall_s * 1e9)
            time.sleep(spec.stall_s + 0.5)  # the camera back, frames decided again
            _run_belt(sim, spec.after_s)
    finally:
        controller.stop()
        link.stop()
        witness.stop()
    end_mm = sim.belt.belt_mm()
    reject = cams[0].reject
    assert reject is not None
    defective, good = items_passed(belt, start_mm, end_mm, site.x_mm + site.reach_mm, FRAME_W)
    timer = reject.timer
    size_mm = belt.conv.item_size_mm  # the scene's truth: where an item lies whole in view
    whole_mm = (2 * belt.mm_per_px + size_mm / 2, (FRAME_W - 2) * belt.mm_per_px - size_mm / 2)
    past = site.x_mm
    unseen = unseen_items(belt, hang.grabbed_mm, (start_mm, end_mm), whole_mm, past)
    permits, faults = (
        [(int(w["t_mono_ns"]), int(w["signals"][name])) for w in sim.write_log
         if name in w["signals"]]
        for name in ("permit", "fault_code")
    )  # fmt: skip
    pulses = sim.belt.pulses()
    at_start = {k: belt.centre_mm(k, start_mm) for k in in_bin(pulses)}

    def nearest(travel_mm: float) -> int:
        found = belt.nearest_item(travel_mm, site.x_mm)
        assert found is not None
        return found[0]

    reach_ns = int(site.reach_mm / spec.speed_mm_s * 1e9)
    missed = list(reject.missed_log)
    response_ns = int(sim.belt.cfg.ejectors[0].response_ms * 1e6)
    excuses = judge(witness, missed, list(reject.fire_log), pulses, nearest, reach_ns, response_ns)
    record = {
        "fire_log": list(reject.fire_log), "missed": [asdict(m) for m in missed],
        "counters": reject.counters, "excused_items": sorted(excuses.items),
        "excused_pulses": sorted(excuses.pulses), "stalls_ns": witness.stalls(reach_ns),
    }  # fmt: skip
    (dep_file.parent / "run.json").write_text(json.dumps(record))  # next to the pulse log
    return RigResult(
        pulses,
        defective,
        good,
        reject.counters,
        [] if timer is None else list(timer.on_errors_ns),
        list(reject.fire_log),
        list(hang.grabbed_mm),
        start_mm,
        end_mm,
        permits,
        faults,
        unseen,
        at_start,
        (hang_from_ns, hang.until_ns),
        missed,
        excuses,
        sim.belt.cfg.ejectors[0],
        whole_mm,
    )


def _run_belt(sim: PlcSimulator, belt_s: float) -> None:
    """Press reset, then start once ready, until the belt runs; then let it run `belt_s`
    seconds (bounded waits). A reset re-arms; only the start command starts the belt."""
    for _ in range(10):
        sim.press_reset()
        # The reset input stays high for reset_pulse_ms: the box counts the press on release,
        # raises its permit, and the machine is ready for the start button.
        if _wait_for(sim.press_start, 3.0):
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


def items_passed(
    belt: Belt, start_mm: float, end_mm: float, past_mm: float, view_px: int
) -> tuple[set[int], set[int]]:
    """Items that were upstream of the view's far edge at the start (so the camera saw them
    whole) and beyond the ejector's reach at the end: (defective, good). `view_px`: the
    camera's frame width; the travels are the belt's at the start and the end of the run."""
    view_mm = view_px * belt.mm_per_px - belt.conv.item_size_mm
    first = belt.nearest_item(end_mm, past_mm)
    last = belt.nearest_item(start_mm, view_mm)
    assert first is not None
    assert last is not None
    defective: set[int] = set()
    good: set[int] = set()
    for k in range(min(first[0], last[0]) - 3, max(first[0], last[0]) + 4):
        if belt.centre_mm(k, start_mm) < view_mm and belt.centre_mm(k, end_mm) > past_mm:
            (defective if belt.look(k).defect is not None else good).add(k)
    return defective, good


def in_bin(pulses: list[dict[str, Any]]) -> set[int]:
    """Items a pulse pushed, and items its paddle swept while out."""
    pushed = {int(p["item"]) for p in pulses if p.get("binned")}
    return pushed | {int(s["item"]) for p in pulses for s in p.get("swept", [])}
