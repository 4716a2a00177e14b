"""Verification scenario files: a scene, a deployment, timed faults, and the deadlines to prove.

Validated like every config (StrictModel, a description on every field, errors naming the file
and the field). Paths are relative to the scenario file. Fault times are scene seconds from the
box start: the scene epoch in-process, the box's first PLC write when the box is a child process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from plantvision.configio import StrictModel, load_model
from simulators.scene.scenario import SceneScenario

CameraFault = Literal[
    "camera_stall", "camera_freeze", "camera_black", "camera_disconnect", "camera_slow"
]
ModelFault = Literal["model_slowdown", "model_error", "model_hang", "model_blind"]
PlcFault = Literal[
    "plc_slow",
    "plc_exception",
    "plc_down",
    "plc_restart",
    "plc_drop",
    "plc_slow_verdicts",
    "plc_replay",
    "plc_stop_slow",
]
BoxFault = Literal["box_sigkill", "box_sigstop"]
# Faults of the box's surroundings inside its own process: its stderr (a child box's pipe that
# the verifier stops reading) and its loop (a thread that deadlocks holding the output lock).
LogFault = Literal["log_blocked"]
LoopFault = Literal["loop_deadlock"]
FaultKind = CameraFault | ModelFault | PlcFault | BoxFault | LogFault | LoopFault

CAMERA_FAULTS: tuple[str, ...] = CameraFault.__args__  # type: ignore[attr-defined]
MODEL_FAULTS: tuple[str, ...] = ModelFault.__args__  # type: ignore[attr-defined]
PLC_FAULTS: tuple[str, ...] = PlcFault.__args__  # type: ignore[attr-defined]
LOOP_FAULTS: tuple[str, ...] = LoopFault.__args__  # type: ignore[attr-defined]
BOX_FAULTS: tuple[str, ...] = BoxFault.__args__  # type: ignore[attr-defined]
# Faults that need the box in a child process (its signals, its stderr).
CHILD_FAULTS: tuple[str, ...] = (*BOX_FAULTS, "log_blocked")
# Faults whose `value_ms` means something (a delay, a frame period); the others ignore it.
# plc_replay: another Modbus client replays the heartbeat value the PLC last received;
# plc_stop_slow: every stop takes value_ms longer than the machine's stopping time.
VALUE_FAULTS = ("model_slowdown", "plc_slow", "plc_slow_verdicts", "camera_slow", "plc_stop_slow")


class FaultModel(StrictModel):
    """One injected fault: what, when, for how long, and what the box must do about it."""

    kind: FaultKind = Field(description="which fault to inject (see the README's fault table)")
    at_s: float = Field(ge=0, le=600, description="start, scene seconds from the box start")
    duration_s: float = Field(
        default=1.0, gt=0, le=600, description="how long the fault lasts (box_sigkill: ignored)"
    )
    value_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="model_slowdown / plc_slow / plc_slow_verdicts: the added delay; "
        "camera_slow: the frame period the stream degrades to (333 for 3 fps); plc_stop_slow: "
        "the extra coast",
    )
    camera: str | None = Field(
        default=None,
        description="camera and model faults: the camera id it strikes (default: every camera)",
    )
    exception_code: int = Field(
        default=4, ge=1, le=11, description="plc_exception: the Modbus exception code answered"
    )
    expect: Literal["safe", "tolerated", "held", "lockout"] = Field(
        default="safe",
        description="safe: the machine must stop within the deadline and stay stopped while the "
        "fault lasts; tolerated: the box must ride it out without a trip (zone deadlines hold); "
        "held: the machine is stopped when it begins and must not start while it lasts (no "
        "reset accepted without a fresh view); lockout: a stop during the fault must hold until "
        "the fault's end, whatever the operator presses (stop monitoring: only a maintenance "
        "reset, operator.maintenance_at_s at the fault's end, releases it)",
    )
    deadline_ms: float | None = Field(
        default=None, gt=0, le=60_000, description="fault-to-safe bound (default: the scenario's)"
    )
    recover_ms: float | None = Field(
        default=None,
        gt=0,
        le=60_000,
        description="the machine must run again this long after the fault ends (with resets)",
    )

    @model_validator(mode="after")
    def _value_where_needed(self) -> FaultModel:
        if self.kind in VALUE_FAULTS and self.value_ms <= 0:
            raise ValueError(f"{self.kind} needs value_ms > 0: the delay to add")
        if self.kind == "box_sigkill" and self.recover_ms is not None:
            raise ValueError("a killed box never recovers: remove recover_ms")
        if self.camera is not None and self.kind not in CAMERA_FAULTS + MODEL_FAULTS:
            raise ValueError(f"{self.kind} does not strike one camera: remove camera")
        return self


class ZoneDeadline(StrictModel):
    """The response-time bound of one stop zone: anchor truly inside -> machine stopped."""

    zone: str = Field(description="stop zone id in the camera's zone file")
    response_ms: float = Field(gt=0, le=60_000, description="the bound, ms")
    min_entries: int = Field(
        default=0, ge=0, le=1000, description="entries while running the scene must produce"
    )
    no_entry_reason: str | None = Field(
        default=None,
        min_length=1,
        description="why this scene never enters the zone; without it a zone the run never "
        "enters is a defect of the scenario (its row reads 'not exercised', never PASS)",
    )


class RejectDeadline(StrictModel):
    """The pulse timing bound of one ejector: every defective item that passed the camera is
    pushed within this window of its ideal instant."""

    ejector: str = Field(description="ejector id in the camera's conveyor section")
    window_ms: float = Field(
        gt=0, le=10_000, description="bound on |actual - ideal| pulse time per defect, ms"
    )
    min_defects: int = Field(
        default=1, ge=0, le=10_000, description="defective items the run must judge at least"
    )


class Deadlines(StrictModel):
    """What the run must prove."""

    zones: list[ZoneDeadline] = Field(default_factory=list, description="per stop zone bounds")
    fault_to_safe_ms: float = Field(
        default=1000.0, gt=0, le=60_000, description="default fault-to-safe-state bound, ms"
    )
    false_trips_max: int = Field(default=0, ge=0, le=1000, description="tolerated false trips")
    rejects: list[RejectDeadline] = Field(
        default_factory=list, description="per ejector pulse timing bounds (conveyor cameras)"
    )
    false_rejects_max: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="tolerated good items in the reject bin that a grabbed frame showed whole "
        "(one no frame showed whole is rejected rightly: reject unless proven good)",
    )
    false_rejects_announced: bool = Field(
        default=False,
        description="every good item in the reject bin (pushed or swept by a held paddle) was "
        "announced: the box's reject_hits_neighbour alarms named at least as many neighbours",
    )
    unjudged_rejected: bool = Field(
        default=False,
        description="reject unless proven good: every item that passed the ejector but that no "
        "frame the camera grabbed showed whole (a camera stall) is in the bin, good or not "
        "(never false rejects, with or without this)",
    )
    false_trip_tolerance_ms: float = Field(
        default=250.0,
        ge=0,
        le=10_000,
        description="a stop this close to a true zone occupancy or a fault counts as explained "
        "(detector boxes are not pixel-exact at the zone edge)",
    )


class OperatorModel(StrictModel):
    """The virtual person at the machine who presses reset, then start."""

    reset_after_ms: float = Field(
        default=250.0,
        ge=150,
        le=60_000,
        description="press reset once stopped this long, and again as often, each press "
        "once the last one was released (the reset input stays high 400 ms: the box counts a "
        "press on its release)",
    )
    enabled: bool = Field(default=True, description="press reset at all")
    until_s: float | None = Field(
        default=None, gt=0, le=600, description="stop pressing after this scene time (None: never)"
    )
    presses_at_s: list[float] = Field(
        default_factory=list,
        description="extra presses at these scene times, whatever the machine does (a press "
        "timed against a fault: e.g. during a stall, on a verdict the box must not trust)",
    )
    start: bool = Field(
        default=True,
        description="press the separate start button whenever the machine is ready (a reset "
        "re-arms, never starts); false: reset only, so the machine must never move after its "
        "first stop",
    )
    maintenance_at_s: float | None = Field(
        default=None,
        ge=0,
        le=600,
        description="turn the maintenance reset key once at this scene time (clears a stop "
        "monitoring fault; None: never)",
    )


class PlcSimModel(StrictModel):
    """The simulated PLC's own timing."""

    watchdog_ms: int = Field(default=300, ge=10, le=60_000, description="heartbeat watchdog")


class VerifyScenario(StrictModel):
    """One verification scenario."""

    description: str = Field(default="", description="what this scenario proves, one line")
    deployment: str = Field(description="deployment file (relative to this file); one camera")
    scene: str | SceneScenario = Field(
        description="scene scenario file (relative to this file) or an inline scene: what the "
        "deployment's first camera sees"
    )
    scenes: dict[str, str | SceneScenario] = Field(
        default_factory=dict,
        description="per camera id, the scene of another camera of the deployment (a camera "
        "not named here sees `scene`)",
    )
    duration_s: float = Field(gt=0, le=600, description="how long the cell runs, real seconds")
    faults: list[FaultModel] = Field(default_factory=list, description="timed faults")
    deadlines: Deadlines = Field(default_factory=Deadlines, description="what must hold")
    operator: OperatorModel = Field(default_factory=OperatorModel, description="reset presses")
    plc: PlcSimModel = Field(default_factory=PlcSimModel, description="PLC simulator timing")

    @model_validator(mode="after")
    def _faults_fit(self) -> VerifyScenario:
        for i, f in enumerate(self.faults):
            if f.at_s >= self.duration_s:
                raise ValueError(
                    f"faults[{i}] starts at {f.at_s} s, after the run ends at {self.duration_s} s; "
                    "start it earlier or lengthen duration_s"
                )
        if self.box_process:
            for i, f in enumerate(self.faults):
                if f.kind in CAMERA_FAULTS or f.kind in MODEL_FAULTS or f.kind in LOOP_FAULTS:
                    raise ValueError(
                        f"faults[{i}] ({f.kind}) acts inside the box, which box_sigkill/"
                        "box_sigstop/log_blocked scenarios run as a child process: put it in its "
                        "own scenario"
                    )
        zones = [z.zone for z in self.deadlines.zones]
        if len(set(zones)) != len(zones):
            raise ValueError("deadlines.zones names a zone twice: give each zone one bound")
        ejectors = [r.ejector for r in self.deadlines.rejects]
        if len(set(ejectors)) != len(ejectors):
            raise ValueError("deadlines.rejects names an ejector twice: give each one bound")
        return self

    @property
    def box_process(self) -> bool:
        """True when a fault needs the box in its own process (SIGKILL/SIGSTOP, its stderr)."""
        return any(f.kind in CHILD_FAULTS for f in self.faults)


def load_verify_scenario(path: str | Path) -> VerifyScenario:
    """Validate a scenario file; errors name the file, the field and the fix."""
    return load_model(path, VerifyScenario)
