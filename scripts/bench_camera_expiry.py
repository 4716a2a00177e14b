"""Permit-off latency when one of two cameras hangs (issue 11, item 1).

Two real cameras (image folders at 25 fps) on real threads, the PLC simulator over loopback
TCP. Each trial: permit ON, then camera a's detector blocks; measured from the instant it
blocks to the permit OFF acknowledged at the simulator (its write log, same monotonic clock),
and to the heartbeat's last write. Camera b keeps cycling throughout.

    .venv/bin/python scripts/bench_camera_expiry.py [--trials 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from structlog.testing import capture_logs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.loop.test_expiry_live import run_until_permit
from tests.loop.twocams import TwoCameraCell
from tests.waiting import wait_for


def _stats(name: str, values_ms: list[float]) -> str:
    v = np.array(values_ms)
    return (
        f"{name}: median {np.median(v):.1f} ms, p99 {np.percentile(v, 99):.1f} ms, "
        f"max {v.max():.1f} ms (n={len(v)})"
    )


def trial(cell: TwoCameraCell) -> tuple[float, float, int]:
    """One hang: (hang -> permit OFF at the PLC, hang -> last heartbeat, fault code) in ms."""
    run_until_permit(cell)
    det = cell.det["a"]
    det.hanging.clear()
    det.release.clear()
    det.hang.set()
    assert det.hanging.wait(5)
    t0 = det.hung_at_ns
    assert wait_for(lambda: not cell.permit_at_plc(), 5), "permit stayed ON"
    off_ns = next(
        e["t_mono_ns"]
        for e in cell.sim.write_log
        if e["t_mono_ns"] >= t0 and e["signals"].get("permit") == 0
    )
    wait_for(lambda: cell.fault_code_at_plc() != 0, 2)  # written just after the coils
    code = cell.fault_code_at_plc()
    assert wait_for(lambda: time.monotonic_ns() - cell.heartbeat_writes()[-1] > 500e6, 5)
    last_beat_ns = cell.heartbeat_writes()[-1]
    det.hang.clear()
    det.release.set()
    return (off_ns - t0) / 1e6, max(0.0, (last_beat_ns - t0) / 1e6), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    off, beat, codes = [], [], []
    with (
        capture_logs(),  # the run's events are not the figures
        tempfile.TemporaryDirectory() as tmp,
        TwoCameraCell(Path(tmp)) as cell,
    ):
        cam = cell.cameras[0]
        print(
            f"camera a: budget {cam.budget_ns / 1e6:.0f} ms, stall {cam.stall_ns / 1e6:.0f} ms, "
            f"expiry {cam.expiry_ns / 1e6:.0f} ms; supervisor every 20 ms; 25 fps; "
            f"heartbeat every {cell.dep.plc.heartbeat_period_ms} ms"
        )
        for _ in range(args.trials):
            t_off, t_beat, code = trial(cell)
            off.append(t_off)
            beat.append(t_beat)
            codes.append(code)
    print(_stats("hang -> permit OFF acknowledged at the PLC", off))
    print(_stats("hang -> last heartbeat written", beat))
    print(f"fault codes at the PLC: {sorted(set(codes))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
