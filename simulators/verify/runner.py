"""Run one scenario against the real loop, in real time, and judge it.

In-process: plantvision.loop.Controller built by plantvision.deploy.build_cameras (the code
`plantvision run` uses), a scene camera and the real detector wrapped in fault injectors, the
real PlcLink talking Modbus TCP to the PLC simulator. The box-process variant lives in boxproc.py.
"""

from __future__ import annotations

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
from simulators.verify.faults import FaultyDetector, FaultyGrabber, SceneClock, windows
from simulators.verify.plcside import EventLog, Operator, PlcFaults, install_recorder
from simulators.verify.rejects import RejectBound
from simulators.verify.scenario import (
    CAMERA_FAULTS,
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
class Prepared:
    """A scenario's files, checked and compiled."""

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


def prepare(sc: VerifyScenario, path: Path, workdir: Path) -> Prepared:
    """Load the deployment and the scene; the camera's source becomes the scenario's scene."""
    dep_file = resolve(path.parent, sc.deployment)
    if not dep_file.is_file():
        raise ConfigError(str(path), "deployment", f"{dep_file} not found", "give a path "
                          "relative to the scenario file")  # fmt: skip
    dep = load_deployment(dep_file)
    if len(dep.cameras) != 1:
        raise ConfigError(str(path), "deployment", "the verifier drives one camera",
                          "use a deployment with exactly one camera")  # fmt: skip
    if isinstance(sc.scene, SceneScenario):
        scene = sc.scene
    else:
        scene_path = resolve(path.parent, sc.scene)
        if not scene_path.is_file():
            raise ConfigError(str(path), "scene", f"{scene_path} not found")
        scene = load_scenario(scene_path)
    scene_file = workdir / "scene.yaml"
    scene_file.write_text(yaml.safe_dump(scene.model_dump(mode="json")), encoding="utf-8")
    cam = dep.cameras[0]
    source = SourceModel(kind="simulated", scenario=str(scene_file), fps=cam.source.fps)
    cam = cam.model_copy(update={"source": source})
    dep = dep.model_copy(update={"cameras": [cam]})
    zones = check_camera_files(dep_file, 0, cam, safety=dep.safety).zones
    stop_ids = {z.id for z in zones.zones if z.kind == "stop"}
    for i, zd in enumerate(sc.deadlines.zones):
        if zd.zone not in stop_ids:
            raise ConfigError(str(path), f"deadlines.zones[{i}].zone",
                              f"{zd.zone!r} is not a stop zone of {zones.source}",
                              f"use one of {sorted(stop_ids)}")  # fmt: skip
    rejects = reject_bounds(sc, path, cam)
    zones_file = resolve(dep_file.parent, cam.zones)
    return Prepared(sc, path, dep, dep_file, cam, scene, scene_file, zones, zones_file, rejects)


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
    return Limits(bounds, d.false_trips_max, d.false_trip_tolerance_ms)


def fault_spans(sc: VerifyScenario, epoch_ns: int, t_end_ns: int) -> list[FaultSpan]:
    out = []
    for f in sc.faults:
        start = epoch_ns + round(f.at_s * 1e9)
        end = t_end_ns if f.kind == "box_sigkill" else start + round(f.duration_s * 1e9)
        deadline = f.deadline_ms or sc.deadlines.fault_to_safe_ms
        out.append(FaultSpan(f.kind, start, min(end, t_end_ns), f.expect == "safe", deadline,
                             f.recover_ms))  # fmt: skip
    return out


def truth_spans(p: Prepared, epoch_ns: int, duration_s: float) -> dict[str, Any]:
    """Stop zone occupancy from the scene's own geometry (truth.py), on the run's clock."""
    return to_spans(scene_truth(p.scene, p.zones_file, duration_s), epoch_ns)


def run_in_process(p: Prepared, opts: RunOptions, progress: Progress | None = None) -> RunOutcome:
    """One real-time run of `p` with the box's loop in this process."""
    sc, clock = p.scenario, SceneClock()
    renderer = SceneRenderer(p.scene)
    cam_faults = windows(sc.faults, CAMERA_FAULTS)
    grabbers: list[FaultyGrabber] = []
    plant = opts.plant()
    sim, machine = start_simulator(p, plant)

    def simulated(cam: CameraModel, _base: Path, _clock: Callable[[], int]) -> Grabber:
        if cam.conveyor is not None:
            return belt_grabber(sim, p.scene, cam)
        g = FaultyGrabber(lambda t: renderer.render(t)[0], cam.source.fps, clock, cam_faults,
                          cam.id)  # fmt: skip
        grabbers.append(g)
        return g

    spec = check_camera_files(p.dep_file, 0, p.camera, safety=p.dep.safety).model
    det = FaultyDetector(load_detector(spec), clock, windows(sc.faults, MODEL_FAULTS),
                         opts.jitter_ms, opts.seed)  # fmt: skip
    log = EventLog()
    cameras = build_cameras(p.dep, p.dep_file, log=log, simulated=simulated,
                            detectors={p.camera.id: cast(Any, det)})  # fmt: skip
    watch = None
    if sim.belt is not None:
        watch = BeltWatch.of(sim, p.scene.width_px)
        watch.start()
    link = PlcLink(p.dep.plc.model_copy(update={"port": sim.port}), log)
    controller = Controller(cameras, link, log=log, reset_window_ms=p.dep.guard.reset_window_ms)
    plc_faults = PlcFaults(sim, machine, windows(sc.faults, PLC_FAULTS))
    o = sc.operator
    operator = Operator(sim, o.reset_after_ms, o.enabled, o.until_s)
    link.start()
    controller.start()  # opens the grabber: the scene clock starts here
    clock.start()  # a belt camera does not start it
    rejects: tuple[list[Verdict], dict[str, Any]] = ([], {})
    try:
        while (t_s := clock.now_s()) < sc.duration_s:
            now = clock.clock_ns()
            plc_faults.tick(t_s, now)
            operator.tick(now, t_s)
            if progress is not None:
                progress(t_s / sc.duration_s)
            time.sleep(TICK_S)
    finally:
        t_end_ns = time.monotonic_ns()
        for g in grabbers:
            g.release()
        plc_faults.finish()
        controller.stop()
        link.stop()
        _ = sim.machine_running  # let the machine catch up to now (a pending watchdog trip)
        if watch is not None:
            rejects = watch.judge(p.rejects, sc.deadlines.false_rejects_max)
        sim.stop()
    assert clock.epoch_ns is not None
    epoch = clock.epoch_ns
    tl = Timeline(epoch, t_end_ns, truth_spans(p, epoch, sc.duration_s), list(machine.events),
                  fault_spans(sc, epoch, t_end_ns))  # fmt: skip
    e2e = cameras[0].latency.end_to_end()
    info = {
        "mode": "in_process",
        "frames": cameras[0].frames,
        "e2e_median_ms": round(e2e.median_ms, 2),
        "e2e_p99_ms": round(e2e.p99_ms, 2),
        "e2e_max_ms": round(e2e.max_ms, 2),
        "resets_pressed": operator.presses,
        "plc_writes": len(sim.write_log),
        "events": log.counts(),
    } | rejects[1]
    if sim.belt is not None:
        info |= {"belt_speed_mm_s": round(sim.belt.cfg.belt_speed_mm_s, 1),
                 "actuator_extra_ms": round(plant.actuator_extra_ms, 2)}  # fmt: skip
    return RunOutcome(analyse(tl, limits_of(sc)) + rejects[0], tl, info)
