"""Run one scenario against the real loop, in real time, and judge it.

In-process: plantvision.loop.Controller built by plantvision.deploy.build_cameras (the code
`plantvision run` uses), a scene camera and the real detector wrapped in fault injectors, the
real PlcLink talking Modbus TCP to the PLC simulator. The box-process variant lives in boxproc.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from plantvision.detect import load_detector
from plantvision.errors import ConfigError
from plantvision.frames.grabbers import Grabber
from plantvision.loop.build import build_cameras, check_camera_files, resolve
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import CameraModel, DeploymentModel, SourceModel, load_deployment
from plantvision.loop.edm import stop_bounds
from plantvision.plc.link import PlcLink
from plantvision.zones.geometry import CompiledZones
from simulators.plc import PlcSimulator, SimConfig
from simulators.scene import SceneRenderer, SceneScenario, load_scenario
from simulators.verify.analysis import FaultSpan, Limits, Timeline, Verdict, ZoneBound, analyse
from simulators.verify.beltside import (
    RATED,
    BeltWatch,
    PlantDraw,
    belt_grabber,
    reject_bounds,
    sim_parts,
)
from simulators.verify.faults import (
    FaultyDetector,
    FaultyGrabber,
    SceneClock,
    Window,
    windows,
)
from simulators.verify.plcside import (
    EventLog,
    Operator,
    PlcFaults,
    install_recorder,
    neighbours_announced,
    permit_writes,
)
from simulators.verify.rejects import RejectBound
from simulators.verify.scenario import (
    CAMERA_FAULTS,
    LOOP_FAULTS,
    MODEL_FAULTS,
    PLC_FAULTS,
    VerifyScenario,
)
from simulators.verify.truth import scene_truth, to_spans

TICK_S = 0.005
# Inside the box's default reset window (350..2000 ms): the box counts a press on its release.
# The operator waits for each release before pressing again (plcside.Operator).
RESET_PULSE_MS = 400  # measured 380..420 ms at 20 ms polls: inside, and quick
Progress = Callable[[float], None]


@dataclass(frozen=True)
class RunOptions:
    jitter_ms: float = 0.0
    seed: int = 0
    workdir: Path = Path(".")
    belt_speed_jitter: float = 0.0  # conveyor: true speed in rated x [1 - j, 1 + j]
    actuator_jitter_ms: float = 0.0  # conveyor: true actuator response + 0..A ms
    # A planted broken box for a box-process run (simulators.verify.mutants): the child box
    # installs it. In-process runs carry theirs in the process that runs them.
    mutant: str | None = None

    def plant(self) -> PlantDraw:
        return PlantDraw.draw(self.seed, self.belt_speed_jitter, self.actuator_jitter_ms)


@dataclass
class RunOutcome:
    verdicts: list[Verdict]
    timeline: Timeline
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


@dataclass(frozen=True)
class CameraSetup:
    """One camera of the scenario's deployment with the scene it sees, its files checked."""

    camera: CameraModel
    scene: SceneScenario
    scene_file: Path
    zones: CompiledZones
    zones_file: Path


@dataclass(frozen=True)
class Prepared:
    """A scenario's files, checked and compiled. `camera`...`zones_file` are the first
    camera's; `others` the deployment's further cameras (two-camera scenarios)."""

    scenario: VerifyScenario
    path: Path
    dep: DeploymentModel
    dep_file: Path
    camera: CameraModel
    scene: SceneScenario
    scene_file: Path
    zones: CompiledZones
    zones_file: Path
    rejects: tuple[RejectBound, ...] = ()
    others: tuple[CameraSetup, ...] = ()

    @property
    def setups(self) -> tuple[CameraSetup, ...]:
        first = CameraSetup(self.camera, self.scene, self.scene_file, self.zones, self.zones_file)
        return (first, *self.others)


def _scene_of(sc: VerifyScenario, path: Path, cam_id: str) -> SceneScenario:
    spec = sc.scenes.get(cam_id, sc.scene)
    if isinstance(spec, SceneScenario):
        return spec
    scene_path = resolve(path.parent, spec)
    if not scene_path.is_file():
        field = f"scenes.{cam_id}" if cam_id in sc.scenes else "scene"
        raise ConfigError(str(path), field, f"{scene_path} not found")
    return load_scenario(scene_path)


def _setup(
    sc: VerifyScenario, path: Path, dep: DeploymentModel, dep_file: Path, index: int,
    workdir: Path,
) -> CameraSetup:  # fmt: skip
    """Camera `index` with its source replaced by its scene, its files checked."""
    cam = dep.cameras[index]
    scene = _scene_of(sc, path, cam.id)
    scene_file = workdir / f"scene-{cam.id}.yaml"
    scene_file.write_text(yaml.safe_dump(scene.model_dump(mode="json")), encoding="utf-8")
    source = SourceModel(kind="simulated", scenario=str(scene_file), fps=cam.source.fps)
    cam = cam.model_copy(update={"source": source})
    zones = check_camera_files(dep_file, index, cam, safety=dep.safety).zones
    return CameraSetup(cam, scene, scene_file, zones, resolve(dep_file.parent, cam.zones))


def prepare(sc: VerifyScenario, path: Path, workdir: Path) -> Prepared:
    """Load the deployment and the scenes; each camera's source becomes its scene."""
    dep_file = resolve(path.parent, sc.deployment)
    if not dep_file.is_file():
        raise ConfigError(str(path), "deployment", f"{dep_file} not found", "give a path "
                          "relative to the scenario file")  # fmt: skip
    dep = load_deployment(dep_file)
    ids = [c.id for c in dep.cameras]
    unknown = sorted(set(sc.scenes) - set(ids))
    if unknown:
        raise ConfigError(str(path), "scenes", f"{unknown} are not cameras of {dep_file}",
                          f"use camera ids among {ids}")  # fmt: skip
    if len(dep.cameras) > 1 and any(c.conveyor is not None for c in dep.cameras):
        raise ConfigError(str(path), "deployment", "the verifier drives one conveyor camera "
                          "alone", "use a deployment with one conveyor camera")  # fmt: skip
    for i, f in enumerate(sc.faults):
        if f.camera is not None and f.camera not in ids:
            raise ConfigError(str(path), f"faults[{i}].camera", f"{f.camera!r} is not a "
                              f"camera of {dep_file}", f"use one of {ids}")  # fmt: skip
    setups = [_setup(sc, path, dep, dep_file, i, workdir) for i in range(len(dep.cameras))]
    dep = dep.model_copy(update={"cameras": [s.camera for s in setups]})
    stop_ids = [z.id for s in setups for z in s.zones.zones if z.kind == "stop"]
    if len(set(stop_ids)) != len(stop_ids):
        raise ConfigError(str(path), "deployment", f"stop zone ids {stop_ids} repeat across "
                          "cameras: the verdicts name zones", "give each camera's stop zones "
                          "their own ids")  # fmt: skip
    for i, zd in enumerate(sc.deadlines.zones):
        if zd.zone not in stop_ids:
            raise ConfigError(str(path), f"deadlines.zones[{i}].zone",
                              f"{zd.zone!r} is not a stop zone of the deployment's zone files",
                              f"use one of {sorted(stop_ids)}")  # fmt: skip
    first = setups[0]
    rejects = reject_bounds(sc, path, first.camera)
    return Prepared(sc, path, dep, dep_file, first.camera, first.scene, first.scene_file,
                    first.zones, first.zones_file, rejects, tuple(setups[1:]))  # fmt: skip


def start_simulator(p: Prepared, plant: PlantDraw = RATED) -> tuple[PlcSimulator, Any]:
    """The PLC simulator; with a conveyor camera its machine is that camera's belt."""
    conveyor = p.camera.conveyor is not None
    belt = sim_parts(p.camera, p.dep_file.parent, plant) if conveyor else {}
    sim = PlcSimulator(
        SimConfig(
            signals=p.dep.plc.signals,
            unit_id=p.dep.plc.unit_id,
            watchdog_ms=p.scenario.plc.watchdog_ms,
            stopping_ms=int(p.dep.safety.stopping_time_ms),
            reset_pulse_ms=RESET_PULSE_MS,
            **belt,
        )
    )
    machine = install_recorder(sim, time.monotonic_ns)
    sim.start()
    return sim, machine


def limits_of(sc: VerifyScenario) -> Limits:
    d = sc.deadlines
    bounds = tuple(
        ZoneBound(z.zone, z.response_ms, z.min_entries, z.no_entry_reason or "") for z in d.zones
    )
    return Limits(bounds, d.false_trips_max, d.false_trip_tolerance_ms, sc.operator.start)


def fault_spans(sc: VerifyScenario, epoch_ns: int, t_end_ns: int) -> list[FaultSpan]:
    out = []
    for f in sc.faults:
        start = epoch_ns + round(f.at_s * 1e9)
        end = t_end_ns if f.kind == "box_sigkill" else start + round(f.duration_s * 1e9)
        deadline = f.deadline_ms or sc.deadlines.fault_to_safe_ms
        label = f.kind if f.camera is None else f"{f.kind}[{f.camera}]"
        out.append(FaultSpan(label, start, min(end, t_end_ns), f.expect in ("safe", "lockout"),
                             deadline, f.recover_ms, held=f.expect == "held",
                             lockout=f.expect == "lockout"))  # fmt: skip
    return out


def truth_spans(p: Prepared, epoch_ns: int, duration_s: float) -> dict[str, Any]:
    """Stop zone occupancy from the scene's own geometry (truth.py), on the run's clock: every
    camera's stop zones (their ids are distinct across cameras)."""
    spans: dict[str, Any] = {}
    for c in p.setups:
        spans |= to_spans(scene_truth(c.scene, c.zones_file, duration_s), epoch_ns)
    return spans


class LoopFaults:
    """loop_deadlock: a loop thread that deadlocks holding the controller's output write lock
    (its cycle, the supervisor's permit-off write and every ejector write wait behind it). What
    remains to stop the machine is the heartbeat, which must freeze when the loop is stuck."""

    def __init__(self, lock: Any, faults: tuple[Window, ...]) -> None:
        self._lock, self._faults, self._held = lock, list(faults), False

    def tick(self, t_s: float) -> None:
        active = any(w.active(t_s) for w in self._faults)
        if active and not self._held:
            self._held = bool(self._lock.acquire(timeout=1.0))
        elif not active and self._held:
            self.finish()

    def finish(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


def run_in_process(p: Prepared, opts: RunOptions, progress: Progress | None = None) -> RunOutcome:
    """One real-time run of `p` with the box's loop in this process."""
    sc, clock = p.scenario, SceneClock()
    renderers = {c.camera.id: SceneRenderer(c.scene) for c in p.setups}
    grabbers: list[FaultyGrabber] = []
    plant = opts.plant()
    sim, machine = start_simulator(p, plant)

    grabbed_mm: list[float] = []  # the belt camera's frames: the truth of what it showed
    released = threading.Event()  # the run is over: no stall holds a grab any longer

    def stall_left_s(cam_id: str) -> Callable[[], float]:
        stalls = windows(sc.faults, ("camera_stall",), cam_id)

        def left_s() -> float:
            t = clock.now_s()
            now = [w.end_s - t for w in stalls if w.active(t)]
            return 0.0 if released.is_set() or not now else max(now)

        return left_s

    def simulated(cam: CameraModel, _base: Path, _clock: Callable[[], int]) -> Grabber:
        if cam.conveyor is not None:
            return belt_grabber(sim, p.scene, cam, grabbed_mm, stall_left_s(cam.id))
        render = renderers[cam.id].render
        g = FaultyGrabber(lambda t: render(t)[0], cam.source.fps, clock,
                          windows(sc.faults, CAMERA_FAULTS, cam.id), cam.id)  # fmt: skip
        grabbers.append(g)
        return g

    dets: dict[str, FaultyDetector] = {}
    for i, c in enumerate(p.setups):
        spec = check_camera_files(p.dep_file, i, c.camera, safety=p.dep.safety).model
        dets[c.camera.id] = FaultyDetector(
            load_detector(spec), clock, windows(sc.faults, MODEL_FAULTS, c.camera.id),
            opts.jitter_ms, opts.seed + i,
        )  # fmt: skip
    log = EventLog()
    cameras = build_cameras(p.dep, p.dep_file, log=log, simulated=simulated,
                            detectors=cast(Any, dets))  # fmt: skip
    watch = None
    if sim.belt is not None:
        watch = BeltWatch.of(sim, p.scene.width_px)
        watch.grabbed_mm = grabbed_mm
        watch.start()
    link = PlcLink(p.dep.plc.model_copy(update={"port": sim.port}), log)
    safety = p.dep.safety
    stop_check = stop_bounds(safety.stopping_time_ms, safety.plc_scan_ms)
    controller = Controller(cameras, link, log=log, stop_check=stop_check,
                            reset_window_ms=p.dep.guard.reset_window_ms)  # fmt: skip
    plc_faults = PlcFaults(sim, machine, windows(sc.faults, PLC_FAULTS))
    loop_faults = LoopFaults(controller._write_lock, windows(sc.faults, LOOP_FAULTS))
    operator = Operator.of(sim, sc.operator)
    link.start()
    controller.start()  # opens the grabber: the scene clock starts here
    clock.start()  # a belt camera does not start it
    rejects: tuple[list[Verdict], dict[str, Any]] = ([], {})
    try:
        while (t_s := clock.now_s()) < sc.duration_s:
            now = clock.clock_ns()
            plc_faults.tick(t_s, now)
            loop_faults.tick(t_s)
            operator.tick(now, t_s)
            if progress is not None:
                progress(t_s / sc.duration_s)
            time.sleep(TICK_S)
    finally:
        t_end_ns = time.monotonic_ns()
        loop_faults.finish()
        released.set()
        for g in grabbers:
            g.release()
        for d in dets.values():
            d.release()
        plc_faults.finish()
        controller.stop()
        link.stop()
        _ = sim.machine_running  # let the machine catch up to now (a pending watchdog trip)
        if watch is not None:
            announced = neighbours_announced(log) if sc.deadlines.false_rejects_announced else None
            rejects = watch.judge(p.rejects, sc.deadlines.false_rejects_max, announced,
                                  sc.deadlines.unjudged_rejected)  # fmt: skip
        sim.stop()
    assert clock.epoch_ns is not None
    epoch = clock.epoch_ns
    tl = Timeline(epoch, t_end_ns, truth_spans(p, epoch, sc.duration_s), list(machine.events),
                  fault_spans(sc, epoch, t_end_ns), permit_writes(sim),
                  operator.press_times_ns, list(machine.ready_ns))  # fmt: skip
    e2e = cameras[0].latency.end_to_end()
    info = {
        "mode": "in_process",
        "frames": cameras[0].frames,
        "e2e_median_ms": round(e2e.median_ms, 2),
        "e2e_p99_ms": round(e2e.p99_ms, 2),
        "e2e_max_ms": round(e2e.max_ms, 2),
        "resets_pressed": operator.presses,
        "starts_pressed": operator.starts,
        "plc_writes": len(sim.write_log),
        "events": log.counts(),
    } | rejects[1]
    if sim.belt is not None:
        info |= {"belt_speed_mm_s": round(sim.belt.cfg.belt_speed_mm_s, 1),
                 "actuator_extra_ms": round(plant.actuator_extra_ms, 2)}  # fmt: skip
    return RunOutcome(analyse(tl, limits_of(sc)) + rejects[0], tl, info)
