"""Loopback figures for the PLC link: write round trip, and permit-off request to server holding it.

Runs the real PlcLink against the in-process simulator with the heartbeat thread busy on its own
connection, so the stop path is measured under the same contention as in service.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import structlog

from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink
from plantvision.plc.values import PlcOutputs
from simulators.plc.server import PlcSimulator, SimConfig


def summary(name: str, values_ms: list[float]) -> str:
    """'name: median m, p99 p, max x ms (n=N)'."""
    ordered = sorted(values_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{name}: median {statistics.median(ordered):.3f} ms, p99 {p99:.3f} ms, "
        f"max {ordered[-1]:.3f} ms (n={len(ordered)})"
    )


def run_bench(n: int = 2000, heartbeat_period_ms: int = 10) -> list[str]:
    """Measure; return the printed lines."""
    sim = PlcSimulator(SimConfig(watchdog_ms=60_000))
    port = sim.start()
    cfg = PlcConfig(
        host="127.0.0.1",
        port=port,
        allowed_hosts=("127.0.0.1",),
        heartbeat_period_ms=heartbeat_period_ms,
        loop_stale_ms=60_000,
    )
    log: Any = structlog.get_logger("plc-bench")
    link = PlcLink(cfg, log)
    link.start()
    try:
        rtts, stop_ms = _measure(link, sim, n)
    finally:
        link.stop()
        sim.stop()
    return [
        f"loopback 127.0.0.1, heartbeat every {heartbeat_period_ms} ms on the service connection",
        summary("write() round trip (coil block)", rtts),
        summary("permit off requested -> server holds permit off", stop_ms),
    ]


def _measure(link: PlcLink, sim: PlcSimulator, n: int) -> tuple[list[float], list[float]]:
    rtts: list[float] = []
    stop_ms: list[float] = []
    for i in range(n):
        link.write(PlcOutputs(permit=True, fault_code=0))
        n_log = len(sim.write_log)
        t0 = time.monotonic_ns()
        rtt = link.write(PlcOutputs(permit=False, fault_code=0))
        if rtt is None:
            raise RuntimeError(f"write {i} failed: the simulator did not answer")
        rtts.append(rtt)
        held = next(
            e["t_mono_ns"] for e in sim.write_log[n_log:] if e["signals"].get("permit") == 0
        )
        stop_ms.append((held - t0) / 1e6)
    return rtts, stop_ms
