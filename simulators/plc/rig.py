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
source, so every millisecond from exposure to the frame's stamp is real, not simulated. Nothing
in the box's process then needs the belt's truth, so the plant (simulators.plc.plant: the PLC
simulator with its belt and ejector truth, the camera, the witness) runs by default in a process
of its own (simulators.plc.plant_process, at SCHED_FIFO where permitted), as a real PLC and
camera are devices of their own: the simulator stamps a coil write when it arrives, not when the
box's process lets it run. `RigSpec.plant` "thread" keeps it in the box's process, for a
comparison (`pulse_bench --network --plant both`). The rendered camera reads the belt in the
box's process, so without `network` the plant is always threads there.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml

from plantvision.conveyor.actions import MissedReject
from plantvision.frames.grabbers import Grabber
from plantvision.loop.build import build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import CameraModel, load_deployment
from plantvision.plc.link import PlcLink
from plantvision.types import Detections, ImageArray, StageTimes
from simulators.demo import BeltSceneGrabber, scene_grabber
from simulators.plc.conveyor import EjectorSite
from simulators.plc.hang import Hang, HangingGrabber, unseen_items
from simulators.plc.plant import LocalPlant, Plant, PlantLog
from simulators.plc.plant_process import ProcessPlant
from simulators.plc.rig_spec import RigSpec as RigSpec  # the rig's API: re-exported
from simulators.plc.server import PlcSimulator
from simulators.plc.witness import BeltWitness, Excuses, clock_witness, judge
from simulators.scene import GroundTruth, SceneRenderer, SceneScenario, load_scenario
from simulators.scene.items import Belt

FRAME_W, FRAME_H = 640, 480
REACH_MM = 20.0  # the simulated paddle's (simulators.demo: item_size_mm / 3 = 60 / 3)
ZONES = {
    "version": 1,
    "camera": "belt",
    "units": "normalized",
    "zones": [
        {"id": "walkway", "kind": "warn", "polygon": [[0, 0.3], [1, 0.3], [1, 0.5], [0, 0.5]]}
    ],
}


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
    plant: str = ""  # where the plant (simulator, camera, witness) ran, at which priority

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
    plant: LocalPlant,
    renderer: SceneRenderer,
    truth: TruthDetector | None,
    capture_ms: float,
    hang: Hang,
) -> Callable[[CameraModel, Path, Callable[[], int]], Grabber]:
    """The rendered camera over the in-process plant's belt; it records the belt travel of
    every frame it grabs in `plant.grabbed_mm`."""
    belt = plant.sim.belt
    assert belt is not None
    age_ns = int(capture_ms * 1e6)

    def read_belt() -> tuple[int, float]:  # the scene as it was age_ns before the stamp
        t_ns, travel_mm = belt.read(age_ns)
        plant.grabbed_mm.append(travel_mm)
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
    dep_file = write_cell(spec, folder)  # the plant reads its signal map and belt from it
    plant = _plant(spec, folder)
    try:
        pid = getattr(plant, "pid", None)  # a process plant's
        log.info("rig_plant", where=plant.note, pid=pid, port=plant.port, url=plant.url)
        if plant.url:
            dep_file = write_cell(spec, folder, plant.url)
        return _run(spec, plant, dep_file, log)
    finally:
        plant.close()


def _plant(spec: RigSpec, folder: Path) -> Plant:
    if spec.plant_where == "process":
        return ProcessPlant(spec, folder)
    return LocalPlant(spec, folder, PlcSimulator)  # this module's: a bench may replace it


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


def _run(spec: RigSpec, plant: Plant, dep_file: Path, log: Any) -> RigResult:
    dep = load_deployment(dep_file)
    truth = TruthDetector() if spec.model is None else None
    renderer = SceneRenderer(load_scenario(dep_file.parent / "scenario.yaml"))
    detectors: dict[str, Any] = {} if truth is None else {"belt": truth}
    hang = Hang()
    grabbers = None
    if isinstance(plant, LocalPlant) and not spec.network:
        grabbers = _grabber_factory(plant, renderer, truth, spec.capture_ms, hang)
    cams = build_cameras(dep, dep_file, log=log, simulated=grabbers, detectors=detectors)
    link = PlcLink(dep.plc.model_copy(update={"port": plant.port}), log)
    controller = Controller(cams, link, log=log, input_poll_ms=10)
    plant.begin()
    box = None if plant.in_box else clock_witness()  # the box's own stalls, apart from the plant
    if box is not None:
        box.start()
    link.start()
    controller.start()
    hang_from_ns = 0
    try:
        plant.run_belt(spec.stall_at_s if spec.stall_s else spec.belt_s)
        if spec.stall_s:
            hang_from_ns = time.monotonic_ns()
            hang.until_ns = hang_from_ns + int(spec.stall_s * 1e9)
            time.sleep(spec.stall_s + 0.5)  # the camera back, frames decided again
            plant.run_belt(spec.after_s)
    finally:
        controller.stop()
        link.stop()
        if box is not None:
            box.stop()
    got = plant.finish()
    reject = cams[0].reject
    assert reject is not None
    result = _result(spec, got, reject, box, dep_file.parent, (hang_from_ns, hang.until_ns))
    result.plant = plant.note
    return result


def _result(
    spec: RigSpec,
    got: PlantLog,
    reject: Any,
    box: BeltWitness | None,
    folder: Path,
    hang_ns: tuple[int, int],
) -> RigResult:
    """Judge the run: the scene's truth (its belt, from the scenario in `folder`), the plant's
    logs and witness (`box`: the box's own, when the plant ran apart), the product's reject
    runtime."""
    belt = SceneRenderer(load_scenario(folder / "scenario.yaml")).belt
    assert belt is not None
    site, start_mm, end_mm = got.site, got.start_mm, got.end_mm
    defective, good = items_passed(belt, start_mm, end_mm, site.x_mm + site.reach_mm, FRAME_W)
    timer = reject.timer
    size_mm = belt.conv.item_size_mm  # the scene's truth: where an item lies whole in view
    whole_mm = (2 * belt.mm_per_px + size_mm / 2, (FRAME_W - 2) * belt.mm_per_px - size_mm / 2)
    unseen = unseen_items(belt, got.grabbed_mm, (start_mm, end_mm), whole_mm, site.x_mm)
    permits, faults = (
        [(int(w["t_mono_ns"]), int(w["signals"][name])) for w in got.write_log
         if name in w["signals"]]
        for name in ("permit", "fault_code")
    )  # fmt: skip
    pulses = got.pulses
    at_start = {k: belt.centre_mm(k, start_mm) for k in in_bin(pulses)}

    def nearest(travel_mm: float) -> int:
        found = belt.nearest_item(travel_mm, site.x_mm)
        assert found is not None
        return found[0]

    reach_ns = int(site.reach_mm / spec.speed_mm_s * 1e9)
    missed = list(reject.missed_log)
    witness = BeltWitness.recorded(got.witness_t_ns, got.witness_mm)
    response_ns = int(site.response_ms * 1e6)
    excuses = judge(witness, missed, list(reject.fire_log), pulses, nearest, reach_ns,
                    response_ns, box)  # fmt: skip
    record = {
        "fire_log": list(reject.fire_log), "missed": [asdict(m) for m in missed],
        "counters": reject.counters, "excused_items": sorted(excuses.items),
        "excused_pulses": sorted(excuses.pulses), "stalls_ns": witness.stalls(reach_ns),
        "box_stalls_ns": None if box is None else box.stalls(reach_ns),
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))  # next to the pulse log
    return RigResult(
        pulses, defective, good, reject.counters,
        [] if timer is None else list(timer.on_errors_ns), list(reject.fire_log),
        list(got.grabbed_mm), start_mm, end_mm, permits, faults, unseen, at_start, hang_ns,
        missed, excuses, site, whole_mm,
    )  # fmt: skip


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
