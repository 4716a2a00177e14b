"""Latency statistics from nanosecond samples. Pure: no clock is read here.

Benchmarks and the loop both summarise stage times the same way, so the figures agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, 99th percentile and maximum of a set of durations, in milliseconds."""

    median_ms: float
    p99_ms: float
    max_ms: float
    n: int

    def ratio_to(self, other: Summary) -> float:
        """This median over `other`'s median (inf when the other is zero)."""
        return self.median_ms / other.median_ms if other.median_ms > 0 else float("inf")


def summarize_ns(samples: Sequence[int]) -> Summary:
    """Median / p99 / max in ms of durations given in ns. An empty list summarises to zeros.

    p99 uses the "higher" method: with fewer than 100 samples it is an observed value, never an
    interpolation below the worst cases.
    """
    if len(samples) == 0:
        return Summary(0.0, 0.0, 0.0, 0)
    arr = np.asarray(samples, dtype=np.float64) / NS_PER_MS
    return Summary(
        median_ms=float(np.median(arr)),
        p99_ms=float(np.percentile(arr, 99, method="higher")),
        max_ms=float(arr.max()),
        n=len(samples),
    )


def throughput_per_s(samples: Sequence[int]) -> float:
    """Items per second if each item took the median of `samples` ns (0 when there are none)."""
    if len(samples) == 0:
        return 0.0
    median_ns = float(np.median(np.asarray(samples, dtype=np.float64)))
    return 1e9 / median_ns if median_ns > 0 else float("inf")
