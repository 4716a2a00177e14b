"""`plantvision loop-bench --cameras N[,M...]`: many cameras on this box, each in real time.

The deployment's first camera is copied N times (each copy opens its own source, runs its own
detector session and camera thread, exactly as `plantvision run` would with N cameras in the
file) and the real loop runs for `--seconds` against the PLC simulator in its own process. Unlike
the single-camera bench, nothing is taken in lockstep: every source paces itself (a video at its
own frame rate), so a camera that falls behind skips frames and its latencies show it. Printed per
camera and for all cameras together: capture -> permit write acknowledged (median, p99, max),
frames decided and skipped, budget overruns (the loop's own `budget_overrun` events), trips. A
list of counts (`--cameras 1,2,4,8`) runs each in turn and ends with the most cameras whose p99 held
the budget with no overrun. `--sharing per_camera,shared` runs each count both ways in turn
(a session per camera, or the box's shared inference workers; loop/threads.py), so the two are
measured back to back under the same load.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plantvision import log as pvlog
from plantvision.commands.seam import scene_grabber, spawn_plc_simulator
from plantvision.detect import Detector
from plantvision.errors import ConfigError
from plantvision.face.events import EventInbox, EventTap
from plantvision.loop.build import build_cameras, resolve
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import DeploymentModel, load_deployment
from plantvision.loop.edm import stop_bounds
from plantvision.loop.stats import LatencyWindow
from plantvision.loop.threads import Sharing
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
    workers: int  # shared inference workers; 0: a session per camera
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
    dep: DeploymentModel,
    dep_file: Path,
    n: int,
    threads: int,
    tmp: Path,
    sharing: Sharing | None = None,
) -> DeploymentModel:
    """The deployment with its first camera N times (ids `<id>-1` ...), `threads` intra-op
    threads each (0: the box shares its cores among them, as `run` does), and `inference.sharing`
    set to `sharing` when given. Each copy gets a copy of the zone file that names it (a zone
    file names the one camera it is for)."""
    first = dep.cameras[0]
    model = first.model.model_copy(update={"intra_op_threads": threads})
    zones = yaml.safe_load(resolve(dep_file.parent, first.zones).read_text())
    cams = []
    for k in range(1, n + 1):
        cid = f"{first.id}-{k}"
        path = tmp / f"{cid}.yaml"
        path.write_text(yaml.safe_dump({**zones, "camera": cid}))
        cams.append(first.model_copy(update={"id": cid, "model": model, "zones": str(path)}))
    inference = dep.inference
    if sharing is not None:
        inference = inference.model_copy(update={"sharing": sharing})
    return dep.model_copy(update={"cameras": cams, "inference": inference})


def run_cameras(
    dep_file: Path, n: int, seconds: float, threads: int, sharing: Sharing | None = None
) -> RunFigures:
    with tempfile.TemporaryDirectory(prefix="pv-cameras-") as tmp:
        dep = copies(load_deployment(dep_file), dep_file, n, threads, Path(tmp), sharing)
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
    det, pool = cams[0].detector, cams[0].inference
    used = det.spec.intra_op_threads if isinstance(det, Detector) else 0
    workers = 0 if pool is None else pool.workers
    return RunFigures(n, used, workers, cams[0].budget_ns / 1e6, seconds, per, summarize_ns(every))


def print_run(fig: RunFigures) -> None:
    how = (
        f"{fig.workers} shared inference worker(s) x {fig.threads} intra-op thread(s)"
        if fig.workers
        else f"a session per camera, {fig.threads} intra-op thread(s) each"
    )
    print(
        f"{fig.cameras} camera(s), {how}, {fig.seconds:.0f} s, "
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


def parse_sharings(text: str | None) -> list[Sharing | None]:
    """`--sharing per_camera,shared` as a list; [None] (the deployment's own) when absent."""
    if text is None:
        return [None]
    known: dict[str, Sharing] = {"auto": "auto", "per_camera": "per_camera", "shared": "shared"}
    words = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in words if w not in known]
    if bad or not words:
        raise ConfigError(
            "command line",
            "--sharing",
            f"{text!r} is not a list of per_camera, shared, auto",
            "such as --sharing per_camera,shared",
        )
    return [known[w] for w in words]


def run(
    dep_file: Path,
    counts: list[int],
    seconds: float,
    threads: int,
    sharings: Sequence[Sharing | None] = (None,),
) -> int:
    """Each count, each sharing in turn (None: the deployment's own); prints every run and,
    per sharing, the most cameras that held the budget."""
    pvlog.configure(json=True, level=40)  # errors only: the figures are the output
    held: dict[Sharing | None, int] = dict.fromkeys(sharings, 0)
    for n in counts:
        for sharing in sharings:
            fig = run_cameras(dep_file, n, seconds, threads, sharing)
            print_run(fig)
            if fig.holds:
                held[sharing] = max(held[sharing], n)
    if len(counts) > 1:
        for sharing, most in held.items():
            label = f" ({sharing})" if sharing else ""
            print(f"most cameras tried whose p99 held the budget with no overrun{label}: "
                  f"{most or 'none'}")  # fmt: skip
    return 0
