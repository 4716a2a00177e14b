"""The report of `loop-bench --http-clients`: each phase's cycle, where its time went, the
ratios between phases, and what each process spent (plantvision/commands/http_bench.py)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from plantvision.commands.cpu_split import Split
from plantvision.timing import Summary, summarize_ns


@dataclass
class Phase:
    label: str
    clients: subprocess.Popen[str] | None = None
    split: Split = field(default_factory=Split)
    counts: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0  # its client process's CPU time


@dataclass(frozen=True)
class BenchRun:
    title: str
    seconds: float  # per phase
    rounds: int
    block_s: float
    phases: list[Phase]  # none, the page, the copy elsewhere
    load0: tuple[float, float, float]
    cpu_s: dict[str, float]  # the page's processes and threads
    copy_ns: list[int]  # one frame into shared memory, per timed copy
    copy_shape: tuple[int, ...]


def _line(label: str, s: Summary) -> str:
    return (
        f"  {label:<34} median {s.median_ms:6.2f} ms  p99 {s.p99_ms:6.2f} ms  "
        f"max {s.max_ms:7.2f} ms  (n={s.n})"
    )


def _ratio(a: Summary, b: Summary) -> str:
    p99 = a.p99_ms / b.p99_ms if b.p99_ms > 0 else float("inf")
    return f"{p99:.3f}x (median {a.ratio_to(b):.3f}x)"


def report(run: BenchRun, refused: int, limited: int, encodes: int) -> None:
    load1 = os.getloadavg()
    print(
        f"{run.title}; {run.seconds:g} s per phase in {run.rounds} rounds of {run.block_s:g} s "
        f"blocks taking turns; load average {run.load0[0]:.2f} at the start, {load1[0]:.2f} at "
        f"the end (1 min), on {os.cpu_count()} CPUs"
    )
    print("  frame in hand -> permit write acknowledged:")
    sums = [summarize_ns(ph.split.wall) for ph in run.phases]
    for ph, s in zip(run.phases, sums, strict=True):
        print(_line(ph.label, s))
        parts, means = ph.split.parts(), ph.split.means_ms()
        print("      " + "; ".join(
            f"{k} {v.median_ms:.2f}/{v.p99_ms:.2f}/{means[k]:.2f}" for k, v in parts.items()
        ) + "  (median/p99/mean ms)")  # fmt: skip
    quiet, page, copy = sums
    print(f"  p99 with / without clients: {_ratio(page, quiet)}")
    print(f"  p99 clients of a copy elsewhere / without: {_ratio(copy, quiet)}")
    print(f"  p99 page / copy elsewhere (the page's own cost): {_ratio(page, copy)}")
    page_ph, copy_ph = run.phases[1], run.phases[2]
    print(
        f"  client requests by status: page {page_ph.counts}, copy {copy_ph.counts}; refused "
        f"at accept: {refused}, over the rate: {limited}; JPEG encodes: {encodes}"
    )
    served = sum(page_ph.counts.values())
    per_k = 1000 * run.cpu_s["the page process"] / served if served else float("nan")
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in run.cpu_s.items())
    print(
        f"  CPU over {3 * run.seconds:g} s: {spent} (the page process: {per_k:.2f} s per 1000 "
        f"requests); clients at nice 19: of the page {page_ph.cpu_s:.1f} s, of the copy "
        f"{copy_ph.cpu_s:.1f} s"
    )
    c = summarize_ns(run.copy_ns)
    print(
        f"  one frame {run.copy_shape} copied into shared memory: median {c.median_ms:.3f} ms, "
        f"p99 {c.p99_ms:.3f} ms (n={c.n}): what the loop would pay per publish to hand frames "
        "to the page process (it hands over JPEGs at view_fps instead)"
    )
