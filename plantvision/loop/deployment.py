"""Deployment files: what one edge box runs. Validated data only; compiled into runtime objects
by plantvision.loop.build, never mutated.

Paths inside a deployment file are relative to the file's own folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from plantvision.configio import StrictModel, load_model
from plantvision.conveyor import ConveyorConfig
from plantvision.detect import ModelSpec
from plantvision.guard.iso13855 import MinDistance, Supplement, min_distance
from plantvision.guard.latch import GuardConfig
from plantvision.loop.supervisor import SUPERVISE_PERIOD_MS, expiry_ns, read_wait_ns
from plantvision.loop.threads import InferenceModel
from plantvision.loop.voices_config import MqttModel, OpcuaModel, UdpModel
from plantvision.loop.voices_config import is_loopback as is_loopback  # re-exported: the page's
from plantvision.plc.config import PlcConfig


class SourceModel(StrictModel):
    """Where a camera's frames come from."""

    kind: Literal["camera", "video", "stream", "folder", "simulated"] = Field(
        description="camera (index), video (file), stream (rtsp/http URL), folder (images), "
        "simulated (scene simulator; the command line wires it in)"
    )
    uri: str = Field(
        default="",
        description="camera index, file or folder path (relative to this file), or stream URL",
    )
    scenario: str = Field(
        default="", description="scene scenario file for kind 'simulated' (relative to this file)"
    )
    fps: float = Field(
        default=10.0,
        gt=0,
        le=240,
        description="frame rate for folder/simulated; for a camera or stream, the rate `check` "
        "assumes for T (it does not open a live source)",
    )
    pace: Literal["native", "max", "lockstep"] = Field(
        default="native",
        description="native: real time at the source's own rate; max: as fast as possible, "
        "latest frame wins; lockstep: every frame, for benchmarks",
    )
    loop: bool = Field(default=False, description="restart a file source at its end")
    capture_latency_ms: float = Field(
        default=0.0,
        ge=0,
        le=2000,
        description="how long before its stamp (when the grab returns) a frame was exposed: an "
        "RTSP stream adds ~80 ms, a USB camera a frame or two. Items on a belt are placed where "
        "the belt was at the stamp less this, and `check` adds it to T; measure it on site "
        '(README, "Latencies"), ms',
    )
    frame_stamps: Literal["arrival", "camera"] = Field(
        default="arrival",
        description="arrival: a frame is stamped when the box has it, so every change in the "
        "camera's latency (encoding, network, decoding) moves it; camera: from the capture "
        "time the camera sends with each frame (`stamp_header`; kind stream, an http:// MJPEG "
        "URL), mapped onto the box's clock without assuming the clocks agree: the varying part "
        "drops out, capture_latency_ms keeps the constant part",
    )
    stamp_header: str = Field(
        default="X-Timestamp",
        pattern=r"^[A-Za-z0-9-]+$",
        description="with frame_stamps camera: the MJPEG part header carrying the frame's "
        "capture time in decimal seconds on the camera's clock (mjpg-streamer: X-Timestamp)",
    )

    @model_validator(mode="after")
    def _stamps_need_an_mjpeg_stream(self) -> SourceModel:
        url = urlsplit(self.uri)
        if self.frame_stamps == "camera" and not (
            self.kind == "stream" and url.scheme == "http" and url.hostname
        ):
            raise ValueError(
                "frame_stamps 'camera' reads the stamp from each part of an MJPEG stream: use "
                "kind 'stream' with an http://host/... URL, or frame_stamps 'arrival'"
            )
        # A file written out whole (the verifier's) carries the default: only another is news.
        if self.frame_stamps == "arrival" and self.stamp_header != "X-Timestamp":
            raise ValueError(
                "stamp_header is read only with frame_stamps 'camera': set that, or remove "
                "stamp_header"
            )
        return self

    @model_validator(mode="after")
    def _needs_location(self) -> SourceModel:
        if self.kind == "simulated" and not self.scenario:
            raise ValueError("kind 'simulated' needs 'scenario': a scene scenario file")
        if self.kind != "simulated" and not self.uri:
            raise ValueError(f"kind '{self.kind}' needs 'uri': the camera index, path or URL")
        if self.kind == "camera" and not self.uri.isdigit():
            raise ValueError("kind 'camera' takes a device index in 'uri', such as '0'")
        if self.kind == "stream" and "://" not in self.uri:
            raise ValueError("kind 'stream' takes a URL in 'uri', such as rtsp://host/stream")
        return self


class DarkModel(StrictModel):
    """Thresholds for a covered or dead camera (mean and spread of grey levels)."""

    max_mean: float = Field(default=12.0, ge=0, le=255, description="mean level at or below")
    max_std: float = Field(default=4.0, ge=0, le=128, description="and spread at or below")


LONGEST_ITEM_FIX = (
    "set conveyor.longest_item_mm to the longest item the belt carries, in mm; every item must "
    "be seen whole in min_views decided frames to pass as good"
)


def _longest_item_required(schema: dict[str, Any]) -> None:
    # The field's default (None) exists only so the validator below can answer its absence
    # with the fix; editors must flag it as required.
    schema["properties"]["longest_item_mm"].pop("default", None)
    schema["required"] = sorted({*schema.get("required", ()), "longest_item_mm"})


# The rule lives here, not in ConveyorConfig: the pure scheduler still takes a config without
# longest_item_mm (its unit tests' map off), while every deployment file validates through this.
class DeployedConveyor(ConveyorConfig):
    """A conveyor in a deployment file: reject unless proven good is the rule, not an option,
    so the coverage map is always on and `longest_item_mm` must be stated (DESIGN.md, "Defect
    rejection semantics"). There is no safe default: too small calls half-seen items proven."""

    model_config = ConfigDict(json_schema_extra=_longest_item_required)

    longest_item_mm: float = Field(
        default=None,
        validate_default=True,
        gt=0,
        le=1e5,
        description="the longest item along the belt, mm (required): a decided frame proves "
        "only the items it holds whole, its view along the belt less this, and belt that no "
        "frame proved is a blind segment handled by no_decision_action; no safe default: too "
        "small would call half-seen items proven",
    )

    @field_validator("longest_item_mm", mode="before")
    @classmethod
    def _stated(cls, v: object) -> object:
        if v is None:
            raise PydanticCustomError(
                "longest_item_required",
                "not set: without it no item is ever judged blind, and belt that passes the "
                "camera unseen (dropped frames, a stall, a model error, start-up) would go on "
                "as good",
                {"fix": LONGEST_ITEM_FIX},
            )
        return v


class CameraModel(StrictModel):
    """One camera: its source, model, zones, and timing limits."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="camera id used in events")
    source: SourceModel = Field(description="where frames come from")
    model: ModelSpec = Field(description="the ONNX detector and its pre/post-processing")
    zones: str = Field(description="zone file for this camera (relative to this file)")
    budget_ms: float = Field(
        default=200.0,
        gt=0,
        le=5000,
        description="latency budget: frame capture to permit write acknowledged",
    )
    overrun_policy: Literal["trip", "warn"] = Field(
        default="trip",
        description="on a budget overrun: trip the permit, or only log it (warn is refused for "
        "a camera with stop zones: it removes the only latency bound on the stop path)",
    )
    stall_ms: float = Field(
        default=500.0, gt=0, le=60000, description="no new frame for this long trips the permit"
    )
    frozen_ms: float = Field(
        default=500.0,
        gt=0,
        le=60000,
        description="identical pictures for this long trip the permit (frozen camera); like "
        "stall_ms, a bound on how long a dead picture can pass for an empty zone",
    )
    frozen_frames: int | None = Field(
        default=None,
        description="removed: frozen detection is in milliseconds now (frozen_ms); refused",
    )
    dark: DarkModel = Field(default_factory=DarkModel, description="covered-lens thresholds")
    conveyor: DeployedConveyor | None = Field(
        default=None, description="defect rejection on the belt this camera watches (optional)"
    )
    int8_min_zone_agreement_pct: float = Field(
        default=99.5,
        ge=90.0,
        le=100.0,
        description="an INT8 model is refused unless its card shows its zone verdicts equal "
        "its FP32 original's on at least this share of held-out frames (plantvision quantize)",
    )

    @field_validator("frozen_frames")
    @classmethod
    def _frozen_frames_removed(cls, v: int | None) -> None:
        if v is not None:
            raise ValueError(
                f"frozen_frames is replaced by frozen_ms (a time, not a frame count): remove "
                f"frozen_frames: {v} and write frozen_ms: {v} x the frame period in ms (e.g. "
                f"{v} frames at 15 fps is frozen_ms: {v * 1000 / 15:.0f}; default 500)"
            )


@dataclass(frozen=True, slots=True)
class FaultBound:
    """How long a camera fault can pass for a clear view before the permit-OFF decision, in ms
    from the fault's onset (the Modbus write, PLC scan and stopping time come on top, as in T).
    """

    name: str
    bound_ms: float
    parts: str  # how the bound is made, for `check` to print


def fault_bounds(
    cam: CameraModel, frame_period_ms: float, detect_p99_ms: float
) -> list[FaultBound]:
    """The detection bounds of the faults that blind a camera while it still looks alive:
    a person entering at the fault's onset is unseen until the fault trips, so the worst of
    these is charged to T like the frame periods are (IEC 61496: a fault is found within the
    response time it affects)."""
    wait_ms = read_wait_ns(int(cam.budget_ms * 1e6), int(cam.stall_ms * 1e6)) / 1e6
    expiry_ms = expiry_ns(int(cam.budget_ms * 1e6), int(cam.stall_ms * 1e6)) / 1e6
    return [
        FaultBound(
            "stall",
            cam.stall_ms + wait_ms,
            f"stall_ms {cam.stall_ms:g} + read wait {wait_ms:g}",
        ),
        FaultBound(
            "frozen",
            cam.frozen_ms + frame_period_ms + detect_p99_ms,
            f"frozen_ms {cam.frozen_ms:g} + frame {frame_period_ms:.1f} + detect p99 "
            f"{detect_p99_ms:.1f}",
        ),
        FaultBound(
            "decision expiry",
            expiry_ms + SUPERVISE_PERIOD_MS,
            f"expiry min(stall_ms, budget_ms + read wait) {expiry_ms:g} + supervisor period "
            f"{SUPERVISE_PERIOD_MS}",
        ),
    ]


class DemoModel(StrictModel):
    """Hardware-free demo helpers, wired by the command line (never in a site deployment)."""

    plc_simulator: bool = Field(default=False, description="start the PLC simulator in-process")
    auto_reset_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="press reset at the simulator this long after the machine stops (0: never)",
    )
    duration_s: float = Field(default=0.0, ge=0, description="stop after this long (0: run on)")


class SafetyModel(StrictModel):
    """The machine's side of the ISO 13855 response time T, the case of the standard, and the
    position tolerance supplement Z added to S (see plantvision.guard.iso13855)."""

    stopping_time_ms: float = Field(
        default=200.0, ge=0, le=60000, description="machine stopping time after the permit drops"
    )
    plc_scan_ms: float = Field(default=10.0, ge=0, le=1000, description="PLC scan time")
    approach: Literal["floor", "body", "hand"] = Field(
        default="floor",
        description="ISO 13855 case: floor (feet entering a floor zone, S = 1600 T + 1200; the "
        "only one allowed for calibrated stop zones with a point anchor), body (vertical field, "
        "1600 T + 850) or hand (vertical field, 2000 T + 8(d - 14))",
    )
    d_mm: float | None = Field(
        default=None, gt=0, le=40, description="detection capability d for the hand approach"
    )
    anchor_offset_mm: float = Field(
        default=400.0,
        ge=0,
        le=5000,
        description="how far the leading foot can be ahead of a zone's anchor point, added to S "
        "(bottom_center sits between the feet: about half of a 750 mm step plus a toe; use a "
        "full step where people walk away from the camera)",
    )
    extra_tolerance_mm: float = Field(
        default=0.0,
        ge=0,
        le=5000,
        description="any further position tolerance added to S (calibration survey error, "
        "box jitter); the calibration's own worst point error is added by itself",
    )
    frames_to_decide: int = Field(
        default=2,
        ge=1,
        le=100,
        description="frame periods from entry to the tripping frame (1 waiting + 1 deciding)",
    )

    @model_validator(mode="after")
    def _hand_needs_d(self) -> SafetyModel:
        if self.approach == "hand" and self.d_mm is None:
            raise ValueError("approach 'hand' needs d_mm, the detection capability (<= 40 mm)")
        return self

    def min_distance(self, t_ms: float, calibration_error_mm: float = 0.0) -> MinDistance:
        """S for response time `t_ms`, with Z = calibration error + anchor offset + extra."""
        z = Supplement(calibration_error_mm, self.anchor_offset_mm, self.extra_tolerance_mm)
        return min_distance(t_ms, self.approach, self.d_mm, z)


class HttpModel(StrictModel):
    """The read-only status page and /metrics served by `plantvision run` (plantvision/face)."""

    enabled: bool = Field(default=True, description="serve the status page and /metrics")
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to bind; anything but loopback needs token_env (a bearer token)",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port (0: any free port)")
    token_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the bearer token every request must carry",
    )
    max_clients: int = Field(
        default=64, ge=1, le=1024, description="open connections at most; more are refused (503)"
    )
    max_requests_per_s: float = Field(
        default=200.0, gt=0, le=10000, description="requests per second, all clients (429)"
    )
    view_fps: float = Field(
        default=5.0, gt=0, le=30, description="annotated images encoded per camera per second"
    )
    jpeg_quality: int = Field(default=75, ge=10, le=100, description="JPEG quality of the view")

    @model_validator(mode="after")
    def _exposed_needs_token(self) -> HttpModel:
        if not is_loopback(self.host) and self.token_env is None:
            raise ValueError(
                f"host {self.host!r} is reachable from the network: set token_env to the name "
                "of an environment variable holding a bearer token, or bind 127.0.0.1"
            )
        return self


class DeploymentModel(StrictModel):
    """An edge-box deployment: cameras, the PLC, the guard's timing."""

    name: str = Field(description="deployment name, used in events and reports")
    cameras: list[CameraModel] = Field(min_length=1, description="one or more cameras")
    inference: InferenceModel = Field(
        default_factory=lambda: InferenceModel(),
        description="a session per camera, or shared inference workers (README, Multi-camera)",
    )
    plc: PlcConfig = Field(description="the PLC link and its signal map")
    guard: GuardConfig = Field(
        default_factory=lambda: GuardConfig(), description="trip/release timing"
    )
    safety: SafetyModel = Field(default_factory=SafetyModel, description="ISO 13855 inputs")
    demo: DemoModel = Field(default_factory=DemoModel, description="demo wiring (no hardware)")
    log_json: bool = Field(default=True, description="structured logs as JSON lines on stderr")
    cycle_log_s: float = Field(
        default=5.0, gt=0, le=3600, description="period of the 'cycle' line with stage times"
    )
    http: HttpModel = Field(default_factory=HttpModel, description="status page and /metrics")
    mqtt: MqttModel | None = Field(
        default=None, description="events, state and status to an MQTT broker (optional)"
    )
    udp: UdpModel | None = Field(
        default=None, description="one JSON datagram per decided frame (optional)"
    )
    opcua: OpcuaModel | None = Field(
        default=None, description="a read-only OPC UA server (optional; the opcua extra)"
    )

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> DeploymentModel:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids {dupes}: give each camera its own id")
        return self


def load_deployment(path: str | Path) -> DeploymentModel:
    """Validate a deployment file; errors name the file and the field."""
    return load_model(path, DeploymentModel)
