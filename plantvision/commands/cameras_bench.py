"""`plantvision loop-bench --cameras N[,M...]`: many cameras on this box, each in real time.

The deployment's first camera is copied N times (each copy opens its own source, runs its own
detector session and camera thread, exactly as `plantvision run` would with N cameras in the
file) and the real loop runs for `--seconds` against the PLC simulator in its own process. Unlike
the single-camera bench, nothing is taken in lockstep: every source paces itself (a video at its
own frame rate), so a camera that falls behind skips frames and its latencies show it. Printed per
camera and for all cameras together: capture -> permit write acknowledged (median, p99, max),
frames decided and skipped, budget overruns (the loop's own `budget_overrun` events), trips. A
list of counts (`--cameras 1,2,4,8`) runs each in turn and ends with the most cameras whose p99 held
the budget with no overrun.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plantvision import log as pvlog
from plantvision.commands.seam import scene_grabber, spawn_plc_simulator
from plantvision.detect import Detector
from plantvision.face.events import EventInbox, EventTap
from plantvision.loop.build import build_cameras, resolve
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import DeploymentModel, load_deployment
from plantvision.loop.edm import stop_bounds
from plantvision.loop.stats import LatencyWindow
from plantvision.plc.link import PlcLink
from plantvision.timing import Summary, summarize_ns

WINDOW = 1_000_000  # latency samples kept per camera: every frame of any sensible run


class EventCounts(EventInbox):
    """An inbox that counts events by (event, camera) instead of keeping them."""

    def __init__(self) -> None:
        super().__init__(length=1)
        self.counts: Counter[tuple[str, str]] = Counter()

    def put(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self.counts[(event, str(fields.get("camera", "")))] += 1


@dataclass(frozen=True, slots=True)
class CameraFigures:
    id: str
    e2e: Summary
    decided: int
    skipped: int
    overruns: int
    trips: int


@dataclass(frozen=True, slots=True)
class RunFigures:
    cameras: int
    threads: int
    budget_ms: float
    seconds: float
    per_camera: list[CameraFigures]
    together: Summary

    @property
    def overruns(self) -> int:
        return sum(c.overruns for c in self.per_camera)

    @property
    def holds(self) -> bool:
        return self.overruns == 0 and self.together.p99_ms <= self.budget_ms


def copies(
    dep: DeploymentModel, dep_file: Path, n: int, threads: int, tmp: Path
) -> DeploymentModel:
    """The deployment with its first camera N times (ids `<id>-1` ...), `threads` intra-op
    threads each (0: the box shares its cores among them, as `run` does). Each copy gets a copy
    of the zone file that names it (a zone file names the one camera it is for)."""
    first = dep.cameras[0]
    model = first.model.model_copy(update={"intra_op_threads": threads})
    zones = yaml.safe_load(resolve(dep_file.parent, first.zones).read_text())
    cams = []
    for k in range(1, n + 1):
        cid = f"{first.id}-{k}"
        path = tmp / f"{cid}.yaml"
        path.write_text(yaml.safe_dump({**zones, "camera": cid}))
        cams.append(first.model_copy(update={"id": cid, "model": model, "zones": str(path)}))
    return dep.model_copy(update={"cameras": cams})


def run_cameras(dep_file: Path, n: int, seconds: float, threads: int) -> RunFigures:
    with tempfile.TemporaryDirectory(prefix="pv-cameras-") as tmp:
        dep = copies(load_deployment(dep_file), dep_file, n, threads, Path(tmp))
        return _run(dep, dep_file, n, seconds)


def _run(dep: DeploymentModel, dep_file: Path, n: int, seconds: float) -> RunFigures:
    counts = EventCounts()
    log = EventTap(pvlog.get(deployment=dep.name), counts)
    cams = build_cameras(dep, dep_file, log=log, simulated=scene_grabber)
    for cam in cams:
        cam.latency = LatencyWindow(size=WINDOW)
    proc, port = spawn_plc_simulator(dep)
    link = PlcLink(dep.plc.model_copy(update={"port": port}), log)
    ctl = Controller(
        cams, link, log=log,
        stop_check=stop_bounds(dep.safety.stopping_time_ms, dep.safety.plc_scan_ms),
        reset_window_ms=dep.guard.reset_window_ms,
    )  # fmt: skip
    link.start()
    ctl.start()
    try:
        time.sleep(seconds)
    finally:
        ctl.stop()
        link.stop()
        with proc:  # closes its pipe too
            proc.terminate()
    per: list[CameraFigures] = []
    every: list[int] = []
    for cam in cams:
        samples = cam.latency.end_to_end_ns()
        every.extend(samples)
        per.append(CameraFigures(
            cam.id, summarize_ns(samples), cam.frames, cam.source.stats().skipped,
            counts.counts[("budget_overrun", cam.id)], cam.trips,
        ))  # fmt: skip
    det = cams[0].detector
    used = det.spec.intra_op_threads if isinstance(det, Detector) else 0
    return RunFigures(n, used, cams[0].budget_ns / 1e6, seconds, per, summarize_ns(every))


def print_run(fig: RunFigures) -> None:
    print(
        f"{fig.cameras} camera(s), {fig.threads} intra-op thread(s) each, {fig.seconds:.0f} s, "
        f"budget {fig.budget_ms:.0f} ms: capture -> permit write acknowledged"
    )
    for c in fig.per_camera:
        print(
            f"  {c.id:<14} median {c.e2e.median_ms:7.2f}  p99 {c.e2e.p99_ms:7.2f}  "
            f"max {c.e2e.max_ms:7.2f} ms  decided {c.decided:5d}  skipped {c.skipped:4d}  "
            f"overruns {c.overruns:3d}  trips {c.trips}"
        )
    t = fig.together
    print(
        f"  {'all':<14} median {t.median_ms:7.2f}  p99 {t.p99_ms:7.2f}  max {t.max_ms:7.2f} ms  "
        f"overruns {fig.overruns}: {'holds' if fig.holds else 'does NOT hold'} the budget"
    )


def run(dep_file: Path, counts: list[int], seconds: float, threads: int) -> int:
    pvlog.configure(json=True, level=40)  # errors only: the figures are the output
    held = 0
    for n in counts:
        fig = run_cameras(dep_file, n, seconds, threads)
        print_run(fig)
        if fig.holds:
            held = max(held, n)
    if len(counts) > 1:
        print(f"most cameras tried whose p99 held the budget with no overrun: {held or 'none'}")
    return 0
