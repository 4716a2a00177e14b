"""Where a stretch of a thread's wall time went: on a CPU, waiting for one, or off CPU.

Linux keeps, per thread, the time it ran and the time it waited runnable in a run queue
(/proc/thread-self/schedstat, in ns). What is left of the wall time the thread slept: I/O (the
PLC's answer) and the interpreter lock. Side by side in one run, a phase that adds "waiting for
a CPU" is short of cores; one that adds "off CPU" while its I/O is the same waits for the lock.
For benchmarks only; elsewhere (no /proc) every split reads zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path

from plantvision.timing import Summary, summarize_ns

SCHEDSTAT = Path("/proc/thread-self/schedstat")


class ThreadTimes:
    """The calling thread's (ran_ns, waited_ns); open it in the thread to be measured."""

    def __init__(self) -> None:
        self._f: FileIO | None
        try:
            self._f = SCHEDSTAT.open("rb", buffering=0)
        except OSError:
            self._f = None

    def read(self) -> tuple[int, int]:
        if self._f is None:
            return 0, 0
        self._f.seek(0)
        ran, waited, _ = self._f.read(128).split()
        return int(ran), int(waited)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


@dataclass
class Split:
    """Per stretch (one cycle): wall, on CPU, waiting for a CPU, and off CPU, in ns."""

    wall: list[int] = field(default_factory=list)
    on_cpu: list[int] = field(default_factory=list)
    runnable: list[int] = field(default_factory=list)
    off_cpu: list[int] = field(default_factory=list)

    def add(self, wall_ns: int, before: tuple[int, int], after: tuple[int, int]) -> None:
        ran, waited = after[0] - before[0], after[1] - before[1]
        self.wall.append(wall_ns)
        self.on_cpu.append(ran)
        self.runnable.append(waited)
        self.off_cpu.append(max(0, wall_ns - ran - waited))

    def parts(self) -> dict[str, Summary]:
        return {
            "on CPU": summarize_ns(self.on_cpu),
            "waiting for a CPU": summarize_ns(self.runnable),
            "off CPU (lock, I/O)": summarize_ns(self.off_cpu),
        }

    def means_ms(self) -> dict[str, float]:
        n = max(1, len(self.wall))
        return {
            "on CPU": sum(self.on_cpu) / n / 1e6,
            "waiting for a CPU": sum(self.runnable) / n / 1e6,
            "off CPU (lock, I/O)": sum(self.off_cpu) / n / 1e6,
        }
