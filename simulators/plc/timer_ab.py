"""Pulse timing at a PLC of its own, thread timer against child timer, interleaved:
`python -m simulators.plc.timer_ab`.

In the rig (simulators.plc.rig) the PLC simulator runs in the box's own process, so its stamp
of a coil write waits for the same GIL and CPU as the loop it is meant to judge. Here the PLC
simulator is a process of its own (`python -m simulators.plc --log`, at SCHED_FIFO where
permitted: a real PLC is a machine of its own, and the shared machine's load should not reach
its stamps), and the box is this process: a real PlcLink, `--busy` threads that hold the GIL in
pure Python as camera loops do between their C calls, and the pulse timer under test, the
in-process `EjectorTimer` thread ("thread") or the link's child process ("child"), one round of
each in turn. Every plan is armed before the load starts, and the switch interval is the
loop's (plantvision.loop.controller.SWITCH_INTERVAL_S). Figures per timer: the timer's own
switch-on error (its report minus the plan), and the error at the PLC (the simulator's stamp of
the coil write minus the plan).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from plantvision.conveyor.actions import FirePlan
from plantvision.conveyor.timer import thread_timer
from plantvision.loop.controller import SWITCH_INTERVAL_S
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink
from plantvision.plc.realtime import RT_PRIORITY, make_realtime
from simulators.plc.pulse_figures import stats

MS = 1_000_000
OUTPUTS = {"a": 0, "b": 1}  # the default map's ejectors (coils 2 and 3)


def _sim_priority() -> None:  # in the simulator's process, before it starts any thread
    make_realtime(RT_PRIORITY + 1)


def start_sim(log_path: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.plc", "--port", "0", "--log", str(log_path),
         "--watchdog-ms", "60000"],
        stdout=subprocess.PIPE, text=True, preexec_fn=_sim_priority,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "plc simulator listening on host:port"
    return proc, int(line.rsplit(":", 1)[1])


def busy(stop: threading.Event) -> None:
    """Pure Python that holds the GIL until the interpreter takes it away."""
    while not stop.is_set():
        sum(i * i for i in range(20_000))


def one_round(mode: str, port: int, log_path: Path, n: int, spacing_ms: float, threads: int
              ) -> tuple[list[float], list[float]]:  # fmt: skip
    """(timer errors, errors at the PLC) in ms for `n` pulses timed by `mode`."""
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",))
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    reports: list[tuple[FirePlan, int, bool]] = []
    done = threading.Event()

    def on_fired(plan: FirePlan, t_ns: int, reached: bool) -> None:
        reports.append((plan, t_ns, reached))
        if len(reports) == n:
            done.set()

    def fire(e: str, on: bool) -> bool:
        return link.write_ejector(OUTPUTS[e], on)

    make = link.pulse_timer if mode == "child" else thread_timer
    timer = make(OUTPUTS, fire, on_fired, 500_000)  # the link's child: ready when returned
    since_ns = time.monotonic_ns()
    t0 = since_ns + 300 * MS
    plans = [FirePlan("ab"[i % 2], t0 + int(i * spacing_ms * MS), 5 * MS, i) for i in range(n)]
    for plan in plans:  # all armed ahead: a late arm would be the arming thread's lateness
        timer.arm(plan)
    stop = threading.Event()
    load = [threading.Thread(target=busy, args=(stop,), daemon=True) for _ in range(threads)]
    for t in load:
        t.start()
    done.wait(n * spacing_ms / 1000 + 10)
    stop.set()
    timer.close()
    link.stop()
    time.sleep(0.2)  # the simulator's last log lines
    return [(t - p.fire_at_ns) / MS for p, t, _ in reports], at_plc(log_path, plans, since_ns)


def at_plc(log_path: Path, plans: list[FirePlan], since_ns: int) -> list[float]:
    """Each coil's rising edges at the PLC after `since_ns`, matched in order to its plans."""
    ons: dict[str, list[int]] = {"a": [], "b": []}
    last: dict[str, int] = {}
    for line in log_path.read_text().splitlines():
        w = json.loads(line)
        for e, i in OUTPUTS.items():
            v = w["signals"].get(f"ejectors.{i}")
            if v is not None and w["t_mono_ns"] > since_ns:
                if v and not last.get(e):
                    ons[e].append(int(w["t_mono_ns"]))
                last[e] = v
    out = []
    for e, edges in ons.items():
        mine = sorted(p.fire_at_ns for p in plans if p.ejector_id == e)
        out += [(t - p) / MS for t, p in zip(edges, mine, strict=False)]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.plc.timer_ab", description=__doc__)
    p.add_argument("--pulses", type=int, default=200, help="pulses per round")
    p.add_argument("--spacing-ms", type=float, default=15.0, help="between two pulses")
    p.add_argument("--busy", type=int, default=3, help="GIL-holding threads in the box")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as Controller.start does for box-timed pulses
    pooled: dict[str, tuple[list[float], list[float]]] = {"thread": ([], []), "child": ([], [])}
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "writes.jsonl"
        sim, port = start_sim(log_path)
        try:
            for _ in range(args.rounds):
                for mode, (timer_ms, plc_ms) in pooled.items():
                    t, at = one_round(mode, port, log_path, args.pulses, args.spacing_ms,
                                      args.busy)  # fmt: skip
                    timer_ms += t
                    plc_ms += at
        finally:
            sim.terminate()
            sim.wait(5)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.pulses} pulses x {args.rounds} rounds per timer, {args.busy} GIL-holding "
        f"threads, PLC simulator in its own process, interleaved; load average {load}"
    )
    for mode, (timer_ms, plc_ms) in pooled.items():
        print(f"{mode}:")
        print("  " + stats("timer switch-on error", timer_ms))
        print("  " + stats("pulse error at the PLC", plc_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
