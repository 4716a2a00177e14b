"""Speed of INT8 models against their FP32 original: bare inference calls, interleaved.

Every model runs on the same frame in each round, in an order that rotates from round to round,
so all see the same machine load and none always runs on a cache another warmed. One run can
hold several backends' FP32 and INT8 sessions side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from plantvision.detect.detector import Detector
from plantvision.detect.quant_card import SpeedFigures
from plantvision.timing import Summary, summarize_ns
from plantvision.types import ImageArray

# A new frame every this many rounds: the tensor changes without a detect in every round.
_FRAME_EVERY = 10


def interleaved_times(
    models: Sequence[Detector],
    images: Sequence[ImageArray],
    runs: int,
    warmup: int = 5,
    on_run: Callable[[], None] = lambda: None,
    clock_ns: Callable[[], int] = time.monotonic_ns,
) -> list[Summary]:
    """Each model's bare `session.run` times over `runs` interleaved rounds, in `models` order."""
    samples: list[list[int]] = [[] for _ in models]
    n = len(models)
    for i in range(warmup + runs):
        if i % _FRAME_EVERY == 0:
            image = images[(i // _FRAME_EVERY) % len(images)]
            for m in models:
                m.detect(image)
        for k in range(n):
            side = (i + k) % n
            t0 = clock_ns()
            models[side].session_run_once()
            if i >= warmup:
                samples[side].append(clock_ns() - t0)
        if i >= warmup:
            on_run()
    return [summarize_ns(s) for s in samples]


def speed_figures(fp32: Summary, int8: Summary, threads: int, runs: int) -> SpeedFigures:
    """One backend's FP32 and INT8 times, from the same interleaved run, as card figures."""
    return SpeedFigures(
        threads=threads,
        runs=runs,
        fp32_median_ms=fp32.median_ms,
        fp32_p99_ms=fp32.p99_ms,
        int8_median_ms=int8.median_ms,
        int8_p99_ms=int8.p99_ms,
    )
