"""`plantvision bench --model M [--image I | --video V]`: per-stage latency of the detector.

The whole detect stage and a bare `session.run` on the same input are timed side by side in
one run, alternating which goes first, so both see the same machine load and cache state.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from plantvision.commands.model_args import add_model_args, spec_from_args
from plantvision.detect import Detector, load_detector
from plantvision.frames.media import iter_video, read_image
from plantvision.progress import ProgressBar
from plantvision.timing import Summary, summarize_ns, throughput_per_s
from plantvision.types import ImageArray, StageTimes

ROWS = (
    ("preprocess", "pre-process"),
    ("infer", "inference"),
    ("decode", "decode+NMS"),
    ("whole", "whole stage"),
    ("bare", "bare session.run"),
)


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure detector latency per stage against bare inference")
    add_model_args(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", type=Path, help="image to detect on (default: a noise frame)")
    src.add_argument("--video", type=Path, help="video whose first frames are cycled")
    p.add_argument("--runs", type=int, default=200, help="timed runs (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    p.add_argument("--video-frames", type=int, default=50, help="frames read from --video")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(handler=run)


def load_frames(args: argparse.Namespace) -> tuple[str, list[ImageArray]]:
    """Frames held in memory so that decoding the file is not part of what is timed."""
    if args.image is not None:
        return str(args.image), [read_image(args.image)]
    if args.video is not None:
        return str(args.video), [f for _, f in iter_video(args.video, 1, args.video_frames)]
    rng = np.random.default_rng(0)
    return "noise 640x480", [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)]


def measure(
    detector: Detector, frames: list[ImageArray], runs: int, warmup: int, bar: ProgressBar
) -> dict[str, list[int]]:
    """ns samples per stage, the whole stage, and bare session.run, interleaved run by run."""
    samples: dict[str, list[int]] = {key: [] for key, _ in ROWS}
    for i in range(warmup + runs):
        frame = frames[i % len(frames)]
        times = StageTimes()
        # Alternate the order so neither side always runs on a cache the other warmed.
        if i % 2 == 0:
            whole_ns = _timed_detect(detector, frame, times)
            bare_ns = _timed_bare(detector)
        else:
            bare_ns = _timed_bare(detector)
            whole_ns = _timed_detect(detector, frame, times)
        if i >= warmup:
            for stage, ns in times.ns.items():
                samples[stage].append(ns)
            samples["whole"].append(whole_ns)
            samples["bare"].append(bare_ns)
            bar.update()
    return samples


def _timed_detect(detector: Detector, frame: ImageArray, times: StageTimes) -> int:
    t0 = time.monotonic_ns()
    detector.detect(frame, times)
    return time.monotonic_ns() - t0


def _timed_bare(detector: Detector) -> int:
    t0 = time.monotonic_ns()
    detector.session_run_once()
    return time.monotonic_ns() - t0


def report(header: dict[str, Any], stats: dict[str, Summary], fps: float) -> str:
    lines = [" ".join(f"{k}={v}" for k, v in header.items())]
    lines.append(f"{'stage':<18}{'median':>9}{'p99':>9}{'max':>9}  ms")
    for key, label in ROWS:
        s = stats[key]
        lines.append(f"{label:<18}{s.median_ms:>9.3f}{s.p99_ms:>9.3f}{s.max_ms:>9.3f}")
    ratio = stats["whole"].ratio_to(stats["bare"])
    lines.append(f"whole stage / bare session.run (median): {ratio:.3f}x")
    lines.append(f"throughput (whole stage, median): {fps:.1f} frames/s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.warmup < 0:
        raise SystemExit("plantvision bench: error: --runs must be >= 1 and --warmup >= 0")
    source, frames = load_frames(args)
    detector = load_detector(spec_from_args(args))
    with ProgressBar(args.runs, "bench") as bar:
        samples = measure(detector, frames, args.runs, args.warmup, bar)
    stats = {key: summarize_ns(samples[key]) for key, _ in ROWS}
    fps = throughput_per_s(samples["whole"])
    spec = detector.spec
    header = {
        "model": spec.path.name,
        "family": detector.family,
        "provider": detector.provider,
        "threads": spec.intra_op_threads or "auto",
        "input": f"{detector.input_size[0]}x{detector.input_size[1]}",
        "source": source,
        "runs": args.runs,
    }
    if args.json:
        ratio = stats["whole"].ratio_to(stats["bare"])
        body = {key: asdict(s) for key, s in stats.items()}
        print(json.dumps({**header, "stats": body, "ratio_whole_to_bare": ratio, "fps": fps}))
    else:
        print(report(header, stats, fps))
    return 0
