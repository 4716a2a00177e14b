"""The verifier's conveyor side: a conveyor camera's scenario runs over the PLC simulator's belt.

The wiring is the demo's (simulators.demo): the simulator's machine is the belt,
its ejectors sit where the camera's mapping puts them on the scene's belt, and the camera renders
the scene at the belt's true travel. After the run, the simulator's pulse log and the items that
passed camera and ejector are judged by simulators.verify.rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from plantvision.conveyor import ConveyorConfig
from plantvision.errors import ConfigError
from plantvision.loop.deployment import CameraModel
from simulators.demo import BeltSceneGrabber, conveyor_sim_config
from simulators.plc import PlcSimulator
from simulators.plc.hang import HangingGrabber, unseen_items
from simulators.plc.rig import items_passed
from simulators.scene import SceneRenderer, SceneScenario
from simulators.scene.items import Belt
from simulators.verify.analysis import Verdict
from simulators.verify.rejects import RejectBound, analyse_rejects, in_bin
from simulators.verify.scenario import BOX_FAULTS, CAMERA_FAULTS, VerifyScenario


def output_of(conv: ConveyorConfig, ejector_id: str) -> int | None:
    """The coil index (the pulse log's `ejector`) of an ejector id; None when unknown."""
    for i, e in enumerate(conv.ejectors):
        if e.id == ejector_id:
            return i if e.output is None else e.output
    return None


def reject_bounds(sc: VerifyScenario, path: Path, cam: CameraModel) -> tuple[RejectBound, ...]:
    """The scenario's reject deadlines, checked against the camera's conveyor section."""
    conv = cam.conveyor
    if conv is None:
        if sc.deadlines.rejects:
            raise ConfigError(str(path), "deadlines.rejects", f"camera {cam.id} has no "
                              "conveyor", "remove them or use a conveyor deployment")  # fmt: skip
        return ()
    for i, f in enumerate(sc.faults):
        if (f.kind in CAMERA_FAULTS and f.kind != "camera_stall") or f.kind in BOX_FAULTS:
            raise ConfigError(str(path), f"faults[{i}].kind", f"{f.kind} is not supported on a "
                              "conveyor camera yet",
                              "use camera_stall, PLC or model faults")  # fmt: skip
    bounds = []
    for i, r in enumerate(sc.deadlines.rejects):
        index = output_of(conv, r.ejector)
        if index is None:
            raise ConfigError(str(path), f"deadlines.rejects[{i}].ejector",
                              f"{r.ejector!r} is not an ejector of camera {cam.id}",
                              f"use one of {[e.id for e in conv.ejectors]}")  # fmt: skip
        bounds.append(RejectBound(r.ejector, index, r.window_ms, r.min_defects))
    return tuple(bounds)


@dataclass(frozen=True)
class PlantDraw:
    """One Monte-Carlo draw of the plant: the belt's true speed as a factor of its rated speed,
    and the actuator's true response beyond what the deployment declares (the box compensates
    only the declared one)."""

    speed_factor: float = 1.0
    actuator_extra_ms: float = 0.0

    @classmethod
    def draw(cls, seed: int, speed_jitter: float, actuator_jitter_ms: float) -> PlantDraw:
        """Speed uniform in rated x [1 - j, 1 + j]; extra response uniform in 0..A ms."""
        rng = np.random.default_rng([seed, 13])  # apart from the detector's jitter stream
        return cls(
            float(rng.uniform(1.0 - speed_jitter, 1.0 + speed_jitter)),
            float(rng.uniform(0.0, actuator_jitter_ms)),
        )


RATED = PlantDraw()  # the plant as the deployment declares it


def sim_parts(cam: CameraModel, base: Path, plant: PlantDraw = RATED) -> dict[str, Any]:
    """SimConfig keyword arguments that make the simulator's machine this camera's belt."""
    conveyor, belt = conveyor_sim_config(cam, base)
    sites = tuple(
        replace(s, response_ms=s.response_ms + plant.actuator_extra_ms) for s in conveyor.ejectors
    )
    speed = conveyor.belt_speed_mm_s * plant.speed_factor
    return {
        "conveyor": replace(conveyor, belt_speed_mm_s=speed, ejectors=sites),
        "item_truth": belt,
    }


def belt_grabber(
    sim: PlcSimulator,
    scene: SceneScenario,
    cam: CameraModel,
    grabbed_mm: list[float],
    stall_left_s: Callable[[], float],
) -> HangingGrabber:
    """The camera over the simulator's belt; each grab's belt travel goes to `grabbed_mm` (the
    truth of what it showed), and a grab blocks while `stall_left_s()` is above 0."""
    belt = sim.belt
    assert belt is not None

    def read() -> tuple[int, float]:
        t_ns, travel_mm = belt.read()
        grabbed_mm.append(travel_mm)
        return t_ns, travel_mm

    inner = BeltSceneGrabber(SceneRenderer(scene), read, cam.source.fps, cam.id)
    return HangingGrabber(inner, stall_left_s)


@dataclass
class BeltWatch:
    """The belt's travel at the start of a run, to tell afterwards which items passed."""

    sim: PlcSimulator
    belt: Belt
    width_px: int
    start_mm: float = 0.0
    grabbed_mm: list[float] = field(default_factory=list)  # belt travel of every frame grabbed

    @classmethod
    def of(cls, sim: PlcSimulator, width_px: int) -> BeltWatch:
        """Watch the belt of a simulator built with `sim_parts` (its item truth is the belt)."""
        assert sim.belt is not None
        return cls(sim, cast(Belt, sim.belt.model.truth), width_px)

    def start(self) -> None:
        assert self.sim.belt is not None
        self.start_mm = self.sim.belt.belt_mm()

    def judge(
        self,
        bounds: tuple[RejectBound, ...],
        false_max: int,
        announced: int | None = None,
        unjudged: bool = False,
    ) -> tuple[list[Verdict], dict[str, Any]]:
        """Reject verdicts and report figures; call after the run, before `sim.stop()`.
        `announced`: the neighbours the box's reject_hits_neighbour alarms named (None: the
        scenario does not judge it). Items no grabbed frame showed whole (the scene's truth)
        are never false rejects; `unjudged`: judge that each of them is in the bin."""
        belt_drv = self.sim.belt
        assert belt_drv is not None
        end_mm = belt_drv.belt_mm()
        far = max(s.x_mm + s.reach_mm for s in belt_drv.cfg.ejectors if s.x_mm < 1e11)
        defective, good = items_passed(self.belt, self.start_mm, end_mm, far, self.width_px)
        pulses = belt_drv.pulses()
        errors = sorted(abs(p["error_ms"]) for p in pulses if p.get("error_ms") is not None)
        info = {
            "belt_mm": round(end_mm - self.start_mm, 1),
            "defects_passed": len(defective),
            "good_passed": len(good),
            "pulses": len(pulses),
            "pulse_error_max_ms": round(errors[-1], 2) if errors else None,
        }
        unseen = self.unseen(end_mm, far)
        info["unjudged_passed"] = len(unseen)
        info["unjudged_binned"] = len(unseen & in_bin(pulses))
        verdicts = analyse_rejects(pulses, defective, bounds, false_max, announced, unseen,
                                   unjudged)  # fmt: skip
        return verdicts, info

    def unseen(self, end_mm: float, past_mm: float) -> set[int]:
        """Items past `past_mm` by `end_mm` that no grabbed frame showed whole: their centre at
        least half an item inside the frame, less the 2 px at each border where a box touches
        the frame's edge."""
        b = self.belt
        half_mm = b.conv.item_size_mm / 2
        whole_mm = (2 * b.mm_per_px + half_mm, (self.width_px - 2) * b.mm_per_px - half_mm)
        return unseen_items(b, self.grabbed_mm, (self.start_mm, end_mm), whole_mm, past_mm)
