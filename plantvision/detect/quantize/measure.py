"""Speed of an INT8 model against its FP32 original: bare `session.run`, interleaved.

Both models run on the same frame in each round, in alternating order, so both see the same
machine load and neither always runs on a cache the other warmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from plantvision.detect.detector import Detector
from plantvision.detect.model_card import SpeedFigures
from plantvision.timing import summarize_ns
from plantvision.types import ImageArray

# A new frame every this many rounds: the tensor changes without a detect in every round.
_FRAME_EVERY = 10


def interleaved_speed(
    fp32: Detector,
    int8: Detector,
    images: Sequence[ImageArray],
    runs: int,
    warmup: int = 5,
    on_run: Callable[[], None] = lambda: None,
    clock_ns: Callable[[], int] = time.monotonic_ns,
) -> SpeedFigures:
    """Median and p99 of each model's `session.run` over `runs` interleaved rounds."""
    samples: tuple[list[int], list[int]] = ([], [])
    pair = (fp32, int8)
    for i in range(warmup + runs):
        if i % _FRAME_EVERY == 0:
            image = images[(i // _FRAME_EVERY) % len(images)]
            fp32.detect(image)
            int8.detect(image)
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for side in order:
            t0 = clock_ns()
            pair[side].session_run_once()
            if i >= warmup:
                samples[side].append(clock_ns() - t0)
        if i >= warmup:
            on_run()
    a, b = summarize_ns(samples[0]), summarize_ns(samples[1])
    return SpeedFigures(
        threads=max(fp32.spec.intra_op_threads, 1),
        runs=runs,
        fp32_median_ms=a.median_ms,
        fp32_p99_ms=a.p99_ms,
        int8_median_ms=b.median_ms,
        int8_p99_ms=b.p99_ms,
    )
