"""What one camera thread owns (CameraRuntime), the shapes of the detector and PLC link the
loop drives, and the notes a cycle tells after its write. Built by plantvision.loop.build; run by
plantvision.loop.controller."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.conveyor.timer import Fire, OnFired, PulseTimer
from plantvision.detect.shared import InferenceWorkers
from plantvision.frames.health import FrozenDetector
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardEvent, GuardOutput
from plantvision.loop.publish import CameraSnapshot, Tick, new_tape
from plantvision.loop.stats import LatencyWindow
from plantvision.loop.supervisor import expiry_ns
from plantvision.plc.link import PlcInputs, PlcOutputs
from plantvision.plc.values import VerdictEntry
from plantvision.types import Detections, ImageArray, StageTimes
from plantvision.zones.geometry import CompiledZones, ZoneHits


class DetectorLike(Protocol):
    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections: ...


class LinkLike(Protocol):
    @property
    def healthy(self) -> bool: ...

    @property
    def losses(self) -> int: ...

    def write(self, outputs: PlcOutputs, losses_seen: int | None = None) -> float | None: ...

    def read_inputs(self) -> PlcInputs | None: ...

    def write_ejector(self, index: int, on: bool) -> bool: ...

    def write_verdicts(self, entries: Sequence[VerdictEntry]) -> bool: ...

    def pulse_timer(
        self, outputs: Mapping[str, int], fire: Fire, on_fired: OnFired, spin_ns: int
    ) -> PulseTimer: ...  # box-timed pulses (conveyor.timer.PulseTimers)

    @property
    def alive(self) -> bool: ...  # its own thread (the heartbeat) is running

    liveness: Callable[[], bool] | None  # asked before each heartbeat
    decisions: Callable[[], int] | None  # asked before each heartbeat: decision rounds so far


def pools_of(
    cameras: Iterable[CameraRuntime],
) -> list[tuple[InferenceWorkers, list[CameraRuntime]]]:
    """Each set of shared inference workers with the cameras it serves, in camera order."""
    pools: dict[int, tuple[InferenceWorkers, list[CameraRuntime]]] = {}
    for cam in cameras:
        if cam.inference is not None:
            pools.setdefault(id(cam.inference), (cam.inference, []))[1].append(cam)
    return list(pools.values())


# (level, event, fields): what a cycle has to tell, logged only after its output write.
Note = tuple[str, str, dict[str, Any]]


def notes_of(events: Iterable[GuardEvent]) -> list[Note]:
    return [(e.level, e.name, e.fields()) for e in events]


def note_masked(cam: CameraRuntime, seq: int, hits: ZoneHits) -> None:
    """Count what masks hid in stop zones (never silently dropped: a waived mask is blanking);
    tell when the set of such zones changes, after the write like every cycle event."""
    hidden = hits.masked_stop_zones
    cam.masked_in_stop += sum(hidden.values())
    zones = frozenset(hidden)
    if zones == cam.masked_zones:
        return
    cam.masked_zones = zones
    if zones:
        masks = sorted({m.id for m in cam.zones.masks if zones & set(m.hides_stop)})
        cam.to_tell.append(("warning", "masked_in_stop_zone", {
            "seq": seq, "zones": hidden, "masks": masks, "total": cam.masked_in_stop,
        }))  # fmt: skip
    else:
        cam.to_tell.append(("info", "masked_in_stop_zone_cleared", {
            "seq": seq, "total": cam.masked_in_stop,
        }))  # fmt: skip


@dataclass
class CameraRuntime:
    """Everything one camera thread owns. Built by plantvision.loop.build from a deployment file."""

    id: str
    source: FrameSource
    detector: DetectorLike
    zones: CompiledZones
    guard: Guard
    budget_ns: int
    overrun_trips: bool
    stall_ns: int
    frozen: FrozenDetector
    dark_max_mean: float
    dark_max_std: float
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    frames: int = 0
    trips: int = 0
    last_output: GuardOutput | None = None
    last_frame_ns: int = 0
    last_seq: int = -1
    last_hits: ZoneHits | None = None
    internal_error: bool = False
    last_cycle_ns: int = 0
    plc_losses_seen: int = 0
    output_losses: int = 0  # the losses seen when the output now in the image was decided
    reject: RejectRuntime | None = None
    inference: InferenceWorkers | None = None  # the shared workers its detector waits on
    to_tell: list[Note] = field(default_factory=list)  # this cycle's events, told after the write
    last_verdict_ns: int = 0  # capture time of the frame behind last_hits
    capture_latency_ns: int = 0  # exposure precedes a frame's stamp by this (source config)
    last_decision_ns: int = 0  # when the guard last decided (the contribution's stamp)
    overrun_pending: bool = False  # the last write was acknowledged after the budget
    reset_sent: bool = True  # the reset level last shown to the guard (high at power-up)
    supervisor_trips_seen: int = 0  # onsets of problems covering it its image holds tripped
    supervisor_trips_deciding: int = 0  # ... and those its cycle in progress decides on
    mismatches_seen: int = 0  # permit readback mismatches this camera's guard has tripped on
    reset_stuck_seen: int = 0  # stuck-reset onsets this camera's guard has seen
    plc_trips_seen: int = 0  # PLC latches under a permitting box this camera's guard has seen
    masked_in_stop: int = 0  # detections a (waived) mask hid in a stop zone, all frames
    masked_zones: frozenset[str] = frozenset()  # stop zones with a hidden detection last frame

    @property
    def expiry_ns(self) -> int:
        return expiry_ns(self.budget_ns, self.stall_ns)

    # Told to the outside after the write, by reference (loop/publish.py).
    last_detections: Detections | None = None
    published: CameraSnapshot | None = None
    tape: deque[Tick] = field(default_factory=new_tape)
