"""`plantvision run [DEPLOYMENT]`: watch, decide, drive the PLC; a live summary and a final report.

Start-up validates everything and warms the model up before any output is written. SIGTERM,
SIGINT and the end of `--duration` are a trip: permit OFF with fault code `shutdown` is written
first, and only then do the threads, the heartbeat and the connections wind down. Logging goes
through a bounded queue (plantvision.log); the final report says how many lines it dropped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plantvision import log as pvlog
from plantvision.commands.seam import describe_pulses, scene_grabber, start_demo_plant
from plantvision.configio import file_sha256
from plantvision.face.events import EventInbox, EventTap
from plantvision.face.server import bearer_token, http_override, start_face
from plantvision.face.state import RunInfo
from plantvision.loop import sdnotify
from plantvision.loop.build import SimulatedGrabber, build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.loop.edm import stop_bounds
from plantvision.loop.report import RunReport, format_live, format_report
from plantvision.plc.link import PlcLink
from plantvision.voices import start as voices
from plantvision.voices.cell import Identity

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
    p.add_argument(
        "--http",
        metavar="HOST:PORT|off",
        default=None,
        help="status page and /metrics address (default: the deployment's http:, 127.0.0.1:8080)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    dep_file: Path = args.deployment
    dep = load_deployment(dep_file)
    http = http_override(dep.http, args.http)
    token = bearer_token(http, str(dep_file))
    pvlog.configure(json=dep.log_json)
    plan = voices.plan(dep, dep_file)  # MQTT credentials from the environment, checked now
    inbox = EventInbox()  # recent events for the page: a tap on the log calls
    log = plan.tap(EventTap(pvlog.get(deployment=dep.name), inbox))
    sim, plc_cfg = None, dep.plc
    simulated: SimulatedGrabber = scene_grabber
    if dep.demo.plc_simulator:
        # First, so a simulated conveyor camera can watch the simulator's belt.
        sim, port, simulated = start_demo_plant(dep, dep_file.parent)
        plc_cfg = dep.plc.model_copy(update={"port": port})
    try:
        cameras = build_cameras(dep, dep_file, log=log, simulated=simulated)
    except BaseException:
        if sim is not None:
            sim.stop()
        raise
    link = PlcLink(plc_cfg, log)
    stop_check = stop_bounds(dep.safety.stopping_time_ms, dep.safety.plc_scan_ms)
    controller = Controller(
        cameras, link, log=log, stop_check=stop_check, reset_window_ms=dep.guard.reset_window_ms
    )
    info = RunInfo(dep.name, str(dep_file), file_sha256(dep_file),
                   f"{plc_cfg.host}:{plc_cfg.port}", time.time())  # fmt: skip
    face = start_face(controller, http, info, inbox, token, log)
    ident = Identity(
        dep.mqtt.box_id or dep.name if dep.mqtt else dep.name, dep.name, info.deployment_sha256,
        {c.id: c.zones.sha256 for c in cameras}, info.started_unix,
        face.url if face is not None else None,
    )  # fmt: skip
    outside = voices.start(plan, controller, ident, log)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    duration = args.duration if args.duration is not None else (dep.demo.duration_s or None)
    report = RunReport(dep.name, time.monotonic())
    link.start()
    controller.start()
    log.info("started", cameras=[c.id for c in cameras], plc=f"{plc_cfg.host}:{plc_cfg.port}")
    sdnotify.notify("READY=1")
    operator = sim if dep.demo.auto_reset_s > 0 else None
    sup = Supervisor(
        controller, log, report, dep.cycle_log_s, args.quiet, operator, dep.demo.auto_reset_s
    )
    try:
        sup.run(stop, duration)
    finally:
        controller.stop()  # permit OFF (fault code `shutdown`) first, then the threads
        sdnotify.notify("STOPPING=1")
        link.stop()  # permit OFF again, then the heartbeat stops and the sockets close
        outside.stop()  # after the shutdown trip, so the plant hears it
        if face is not None:
            face.stop()
        if sim is not None:
            sim.stop()
        log.info("stopped")
    logs = pvlog.shutdown(timeout_s=1.0)  # a blocked stderr is abandoned, not waited for
    print(
        "\n".join([format_report(report, controller), *describe_pulses(sim), _log_line(logs)]),
        flush=True,
    )
    return 0


def _log_line(logs: pvlog.LogStats) -> str:
    return (
        f"  log lines: {logs.queued} queued, {logs.dropped} dropped (queue full), "
        f"{logs.lost} lost (stream errors), {logs.pending} not written at exit (stream blocked)"
    )


@dataclass
class Supervisor:
    """The main thread while the loop runs: live summary, periodic `cycle` lines, the systemd
    watchdog, and the demo's virtual operator (presses reset, then start, at the simulated
    machine)."""

    controller: Controller
    log: Any
    report: RunReport
    cycle_log_s: float
    quiet: bool
    operator: Any = None
    auto_reset_s: float = 0.0
    _stopped_since: float | None = None

    def run(self, stop: threading.Event, duration: float | None) -> None:
        t0 = time.monotonic()
        tty = sys.stdout.isatty()
        # On a terminal the line redraws in place; in a log it appears every cycle_log_s.
        live_every_s = 0.25 if tty else self.cycle_log_s
        next_live = next_cycle = t0
        pet_s = sdnotify.watchdog_period_s()
        next_pet = t0
        while not stop.wait(0.1) and not self.controller.stop_event.is_set():
            now = time.monotonic()
            if duration is not None and now - t0 >= duration:
                break
            if pet_s is not None and now >= next_pet and self.controller.alive():
                # Only while every camera and service thread (and the loop's supervisor) is
                # alive and cycling: a half-alive box is restarted by systemd.
                sdnotify.notify("WATCHDOG=1")
                next_pet = now + pet_s
            if not self.quiet and now >= next_live:
                next_live = now + live_every_s
                line = format_live(self.controller, now - t0)
                print(
                    ("\r" + line + "\033[K") if tty else line, end="" if tty else "\n", flush=True
                )
            if now >= next_cycle:
                next_cycle = now + self.cycle_log_s
                self._log_cycle()
            if self.operator is not None:
                self._operate(now)
        if tty and not self.quiet:
            print()

    def _log_cycle(self) -> None:
        for cam in self.controller.cameras:
            e2e = cam.latency.end_to_end()
            self.log.info(
                "cycle", camera=cam.id, frames=cam.frames, trips=cam.trips,
                e2e_median_ms=round(e2e.median_ms, 2), e2e_p99_ms=round(e2e.p99_ms, 2),
                **{f"{k}_p99_ms": round(v.p99_ms, 2) for k, v in cam.latency.stages().items()},
            )  # fmt: skip

    def _operate(self, now: float) -> None:
        """The demo's virtual operator at the simulated machine: press reset once the machine
        has stood still for auto_reset_s (refusals are logged by the box), then, as a separate
        action, press start once the machine shows ready (the box raised its permit after the
        reset). A reset re-arms and never starts the machine."""
        running = bool(self.operator.machine_running)
        self._stopped_since = None if running else (self._stopped_since or now)
        if running:
            return
        if self.operator.ready:
            if self.operator.press_start():
                self.log.info("operator_start")
            return
        if self._stopped_since is not None and now - self._stopped_since >= self.auto_reset_s:
            self.operator.press_reset()
            self.report.resets_pressed += 1
            self._stopped_since = now
