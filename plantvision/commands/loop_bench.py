"""`plantvision loop-bench [DEPLOYMENT]`: the whole loop against bare inference, side by side.

Every frame of the first camera is taken in lockstep (none skipped) and run through the real
cycle: detector, zones, guard, and the PLC write acknowledged over TCP (the PLC simulator when
the deployment asks for it). Right after each cycle one bare `session.run` is timed on the same
input, so both see the same load. Resident memory, open file descriptors and threads are
sampled at checkpoints to show they stay flat over a long run (a leak of any of them ends a box
that runs for months).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from plantvision import log as pvlog
from plantvision.commands import cameras_bench, user_pipeline
from plantvision.commands.http_bench import run_with_clients
from plantvision.commands.run import DEFAULT_DEPLOYMENT
from plantvision.commands.seam import (
    scene_grabber,
    spawn_plc_simulator,
    start_plc_simulator,
)
from plantvision.detect import Detector
from plantvision.loop.build import build_cameras, resolve
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.plc.link import PlcLink
from plantvision.progress import ProgressBar
from plantvision.timing import Summary, summarize_ns


def register(sub: Any) -> None:
    p = sub.add_parser("loop-bench", help="loop latency (frame in hand to PLC ack) vs bare run")
    p.add_argument("deployment", nargs="?", type=Path, default=DEFAULT_DEPLOYMENT)
    p.add_argument("--frames", type=int, default=1000, help="frames to run (default 1000)")
    p.add_argument(
        "--rss-at",
        default="1000,10000",
        help="frame counts to sample memory, file descriptors and threads at",
    )
    p.add_argument(
        "--plc-in-process",
        action="store_true",
        help="run the PLC simulator in this process (default: its own process)",
    )
    p.add_argument(
        "--http-clients",
        type=int,
        default=0,
        metavar="N",
        help="serve the status page and compare the loop with and without N polling clients",
    )
    p.add_argument("--http-seconds", type=float, default=60.0, help="each phase's length")
    p.add_argument(
        "--cameras",
        default=None,
        metavar="N[,M...]",
        help="run N real-time copies of the first camera (each count in turn) instead",
    )
    p.add_argument("--seconds", type=float, default=60.0, help="each --cameras run's length")
    p.add_argument(
        "--reference",
        action="store_true",
        help="add a hand-written YOLOX pipeline (supervision zones, pymodbus write_coil) as a "
        "third column, interleaved with the other two (needs the bench extra)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads per camera with --cameras (default 0: the box shares its cores)",
    )
    p.add_argument(
        "--sharing",
        default=None,
        metavar="S[,S...]",
        help="with --cameras: per_camera, shared and/or auto, each run in turn for every count "
        "(default: the deployment's inference.sharing)",
    )
    p.set_defaults(handler=run)


@dataclass
class Reference:
    """The hand-written pipeline's times, and how often it agreed with the product's stop zones
    on the same frame (an unfair reference would show as disagreement)."""

    pipeline: user_pipeline.UserPipeline
    times_ns: list[int] = field(default_factory=list)
    agreed: int = 0
    compared: int = 0  # frames the loop judged (none while a fault, e.g. an old frame, held it)

    def run(self, image: Any, ctl: Controller, cam: Any) -> None:
        t0 = time.perf_counter_ns()
        occupied = self.pipeline(image)
        self.times_ns.append(time.perf_counter_ns() - t0)
        hits = cam.last_hits
        if hits is not None:
            self.compared += 1
            self.agreed += bool(hits.stop_occupied) == occupied

    def print(self, loop: Summary, bare: Summary) -> None:
        ref = summarize_ns(self.times_ns)
        print(
            f"  hand-written pipeline (same run, interleaved): median {ref.median_ms:.2f} ms, "
            f"p99 {ref.p99_ms:.2f} ms, max {ref.max_ms:.2f} ms; same stop-zone verdict as the "
            f"loop on {100 * self.agreed / max(self.compared, 1):.1f} % of the {self.compared} "
            "frames the loop judged (supervision rasterises zones to whole pixels)"
        )
        print(
            f"  ratios at the median / p99: hand-written / bare {ref.ratio_to(bare):.3f}x / "
            f"{ref.p99_ms / bare.p99_ms:.3f}x; loop / hand-written {loop.ratio_to(ref):.3f}x / "
            f"{loop.p99_ms / ref.p99_ms:.3f}x"
        )


def rss_mib() -> float:
    """Resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True, slots=True)
class Footprint:
    """What a long run must not accumulate: memory, open files and sockets, threads."""

    rss_mib: float
    fds: int
    threads: int

    @classmethod
    def now(cls) -> Footprint:
        return cls(rss_mib(), len(os.listdir("/proc/self/fd")), threading.active_count())


def run(args: argparse.Namespace) -> int:
    if args.cameras is not None:
        counts = [int(x) for x in args.cameras.split(",") if x.strip()]
        sharings = cameras_bench.parse_sharings(args.sharing)
        return cameras_bench.run(args.deployment, counts, args.seconds, args.threads, sharings)
    dep = load_deployment(args.deployment)
    pvlog.configure(json=True, level=40)  # errors only: the figures are the output
    log = pvlog.get(deployment=dep.name)
    cams = build_cameras(dep, args.deployment, log=log, simulated=scene_grabber)
    cam = cams[0]
    cam.source.pace = "lockstep"
    sim: Any = None
    proc: Any = None
    cfg = dep.plc
    if dep.demo.plc_simulator and args.plc_in_process:
        sim, port = start_plc_simulator(dep)
        cfg = dep.plc.model_copy(update={"port": port})
    elif dep.demo.plc_simulator:
        proc, port = spawn_plc_simulator(dep)
        cfg = dep.plc.model_copy(update={"port": port})
    link = PlcLink(cfg, log)
    ctl = Controller([cam], link, log=log)
    assert isinstance(cam.detector, Detector)
    user = _reference(args, dep, cam, cfg) if args.reference else None
    checkpoints = {int(x) for x in args.rss_at.split(",") if x.strip()}
    # Preallocated: Python lists of ints grow ~72 bytes a frame, which a long run would show as
    # the loop's memory growing (7.8 MiB over 100,000 frames, all of it the bench's own lists).
    loop_ns = np.zeros(args.frames, dtype=np.int64)
    bare_ns = np.zeros(args.frames, dtype=np.int64)
    rss: dict[int, Footprint] = {}
    link.start()
    cam.source.start()
    try:
        if args.http_clients > 0:
            run_with_clients(ctl, cam, dep.name, dep.http, args.http_clients, args.http_seconds)
            return 0
        with ProgressBar(args.frames, "loop-bench") as bar:
            done = _frames(ctl, cam, args.frames, checkpoints, loop_ns, bare_ns, rss, bar, user)
    finally:
        if user is not None:
            user.pipeline.close()
        cam.source.stop()
        link.stop()
        if sim is not None:
            sim.stop()
        if proc is not None:
            with proc:  # closes its pipe too
                proc.terminate()
    loops, bares = loop_ns[:done].tolist(), bare_ns[:done].tolist()
    _print(dep.name, cam, loops, bares, rss)
    if user is not None:
        user.print(summarize_ns(loops), summarize_ns(bares))
    return 0


def _reference(args: argparse.Namespace, dep: Any, cam: Any, cfg: Any) -> Reference:
    why = user_pipeline.available()
    if why is None and cam.detector.family != "yolox":
        why = f"the reference decodes YOLOX only; this camera's model is {cam.detector.family}"
    if why is not None:
        raise SystemExit(f"loop-bench --reference: {why}")
    spec = cam.detector.spec
    zones = resolve(Path(args.deployment).parent, dep.cameras[0].zones)
    pipeline = user_pipeline.UserPipeline(
        spec.path, zones, list(cam.detector.class_names), cam.detector.conf_threshold,
        cam.detector.nms_iou, spec.intra_op_threads,
        (cfg.host, cfg.port, cfg.unit_id, _spare_coil(cfg)),
    )  # fmt: skip
    return Reference(pipeline)


def _spare_coil(cfg: Any) -> int:
    """A coil the deployment does not use, inside the simulator's table (sized in 16s), so the
    reference's writes never touch the product's outputs."""
    ends = [s.address + s.span for _, s in cfg.signals.named() if s.type == "coil"]
    spare = max(ends, default=0)
    if spare % 16 == 0:
        raise SystemExit("loop-bench --reference: no spare coil in the simulator's coil table")
    return spare


def _frames(
    ctl: Controller,
    cam: Any,
    n: int,
    checkpoints: set[int],
    loop_ns: npt.NDArray[np.int64],
    bare_ns: npt.NDArray[np.int64],
    rss: dict[int, Footprint],
    bar: ProgressBar,
    user: Reference | None,
) -> int:
    """Cycle frame by frame; the number of frames done (fewer when the source ends)."""
    for i in range(1, n + 1):
        frame = cam.source.read(5.0)
        if frame is None:
            return i - 1
        t0 = time.perf_counter_ns()
        ctl.cycle(cam, frame)
        t1 = time.perf_counter_ns()
        cam.detector.session_run_once()
        t2 = time.perf_counter_ns()
        loop_ns[i - 1] = t1 - t0
        bare_ns[i - 1] = t2 - t1
        if user is not None:
            user.run(frame.image, ctl, cam)
        if i in checkpoints:
            rss[i] = Footprint.now()
        bar.update()
    return n


def _print(
    name: str, cam: Any, loop_ns: list[int], bare_ns: list[int], rss: dict[int, Footprint]
) -> None:
    whole, bare = summarize_ns(loop_ns), summarize_ns(bare_ns)
    print(
        f"loop-bench '{name}' camera {cam.id}: {whole.n} frames, model "
        f"{cam.detector.family} on {cam.detector.provider}"
    )
    print(
        f"  frame in hand -> permit write acknowledged: median {whole.median_ms:.2f} ms, "
        f"p99 {whole.p99_ms:.2f} ms, max {whole.max_ms:.2f} ms"
    )
    print(
        f"  bare session.run (same run, interleaved):   median {bare.median_ms:.2f} ms, "
        f"p99 {bare.p99_ms:.2f} ms, max {bare.max_ms:.2f} ms"
    )
    print(f"  ratio loop / bare at the median: {whole.ratio_to(bare):.3f}x")
    for stage, st in cam.latency.stages().items():
        print(f"    {stage:<10} median {st.median_ms:6.2f}  p99 {st.p99_ms:6.2f} ms")
    for n, fp in sorted(rss.items()):
        print(
            f"  after {n} frames: resident memory {fp.rss_mib:.1f} MiB, "
            f"{fp.fds} open file descriptors, {fp.threads} threads"
        )
