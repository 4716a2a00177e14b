"""Compile a validated deployment into runtime objects, checking every referenced file first.

Nothing is started here: a deployment that fails any check raises before a thread runs or an
output is written. Simulated parts (scene camera) come in through `simulated_grabber`, which the
command line provides, so the product itself never imports its simulators.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantvision.conveyor.blind import VIEW_FIX, view_problem
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.conveyor.runtime import RejectRuntime
from plantvision.detect import Detector, ModelSpec, load_detector
from plantvision.detect.ov_session import INSTALL_HINT, openvino_installed
from plantvision.detect.shared import InferenceWorkers, SharedModels
from plantvision.errors import ConfigError
from plantvision.frames.grabbers import Grabber, ImageFolderGrabber, OpenCvGrabber
from plantvision.frames.health import FrozenDetector
from plantvision.frames.mjpeg import MjpegGrabber, log_report
from plantvision.frames.source import FrameSource
from plantvision.guard.iso13855 import case_problem
from plantvision.guard.latch import Guard
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.deployment import CameraModel, DeploymentModel, SafetyModel
from plantvision.loop.int8_gate import check_quantized
from plantvision.loop.threads import InferencePlan, plan_inference, share_threads, usable_cores
from plantvision.plc.config import PlcConfig
from plantvision.plc.fifo import ENTRY_REGS, HEADER_REGS, slot_count
from plantvision.zones.config import load_zone_file
from plantvision.zones.geometry import CompiledZones

SimulatedGrabber = Callable[[CameraModel, Path, Callable[[], int]], Grabber]


def resolve(base: Path, path: str | Path) -> Path:
    """A path from a deployment file, relative to that file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


@dataclass(frozen=True)
class CameraFiles:
    """The checked files one camera refers to; `shared`: its model runs on the box's shared
    inference workers (loop/threads.py)."""

    zones: CompiledZones
    model: ModelSpec
    shared: bool = False


def box_plan(dep: DeploymentModel, cores: int | None = None) -> InferencePlan:
    """Per-camera sessions or shared workers, for this deployment on this box's cores."""
    return plan_inference(
        dep.inference, len(dep.cameras), usable_cores() if cores is None else cores
    )


def _existing(
    dep_file: Path, field: str, what: str, path: str | Path, folder: bool = False
) -> Path:
    """`path` resolved against the deployment file's folder, or a ConfigError naming `field`."""
    p = resolve(dep_file.parent, path)
    if not (p.is_dir() if folder else p.is_file()):
        raise ConfigError(str(dep_file), field, f"{what} {p} not found",
                          "give a path relative to the deployment file")  # fmt: skip
    return p


def check_camera_files(
    dep_file: Path,
    index: int,
    cam: CameraModel,
    *,
    safety: SafetyModel,
    cameras: int = 1,
    cores: int | None = None,
    plan: InferencePlan | None = None,
) -> CameraFiles:
    """Every file a camera names exists and validates, its zone file is this camera's, and the
    safety case fits its zones; errors name the deployment field or the zone file's. The model's
    thread count 0 becomes this camera's share of `cores` among `cameras`, or 1 on the shared
    workers of `plan` (loop/threads.py)."""
    where = f"cameras[{index}]"
    zones_path = _existing(dep_file, f"{where}.zones", "zone file", cam.zones)
    zones = load_zone_file(zones_path)  # raises its own ConfigError naming the zone file
    if zones.camera != cam.id:
        raise ConfigError(
            str(zones_path),
            "camera",
            f"zone file is for camera {zones.camera!r}, but {where} is {cam.id!r} in {dep_file}",
            f"set camera: {cam.id} if the zones are this camera's, else point {where}.zones "
            f"at the zone file made for {cam.id}",
        )
    if cam.overrun_policy == "warn" and any(z.kind == "stop" for z in zones.zones):
        raise ConfigError(
            str(dep_file),
            f"{where}.overrun_policy",
            f"'warn' removes the only latency bound on the stop path, and zone file "
            f"{zones_path} has stop zones: a late verdict would go on holding the permit",
            "use overrun_policy: trip (raise budget_ms if overruns are expected), or watch "
            "the stop zones with another camera",
        )
    problem = case_problem(safety.approach, zones)
    if problem is not None:
        raise ConfigError(str(dep_file), "safety.approach", problem,
                          "use approach: floor (S = 1600 T + 1200 + Z)")  # fmt: skip
    if cam.model.backend == "openvino" and not openvino_installed():
        raise ConfigError(str(dep_file), f"{where}.model.backend",
                          "'openvino' needs the openvino package, which is not installed",
                          f"{INSTALL_HINT}, or set backend: onnxruntime")  # fmt: skip
    shared = plan is not None and plan.runs(cam.model)
    update: dict[str, Any] = {
        "path": _existing(dep_file, f"{where}.model.path", "model", cam.model.path),
        "intra_op_threads": share_threads(
            cam.model.intra_op_threads, cameras, usable_cores() if cores is None else cores,
            shared,
        ),
        # Spinning pays only for a session alone on the box (spec.spin_wait).
        "spin_wait": cameras == 1 and not shared
        if cam.model.spin_wait is None
        else cam.model.spin_wait,
    }  # fmt: skip
    if cam.model.names_file is not None:
        update["names_file"] = resolve(dep_file.parent, cam.model.names_file)
    src = cam.source
    if src.kind in ("video", "folder"):
        _existing(dep_file, f"{where}.source.uri", src.kind, src.uri, folder=src.kind == "folder")
    if src.kind == "simulated":
        _existing(dep_file, f"{where}.source.scenario", "scenario", src.scenario)
    return CameraFiles(zones, cam.model.model_copy(update=update), shared)


def check_zone_classes(zones: CompiledZones, class_names: Sequence[str], model: str) -> None:
    """Every class a zone counts is one the model detects: a zone counting a class the model
    does not have (a typo such as 'persn') could never trip."""
    known = set(class_names)
    for i, z in enumerate(zones.zones):
        for c in z.classes:
            if c in known:
                continue
            close = difflib.get_close_matches(c, list(class_names), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                zones.source,
                f"zones[{i}] (id {z.id}).classes",
                f"{z.kind} zone counts class {c!r}, which model {model} does not detect (model "
                f"classes: {', '.join(class_names)}), so it could never trip",
                f"{hint}use the model's class names",
            )


def ejector_outputs(
    dep_file: Path, index: int, cam: CameraModel, plc: PlcConfig
) -> dict[str, int] | None:
    """Ejector id -> index into plc.signals.ejectors for a camera's conveyor, after checking
    that the PLC map has every signal the conveyor needs; None without a conveyor."""
    conv = cam.conveyor
    if conv is None:
        return None
    where, sig = f"cameras[{index}].conveyor", plc.signals

    def fail(field: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(str(dep_file), f"{where}.{field}", problem, fix)

    outputs = {e.id: i if e.output is None else e.output for i, e in enumerate(conv.ejectors)}
    for i, e in enumerate(conv.ejectors):
        if outputs[e.id] >= len(sig.ejectors):
            raise fail(
                f"ejectors[{i}].output",
                f"ejector output {outputs[e.id]} is not in plc.signals.ejectors "
                f"({len(sig.ejectors)} mapped)",
                "map one more ejector coil, or give an existing index in 'output'",
            )
    if len(set(outputs.values())) != len(outputs):
        raise fail("ejectors", "two ejectors drive the same coil", "give each its own 'output'")
    enc = conv.belt.encoder
    if enc is not None and (enc.signal != "encoder" or sig.encoder is None):
        raise fail(
            "belt.encoder.signal",
            f"signal {enc.signal!r} is not a mapped encoder",
            "use signal 'encoder' and map plc.signals.encoder",
        )
    if conv.timing_mode == "plc" and sig.encoder is not None and sig.encoder.width != 32:
        raise fail(
            "timing_mode",
            f"PLC-timed rejects need a 32-bit encoder (the reject FIFO carries 32-bit fire "
            f"counts); plc.signals.encoder.width is {sig.encoder.width}",
            "map a 32-bit encoder count, or use timing_mode: box",
        )
    if conv.timing_mode == "plc" and sig.reject_fifo is None:
        raise fail(
            "timing_mode", "PLC-timed rejects need a reject FIFO", "map plc.signals.reject_fifo"
        )
    size = conv.mapping.image_size_px
    if size is not None:  # the view is known: judge it now
        lo, hi = ImageToBelt(conv.mapping).view_mm(*size)
        if hi - lo <= conv.longest_item_mm:
            raise fail("longest_item_mm", view_problem(hi - lo, conv.longest_item_mm), VIEW_FIX)
    ranges = conv.no_decision_action == "reject"
    fifo = sig.reject_fifo
    if conv.timing_mode == "plc" and ranges and fifo is not None and slot_count(fifo.count) < 2:
        raise fail(
            "no_decision_action",
            f"a blind segment's range verdict takes 2 FIFO slots; plc.signals.reject_fifo has "
            f"{slot_count(fifo.count)}",
            f"map a reject_fifo of at least {HEADER_REGS + 2 * ENTRY_REGS} registers, or "
            "no_decision_action: stop_belt",
        )
    bin_sensor = sig.reject_confirm is not None or bool(sig.reject_confirm_counters)
    if conv.confirm_window_ms is not None and not bin_sensor:
        raise fail(
            "confirm_window_ms",
            "reject confirmation needs the bin sensor: counters or the level input",
            "map plc.signals.reject_confirm_counters (reliable) or reject_confirm, or "
            "remove confirm_window_ms",
        )
    return outputs


def make_grabber(
    dep_file: Path,
    cam: CameraModel,
    clock_ns: Callable[[], int],
    simulated: SimulatedGrabber | None,
    log: Any = None,
) -> Grabber:
    src, base = cam.source, dep_file.parent
    if src.kind == "simulated":
        if simulated is None:
            raise ConfigError(
                str(dep_file),
                "cameras.source.kind",
                "a simulated camera is only available to the demo commands",
            )
        return simulated(cam, base, clock_ns)
    if src.kind == "folder":
        return ImageFolderGrabber(str(resolve(base, src.uri)), src.fps, cam.id)
    if src.frame_stamps == "camera":
        return MjpegGrabber(
            src.uri, cam.id, stamp_header=src.stamp_header, clock_ns=clock_ns,
            report=log_report(log),
        )  # fmt: skip
    uri = str(resolve(base, src.uri)) if src.kind == "video" else src.uri
    return OpenCvGrabber(uri, cam.id)


def build_cameras(
    dep: DeploymentModel,
    dep_file: Path,
    *,
    log: Any,
    clock_ns: Callable[[], int] = time.monotonic_ns,
    simulated: SimulatedGrabber | None = None,
    detectors: dict[str, Detector] | None = None,
) -> list[CameraRuntime]:
    """Check every camera's files, load its detector (with warm-up), and wire its runtime.
    Cameras on shared inference workers (loop/threads.py) share them and one session a model;
    the workers start here (warm-up runs on this thread)."""
    n, plan = len(dep.cameras), box_plan(dep)
    files = [
        check_camera_files(dep_file, i, c, safety=dep.safety, cameras=n, plan=plan)
        for i, c in enumerate(dep.cameras)
    ]
    pool = None
    if any(f.shared for f in files):
        pool = SharedModels(InferenceWorkers(plan.workers))
        pool.workers.start()
    outputs = [ejector_outputs(dep_file, i, c, dep.plc) for i, c in enumerate(dep.cameras)]
    used = [i for o in outputs if o for i in o.values()]
    if len(set(used)) != len(used):
        raise ConfigError(
            str(dep_file),
            "cameras.conveyor.ejectors",
            "two cameras drive the same ejector coil",
            "give each ejector its own 'output' index",
        )
    cams = []
    for cam, f, outs in zip(dep.cameras, files, outputs, strict=True):
        detector = (detectors or {}).get(cam.id)
        on_pool = pool if detector is None and f.shared else None
        if detector is None:  # an injected detector is a test double or the caller's own
            detector = (
                load_detector(f.model)
                if on_pool is None
                # A camera waits for its result at most its budget, then trips (model_error).
                else on_pool.detector(f.model, int(cam.budget_ms * 1e6))
            )
            check_quantized(dep_file, dep.cameras.index(cam), cam, detector)
        names = getattr(detector, "class_names", None)  # injected test detectors may have none
        if names:
            check_zone_classes(f.zones, names, f.model.path.name)
        source = FrameSource(
            make_grabber(dep_file, cam, clock_ns, simulated, log.bind(camera=cam.id)),
            pace=cam.source.pace,
            loop=cam.source.loop,
            clock_ns=clock_ns,
            log=log.bind(camera=cam.id),
        )
        guard = Guard(dep.guard, f.zones.sha256, warn_hold_ms=f.zones.warn_hold_ms())
        cams.append(
            CameraRuntime(
                id=cam.id,
                source=source,
                detector=detector,
                zones=f.zones,
                guard=guard,
                budget_ns=int(cam.budget_ms * 1e6),
                overrun_trips=cam.overrun_policy == "trip",
                stall_ns=int(cam.stall_ms * 1e6),
                frozen=FrozenDetector(cam.frozen_ms),
                dark_max_mean=cam.dark.max_mean,
                dark_max_std=cam.dark.max_std,
                inference=None if on_pool is None else on_pool.workers,
                capture_latency_ns=int(cam.source.capture_latency_ms * 1e6),
                reject=None
                if cam.conveyor is None or outs is None
                else RejectRuntime(
                    cam.conveyor,
                    outs,
                    log.bind(camera=cam.id, room="reject"),
                    dep.plc.signals.encoder.width if dep.plc.signals.encoder else 32,
                    counted=bool(dep.plc.signals.reject_confirm_counters),
                    capture_latency_ms=cam.source.capture_latency_ms,
                    # A written verdict is taken at the PLC's next scan; a write that lands
                    # later still is refused past the PLC's late limit and counted missed.
                    transport_margin_ms=dep.safety.plc_scan_ms,
                ),
            )
        )
    return cams
