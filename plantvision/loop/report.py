"""Human-readable live line and final report for `plantvision run`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from plantvision.loop.controller import Controller


@dataclass
class RunReport:
    name: str
    t_start: float
    resets_pressed: int = 0


def format_live(controller: Controller, elapsed_s: float) -> str:
    parts = [f"{elapsed_s:7.1f}s"]
    out = controller.current_outputs()
    parts.append("PERMIT ON " if out.permit else f"PERMIT OFF ({out.fault_code})")
    parts.append("WARN" if out.warning else "    ")
    for cam in controller.cameras:
        e2e = cam.latency.end_to_end()
        fps = cam.frames / elapsed_s if elapsed_s > 0 else 0.0
        cause = cam.last_output.cause if cam.last_output is not None else "-"
        parts.append(
            f"{cam.id}: {fps:5.1f} fps  e2e {e2e.median_ms:6.1f}/{e2e.p99_ms:6.1f} ms "
            f"(med/p99)  trips {cam.trips}  cause {cause or '-'}"
        )
    return " | ".join(parts)


def format_report(report: RunReport, controller: Controller) -> str:
    elapsed = time.monotonic() - report.t_start
    lines = [f"plantvision run '{report.name}': {elapsed:.1f} s"]
    for cam in controller.cameras:
        st = cam.source.stats()
        e2e = cam.latency.end_to_end()
        lines.append(
            f"  camera {cam.id}: {cam.frames} frames decided, {st.skipped} skipped, "
            f"{st.reconnects} reconnects, {cam.trips} trips"
            + (f", {st.clock_steps} camera clock steps" if st.clock_steps else "")
        )
        lines.append(
            f"    frame capture -> permit write acknowledged: median {e2e.median_ms:.2f} ms, "
            f"p99 {e2e.p99_ms:.2f} ms, max {e2e.max_ms:.2f} ms (n={e2e.n})"
        )
        for stage, s in cam.latency.stages().items():
            lines.append(f"    {stage:<10} median {s.median_ms:7.2f}  p99 {s.p99_ms:7.2f} ms")
        if cam.reject is not None:
            counts = " ".join(f"{k} {v}" for k, v in cam.reject.counters.items())
            lines.append(f"    rejects ({cam.reject.cfg.timing_mode}-timed): {counts}")
    if report.resets_pressed:
        lines.append(f"  demo operator pressed reset {report.resets_pressed} times")
    return "\n".join(lines)
