"""`python -m simulators.plc [--port N ...]` serves; `python -m simulators.plc bench` measures."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from plantvision.plc.config import load_plc_config
from simulators.plc.bench import run_bench
from simulators.plc.server import PlcSimulator, SimConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m simulators.plc", description=__doc__)
    p.add_argument("mode", nargs="?", choices=("serve", "bench"), default="serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5020, help="0 picks a free port (printed)")
    p.add_argument("--map", type=Path, help="YAML with a plc: section whose signal map to serve")
    p.add_argument("--unit-id", type=int, default=1)
    p.add_argument("--watchdog-ms", type=int, default=300)
    p.add_argument("--stopping-ms", type=int, default=200)
    p.add_argument("--counts-per-s", type=float, default=10_000.0)
    p.add_argument("--log", type=Path, help="append every write as a JSON line here")
    p.add_argument("-n", type=int, default=2000, help="bench: writes to time")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.mode == "bench":
        for line in run_bench(args.n):
            print(line)
        return 0
    signals = load_plc_config(args.map).signals if args.map else SimConfig().signals
    sim = PlcSimulator(
        SimConfig(
            signals=signals,
            host=args.host,
            port=args.port,
            unit_id=args.unit_id,
            watchdog_ms=args.watchdog_ms,
            stopping_ms=args.stopping_ms,
            counts_per_s=args.counts_per_s,
            log_path=args.log,
        )
    )
    port = sim.start()
    print(f"plc simulator listening on {args.host}:{port}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
