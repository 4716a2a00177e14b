"""`plantvision check DEPLOYMENT`: validate everything a deployment refers to, without running it.

Checks the file, the PLC map, each camera's zones, source and model; reads the first frames of
a recorded or simulated source for its frame period and times the model on them (a live source
is not opened: its configured fps and a noise frame are assumed, and said to be;
check_source.py), and holds the model's p99 against the budget; prints each term of T with
where it came from (the Modbus term is the slowest write that still lands, request_timeout_ms x
(1 + retries)); prints the fault detection bounds (stall, frozen, decision expiry, supervisor)
and charges the worst to T; prints the ISO 13855 distance S for each stop zone, and what the
safety chain must do with the permit (stop category, stopping time, stop-monitoring bounds,
heartbeat rule). Exit 0: ready; 1: a check failed (budget, distance); 2: invalid input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plantvision.commands.check_coverage import coverage_lines
from plantvision.commands.check_source import SourceSample, measure_model, sample_source
from plantvision.commands.quant_report import card_lines
from plantvision.conveyor import ConveyorConfig
from plantvision.detect import load_detector
from plantvision.guard.iso13855 import ResponseTimeParts, check_zones
from plantvision.loop.build import (
    box_plan,
    check_camera_files,
    check_zone_classes,
    ejector_outputs,
)
from plantvision.loop.deployment import (
    CameraModel,
    DeploymentModel,
    fault_bounds,
    load_deployment,
)
from plantvision.loop.edm import stop_bounds
from plantvision.loop.int8_gate import check_quantized
from plantvision.loop.supervisor import (
    SERVICE_STALE_MS,
    SUPERVISE_PERIOD_MS,
    SUPERVISOR_STALE_NS,
    read_wait_ns,
)
from plantvision.loop.threads import CameraLoad, box_load, usable_cores
from plantvision.plc.config import write_worst_ms
from plantvision.zones.geometry import CompiledZones

# A typical permit write's round trip, for the budget margin only (loopback p99 is ~1 ms; a real
# network is slower): a slower write overruns the budget and trips, which costs availability,
# never safety. T charges the configured worst case instead (plc.config.write_worst_ms).
MODBUS_TYPICAL_MS = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate a deployment and report its ISO 13855 distance")
    p.add_argument("deployment", type=Path, help="deployment file")
    p.add_argument("--runs", type=int, default=30, help="timed model runs per camera")
    p.set_defaults(handler=run)


def check_camera(
    dep: DeploymentModel, dep_file: Path, i: int, runs: int, loads: list[CameraLoad]
) -> int:
    cam = dep.cameras[i]
    plan = box_plan(dep)
    files = check_camera_files(
        dep_file, i, cam, safety=dep.safety, cameras=len(dep.cameras), plan=plan
    )
    ejector_outputs(dep_file, i, cam, dep.plc)  # the conveyor against the PLC map
    detector = load_detector(files.model)
    check_zone_classes(files.zones, detector.class_names, files.model.path.name)
    quant = check_quantized(dep_file, i, cam, detector)  # refuses INT8 without its figures
    sample = sample_source(dep_file, cam, runs)
    size_wh = files.zones.frame_size if files.zones.frame_size is not None else (640, 480)
    lat = measure_model(detector, sample.frames, size_wh, runs)
    print(f"camera {cam.id}: {cam.source.kind} {cam.source.uri or cam.source.scenario}")
    print(
        f"  zones {files.zones.source} ({len(files.zones.zones)} zones, "
        f"sha256 {files.zones.sha256[:12]})"
    )
    print(
        f"  model {files.model.path.name}: {detector.family}, backend {files.model.backend} "
        f"({detector.provider}), "
        f"input {detector.input_size}, {files.model.intra_op_threads} intra-op thread(s)"
        + threads_note(dep, cam, files.shared, plan.workers)
    )
    if quant is not None:
        print("\n".join(card_lines(quant[0], "    ", backend=files.model.backend)))
    print(
        f"  detect stage: median {lat.median_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
        f"max {lat.max_ms:.1f} ms (n={lat.n}), "
        + (
            f"model timed on {len(sample.frames)} frames of the source"
            if sample.frames
            else f"model timed on a noise frame {size_wh[0]}x{size_wh[1]} (a live source is not "
            "opened by check)"
        )
    )
    _waivers(files.zones)
    loads.append(CameraLoad(cam.id, 1000 / sample.period_ms, lat.median_ms,
                            files.model.intra_op_threads, files.shared))  # fmt: skip
    failed = 0
    if cam.conveyor is not None:
        print(tracker_gate_line(cam.conveyor))
        frame_wh = (
            (sample.frames[0].shape[1], sample.frames[0].shape[0]) if sample.frames else size_wh
        )
        print("\n".join(coverage_lines(dep_file, i, cam, frame_wh)))
        print(latency_line(cam))
        line, ok = reject_horizon_line(dep_file, i, cam)
        print(line)
        failed += not ok
    if lat.p99_ms + MODBUS_TYPICAL_MS > cam.budget_ms:
        print(
            f"  FAIL budget {cam.budget_ms:.0f} ms < detect p99 + typical Modbus write "
            f"{lat.p99_ms + MODBUS_TYPICAL_MS:.1f} ms: raise budget_ms or use a faster model"
        )
        failed += 1
    else:
        print(
            f"  ok   budget {cam.budget_ms:.0f} ms (margin "
            f"{cam.budget_ms - lat.p99_ms - MODBUS_TYPICAL_MS:.1f} ms)"
        )
    failed += _distance(dep, cam, files.zones, sample, lat.p99_ms)
    return failed


def threads_note(dep: DeploymentModel, cam: CameraModel, shared: bool, workers: int) -> str:
    """Where a camera's thread count came from: the deployment, the box's share, or the
    shared inference workers it runs on."""
    cameras = f"{usable_cores()} cores, {len(dep.cameras)} camera(s)"
    if shared:
        return (
            f" on {workers} shared inference worker(s) (inference.sharing "
            f"{dep.inference.sharing}: {cameras})"
        )
    if cam.model.intra_op_threads:
        return ""
    return f" (auto: {usable_cores()} cores shared by {len(dep.cameras)} camera(s))"


def load_line(
    loads: list[CameraLoad], cores: int, what: tuple[str, str] = ("box", "core(s)")
) -> tuple[str, bool]:
    """The box's cores (or its shared inference workers: `what`) against every camera's frames:
    a box that cannot keep up skips frames and overruns its budgets however fast each camera's
    model is alone."""
    share, verdict = box_load(loads, cores)
    need = " + ".join(
        f"{c.id} {c.fps:.0f} fps x {c.detect_ms:.1f} ms x {c.threads} thread(s)" for c in loads
    )
    head = f"{what[0]}: {need} = {100 * share:.0f} % of {cores} {what[1]}"
    if verdict == "over":
        return (
            f"  FAIL {head}: it cannot keep up (frames skipped, every budget at risk); use fewer "
            "cameras or a lower fps, a faster model, or a bigger box",
            False,
        )
    if verdict == "busy":
        return (
            f"  warn {head}: frames will queue behind each other and p99 grow; measure it with "
            f"plantvision loop-bench --cameras {len(loads)}",
            True,
        )
    return f"  ok   {head}", True


def tracker_gate_line(conv: ConveyorConfig) -> str:
    """The tracker's gate against the closest item pitch (a gate of half the pitch or more is
    refused when the deployment loads; ConveyorConfig)."""
    if conv.min_item_pitch_mm is None:
        return (
            f"  WARNING conveyor.min_item_pitch_mm not set: the tracker gate "
            f"(gate_mm {conv.gate_mm:g} mm) is unchecked; items closer than "
            f"{2 * conv.gate_mm:g} mm centre to centre can join one track"
        )
    return (
        f"  ok   tracker gate {conv.gate_mm:g} mm < {conv.min_item_pitch_mm / 2:g} mm, half the "
        f"closest item pitch (conveyor.min_item_pitch_mm {conv.min_item_pitch_mm:g} mm)"
    )


def latency_line(cam: CameraModel) -> str:
    """The latencies the camera's rejects are placed and led with (README, "Latencies")."""
    conv = cam.conveyor
    if conv is None:
        return ""
    enc = conv.belt.encoder
    outputs = ", ".join(f"{e.id} {e.output_latency_ms:g}" for e in conv.ejectors)
    line = f"  reject latencies: capture {cam.source.capture_latency_ms:g} ms"
    line += "" if enc is None else f", encoder {enc.latency_ms:g} ms"
    line += f", output {outputs} ms"
    if cam.source.frame_stamps == "camera":
        line += f"; frames dated by the camera's {cam.source.stamp_header} stamps"
    values = [cam.source.capture_latency_ms, 0.0 if enc is None else enc.latency_ms]
    if not any(values + [e.output_latency_ms for e in conv.ejectors]):
        line += ' (all 0: measure them on site, README "Latencies")'
    return line


def reject_horizon_line(dep_file: Path, index: int, cam: CameraModel) -> tuple[str, bool]:
    """Box-timed plans are armed only in a camera cycle, `horizon_ms` before their fire time,
    so the horizon must cover the longest gap between two of the camera's scheduler updates:
    the thread waits up to min(stall_ms, budget_ms) / 4 for a frame, then takes up to budget_ms
    to decide it (beyond is an overrun). A reject whose fire time falls in a longer gap is
    decided after it: a late miss (a 150 ms cycle and the 100 ms default missed 9 of 30 phases
    of an item against the cycle). The output latency does not add: the fire time the horizon
    is measured to already leads by it. ("", True) for a camera without a conveyor."""
    conv = cam.conveyor
    if conv is None:
        return "", True
    if conv.timing_mode != "box":
        return (
            "  ok   reject horizon: PLC-timed, the PLC fires at a count (horizon_ms unused)",
            True,
        )
    wait_ms = read_wait_ns(int(cam.budget_ms * 1e6), int(cam.stall_ms * 1e6)) / 1e6
    need_ms = cam.budget_ms + wait_ms
    gap = (
        f"budget_ms {cam.budget_ms:g} + frame wait {wait_ms:g} ms (min(stall_ms, budget_ms) / 4)"
        f" = {need_ms:g} ms"
    )
    if conv.horizon_ms >= need_ms:
        return (
            f"  ok   reject horizon {conv.horizon_ms:g} ms >= the longest update gap, {gap}",
            True,
        )
    return (
        f"  FAIL {dep_file}: cameras[{index}].conveyor.horizon_ms {conv.horizon_ms:g} ms is "
        f"shorter than the longest gap between two reject updates, {gap}: a reject whose fire "
        f"time falls in such a gap is decided late and missed; set horizon_ms to at least "
        f"{need_ms:g}",
        False,
    )


def _waivers(zones: CompiledZones) -> None:
    """Every mask that can hide part of a stop zone is blanking, allowed only by its waiver."""
    for m in zones.masks:
        if m.hides_stop:
            classes = ", ".join(m.classes or ("every class",))
            print(
                f"  WAIVER mask {m.id} (classes {classes}) can hide stop zone "
                f"{', '.join(m.hides_stop)}: {m.waiver}"
            )


def _fault_bounds(cam: CameraModel, parts: ResponseTimeParts) -> float:
    """Print how long each fault can pass for a clear view before the permit-OFF decision, and
    return T charged: the larger of T and the worst of these plus write, scan and stopping."""
    bounds = fault_bounds(cam, parts.frame_period_ms, parts.processing_p99_ms)
    after_ms = parts.modbus_write_ms + parts.plc_scan_ms + parts.stopping_time_ms
    # The last frame that looked clear showed the scene capture_latency_ms before its stamp.
    after_ms += parts.capture_latency_ms
    after = (
        "capture latency, write, scan, stopping"
        if parts.capture_latency_ms
        else ("write, scan, stopping")
    )
    print("  fault detection (from the fault's onset to the permit-OFF decision):")
    for b in bounds:
        print(f"    {b.name}: {b.bound_ms:.1f} ms ({b.parts})")
    print(
        f"    supervisor: a dead thread {SUPERVISE_PERIOD_MS} ms; a stuck input poller "
        f"{SERVICE_STALE_MS:g} + {SUPERVISE_PERIOD_MS} ms (resets only); the supervisor itself: "
        f"heartbeat stops after {SUPERVISOR_STALE_NS / 1e6:g} ms (then the PLC's watchdog)"
    )
    worst = max(bounds, key=lambda b: b.bound_ms)
    t_fault_ms = worst.bound_ms + after_ms
    t_ms = max(parts.total_ms, t_fault_ms)
    source = f"fault at entry ({worst.name})" if t_fault_ms > parts.total_ms else "detection"
    print(
        f"  T charged = {t_ms:.1f} ms ({source}; a fault at entry: {worst.bound_ms:.1f} ms "
        f"{worst.name} + {after_ms:g} ms {after} = {t_fault_ms:.1f} ms)"
    )
    return t_ms


def response_time(dep: DeploymentModel, cam: CameraModel, src: SourceSample, p99_ms: float
                  ) -> tuple[ResponseTimeParts, list[str]]:  # fmt: skip
    """T's parts from the source, the model and the deployment, and the lines that print each
    term with where it came from (README, "Response time is a number")."""
    s, plc = dep.safety, dep.plc
    modbus_ms = write_worst_ms(plc.request_timeout_ms, plc.retries)
    capture_ms = cam.source.capture_latency_ms
    parts = ResponseTimeParts(src.period_ms, s.frames_to_decide, p99_ms, modbus_ms,
                              s.plc_scan_ms, s.stopping_time_ms, capture_ms)  # fmt: skip
    capture = f" + {capture_ms:g} ms capture latency" if capture_ms else ""
    lines = [
        f"  T = {s.frames_to_decide} x {src.period_ms:.1f} ms frames{capture} + {p99_ms:.1f} ms "
        f"detect p99 + {modbus_ms:g} ms Modbus + {s.plc_scan_ms:g} ms PLC scan + "
        f"{s.stopping_time_ms:g} ms stopping = {parts.total_ms:.1f} ms",
        f"    frames: {s.frames_to_decide} (safety.frames_to_decide) x {src.period_ms:.1f} ms "
        f"({src.how})",
    ]
    if src.assumed:
        lines.append(
            f"  WARNING frame period assumed from source.fps {cam.source.fps:g}: a live source is "
            "not opened by check; a slower stream is caught only by the stall bound below"
        )
    if capture_ms:
        lines.append(
            f"    capture latency {capture_ms:g} ms (source.capture_latency_ms): exposure to the "
            "frame's stamp, measured on site"
            + (
                "; the camera dates its frames (frame_stamps: camera), so the network's "
                "variation falls inside the budget the loop measures"
                if cam.source.frame_stamps == "camera"
                else ""
            )
        )
    where = "on a noise frame (live source)" if src.assumed else "on the source's own frames"
    lines += [
        f"    detect p99: {p99_ms:.1f} ms, {where}",
        f"    Modbus: request_timeout_ms {plc.request_timeout_ms} x (1 + retries {plc.retries}) "
        f"= {modbus_ms:g} ms, the slowest permit write that still lands",
        f"    PLC scan {s.plc_scan_ms:g} ms (safety.plc_scan_ms), stopping "
        f"{s.stopping_time_ms:g} ms (safety.stopping_time_ms, measured at commissioning)",
    ]
    return parts, lines


def _distance(
    dep: DeploymentModel, cam: CameraModel, zones: CompiledZones, src: SourceSample, p99_ms: float
) -> int:
    parts, lines = response_time(dep, cam, src, p99_ms)
    print("\n".join(lines))
    dist = dep.safety.min_distance(_fault_bounds(cam, parts), zones.calibration_error_mm)
    print(f"  {dist.describe()}")
    polys = zones.stop_polygons_mm()
    if not polys or zones.hazard_mm is None:
        print(
            "  (no floor calibration and hazard in the zone file: place each stop zone "
            f"boundary at least {dist.s_mm:.0f} mm from the hazard)"
        )
        return 0
    failed = 0
    for r in check_zones(polys, zones.hazard_mm, dist.s_mm):
        print(f"  {r.describe()}")
        failed += not r.passes
    return failed


def safety_chain_lines(dep: DeploymentModel) -> list[str]:
    """What the safety chain must do with the permit, and what the box checks of it: the stop
    category (IEC 60204-1), the meaning of stopping_time_ms, the stop-monitoring (EDM) bounds and
    the heartbeat rule (README, "Restart rule for the PLC program")."""
    s, sig = dep.safety, dep.plc.signals
    bounds = stop_bounds(s.stopping_time_ms, s.plc_scan_ms)
    lines = [
        "  permit OFF must cause a stop category 0 or 1 (IEC 60204-1) in the certified safety "
        "chain; a reset re-arms, only the operator's start command starts",
        f"  stopping_time_ms {s.stopping_time_ms:g} ms: the measured worst case from permit OFF at "
        "the PLC to standstill (stopping-time meter at commissioning); used in T and S",
        f"  {bounds.describe()}",
    ]
    if sig.machine_latched is None:
        lines.append("  PLC latch not monitored: map plc.signals.machine_latched")
    if sig.machine_stopped is None:
        lines.append("  standstill not monitored: map plc.signals.machine_stopped to check the "
                     "stopping time on every trip")  # fmt: skip
    mr = sig.maintenance_reset
    lines.append(
        f"  maintenance reset: plc.signals.maintenance_reset ({mr.type} {mr.address})"
        if mr is not None
        else "  no maintenance reset mapped: a stop-monitoring fault clears only when the box "
        "restarts; map plc.signals.maintenance_reset"
    )
    lines.append(
        f"  heartbeat: +1 per beat, one beat per decision round, at most every "
        f"{dep.plc.heartbeat_period_ms} ms; the PLC trips on a stale or out-of-sequence value and "
        f"accepts writes to the box's registers only from this box's address"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    dep = load_deployment(args.deployment)
    print(
        f"deployment {dep.name}: {len(dep.cameras)} camera(s), PLC "
        f"{dep.plc.host}:{dep.plc.port} unit {dep.plc.unit_id}"
    )
    print("\n".join(safety_chain_lines(dep)))
    loads: list[CameraLoad] = []
    failed = sum(
        check_camera(dep, args.deployment, i, args.runs, loads) for i in range(len(dep.cameras))
    )
    line, ok = load_line(loads, usable_cores())
    print(line)
    failed += not ok
    plan = box_plan(dep)
    shared = [c for c in loads if c.shared]
    if shared:  # they queue for the workers, not the cores: each worker runs one at a time
        line, ok = load_line(shared, plan.workers, ("shared inference", "worker(s)"))
        print(line)
        failed += not ok
    print("READY" if not failed else f"NOT READY: {failed} check(s) failed")
    return 1 if failed else 0
