"""What `check` learns from a camera's own source: its frame period and its first frames.

A recorded or simulated source is opened and read: a video file's frame rate is the one recorded
in it (OpenCV), a folder and the scene simulator deliver at the rate the box paces them at, and
the slowest grab bounds the period from below (a source that cannot deliver at its rate is as
slow as its grabs). Its first frames are the pictures the model is timed on. A live camera or
stream is not opened (check runs away from the site): its configured fps is assumed, and said to
be, and the model is timed on a noise frame of the zone file's size.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plantvision.commands.seam import scene_grabber
from plantvision.detect import Detector
from plantvision.errors import MediaError
from plantvision.loop.build import make_grabber
from plantvision.loop.deployment import CameraModel
from plantvision.timing import Summary, summarize_ns
from plantvision.types import ImageArray, StageTimes

LIVE_KINDS = ("camera", "stream")


@dataclass(frozen=True)
class SourceSample:
    """The frame period charged to T (ms), how it was found, and the first frames (none for a
    live source, which check does not open)."""

    period_ms: float
    how: str
    frames: list[ImageArray]

    @property
    def assumed(self) -> bool:
        return not self.frames


def sample_source(dep_file: Path, cam: CameraModel, count: int) -> SourceSample:
    """Open a recorded or simulated source and read its first `count` frames (see module)."""
    src = cam.source
    if src.kind in LIVE_KINDS:
        period_ms = 1000.0 / src.fps
        return SourceSample(period_ms, f"source.fps {src.fps:g} of a live {src.kind}", [])
    # A stepped clock: a simulated scene advances one frame period per grab, as it does live.
    step_ns = int(1e9 / src.fps)
    ticks = iter(range(0, 1 << 62, step_ns))
    clock: Callable[[], int] = lambda: next(ticks)  # noqa: E731
    grabber = make_grabber(dep_file, cam, clock, scene_grabber)
    frames: list[ImageArray] = []
    grabs_ns: list[int] = []
    grabber.open()
    try:
        while len(frames) < count:
            t0 = time.perf_counter_ns()
            image = grabber.grab()
            grabs_ns.append(time.perf_counter_ns() - t0)
            if image is None:
                break
            frames.append(image)
    finally:
        grabber.close()
    if not frames:
        raise MediaError(f"camera {cam.id}: no frame could be read from its {src.kind} source")
    fps = grabber.nominal_fps
    rate_ms = 1000.0 / fps if fps else 0.0
    # The first grab opens decoders and caches: like the model's warm-up, it is not the rate.
    slowest_ms = max(grabs_ns[1:] or grabs_ns) / 1e6
    rate = {
        "video": f"{fps:g} fps recorded in the file" if fps else "no frame rate in the file",
        "folder": f"the folder paced at source.fps {fps:g}",
        "simulated": f"the scene rendered at source.fps {fps:g}",
    }[src.kind]
    how = f"{rate}, slowest of {len(grabs_ns)} grabs {slowest_ms:.1f} ms"
    return SourceSample(max(rate_ms, slowest_ms), how, frames)


def measure_model(
    detector: Detector, frames: list[ImageArray], size_wh: tuple[int, int], runs: int
) -> Summary:
    """Detect-stage latency over `runs` detections of the source's frames in turn, or of a noise
    frame of `size_wh` when there are none (a live source)."""
    if not frames:
        w, h = size_wh
        frames = [np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)]
    samples = []
    for i in range(runs):
        t = StageTimes()
        detector.detect(frames[i % len(frames)], t)
        samples.append(sum(t.ns.values()))
    return summarize_ns(samples)
