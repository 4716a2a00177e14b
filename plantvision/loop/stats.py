"""Rolling latency windows for the loop: the last N frames' stage times, summarised on demand."""

from __future__ import annotations

import threading
from collections import deque

from plantvision.timing import Summary, summarize_ns
from plantvision.types import STAGES, StageTimes


class LatencyWindow:
    """Keeps the last `size` frames' stage times and end-to-end latency (ns), thread-safe.

    Bounded so memory stays flat however long the box runs.
    """

    def __init__(self, size: int = 2000) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, deque[int]] = {s: deque(maxlen=size) for s in STAGES}
        self._e2e: deque[int] = deque(maxlen=size)
        self.count = 0

    def record(self, times: StageTimes) -> None:
        with self._lock:
            for stage, ns in times.ns.items():
                if stage in self._stages:
                    self._stages[stage].append(ns)
            self._e2e.append(times.end_to_end_ns)
            self.count += 1

    def end_to_end(self) -> Summary:
        with self._lock:
            return summarize_ns(list(self._e2e))

    def end_to_end_ns(self) -> list[int]:
        with self._lock:
            return list(self._e2e)

    def stages(self) -> dict[str, Summary]:
        with self._lock:
            return {s: summarize_ns(list(q)) for s, q in self._stages.items() if q}
