"""`plantvision run [DEPLOYMENT]`: watch, decide, drive the PLC; a live summary and a final report.

Start-up validates everything and warms the model up before any output is written; SIGTERM or
SIGINT writes the permit off, stops the heartbeat and exits cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from plantvision import log as pvlog
from plantvision.commands.demo_wiring import describe_pulses, scene_grabber, start_plc_simulator
from plantvision.config import load_deployment
from plantvision.deploy import SimulatedGrabber, build_cameras
from plantvision.loop import Controller
from plantvision.plc import PlcLink
from plantvision.report import RunReport, format_live, format_report

DEFAULT_DEPLOYMENT = Path(__file__).resolve().parents[2] / "deployments" / "demo.yaml"


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a deployment (default: the hardware-free demo)")
    p.add_argument(
        "deployment",
        nargs="?",
        type=Path,
        default=DEFAULT_DEPLOYMENT,
        help="deployment file (default: deployments/demo.yaml)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: the deployment's, else run on)",
    )
    p.add_argument("--quiet", action="store_true", help="no live summary, only the final report")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    dep_file: Path = args.deployment
    dep = load_deployment(dep_file)
    pvlog.configure(json=dep.log_json)
    log = pvlog.get(deployment=dep.name)
    sim, plc_cfg = None, dep.plc
    simulated: SimulatedGrabber = scene_grabber
    if dep.demo.plc_simulator:
        # First, so a simulated conveyor camera can watch the simulator's belt.
        sim, port, simulated = start_plc_simulator(dep, base=dep_file.parent)
        plc_cfg = dep.plc.model_copy(update={"port": port})
    try:
        cameras = build_cameras(dep, dep_file, log=log, simulated=simulated)
    except BaseException:
        if sim is not None:
            sim.stop()
        raise
    link = PlcLink(plc_cfg, log)
    controller = Controller(cameras, link, log=log)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    duration = args.duration if args.duration is not None else (dep.demo.duration_s or None)
    report = RunReport(dep.name, time.monotonic())
    link.start()
    controller.start()
    log.info("started", cameras=[c.id for c in cameras], plc=f"{plc_cfg.host}:{plc_cfg.port}")
    try:
        _supervise(
            controller,
            stop,
            duration,
            args.quiet,
            dep.cycle_log_s,
            log,
            sim if dep.demo.auto_reset_s > 0 else None,
            dep.demo.auto_reset_s,
            report,
        )
    finally:
        controller.stop()
        link.stop()  # permit off, heartbeat stops
        if sim is not None:
            sim.stop()
        log.info("stopped")
    print("\n".join([format_report(report, controller), *describe_pulses(sim)]), flush=True)
    return 0


def _supervise(
    controller: Controller,
    stop: threading.Event,
    duration: float | None,
    quiet: bool,
    cycle_log_s: float,
    log: Any,
    sim: Any,
    auto_reset_s: float,
    report: RunReport,
) -> None:
    """Main thread: live summary, periodic `cycle` lines, the demo's virtual operator."""
    t0 = time.monotonic()
    next_cycle = t0 + cycle_log_s
    stopped_since: float | None = None
    tty = sys.stdout.isatty()
    while not stop.wait(0.25) and not controller.stop_event.is_set():
        now = time.monotonic()
        if duration is not None and now - t0 >= duration:
            break
        if not quiet:
            line = format_live(controller, now - t0)
            print(("\r" + line + "\033[K") if tty else line, end="" if tty else "\n", flush=True)
        if now >= next_cycle:
            next_cycle += cycle_log_s
            for cam in controller.cameras:
                e2e = cam.latency.end_to_end()
                log.info(
                    "cycle",
                    camera=cam.id,
                    frames=cam.frames,
                    trips=cam.trips,
                    e2e_median_ms=round(e2e.median_ms, 2),
                    e2e_p99_ms=round(e2e.p99_ms, 2),
                    **{f"{k}_p99_ms": round(v.p99_ms, 2) for k, v in cam.latency.stages().items()},
                )
        if sim is not None:
            # The demo's virtual operator presses reset once the machine has stood still a while.
            running = bool(sim.machine_running)
            stopped_since = None if running else (stopped_since or now)
            if stopped_since is not None and now - stopped_since >= auto_reset_s:
                sim.press_reset()
                report.resets_pressed += 1
                stopped_since = now
    if tty and not quiet:
        print()
