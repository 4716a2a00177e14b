"""Glue between the Modbus server and the conveyor model: belt state, scan thread, pulse log file.

The server calls `on_write` and `confirm_input` under its own lock (the same lock guards the
machine); the scan thread takes that lock for each scan.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from plantvision.plc.config import SignalMap
from plantvision.plc.fifo import SPEED_WINDOW_MS
from simulators.plc.conveyor import BeltNow, ConveyorModel, ConveyorSimConfig, ItemTruth
from simulators.plc.machine import Machine


class BeltDriver:
    """The PLC side of defect rejection around one machine-as-belt."""

    def __init__(
        self,
        cfg: ConveyorSimConfig,
        signals: SignalMap,
        machine: Machine,
        lock: threading.Lock,
        clock: Callable[[], int],
        truth: ItemTruth | None = None,
        pulse_log_path: Path | None = None,
    ) -> None:
        self.cfg, self._signals, self._machine = cfg, signals, machine
        self._lock, self._clock, self._log_path = lock, clock, pulse_log_path
        fifo = signals.reject_fifo
        self.model = ConveyorModel(
            cfg,
            0 if fifo is None else fifo.span,
            "big" if fifo is None else fifo.word_order,
            truth,
            len(signals.ejectors),
        )
        self._file: TextIO | None = None
        self._written = 0
        self._wake = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._log_path is not None:
            self._file = self._log_path.open("a", encoding="utf-8")
        self._running = True
        self._thread = threading.Thread(target=self._scan_loop, name="plc-scan", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def use_machine(self, machine: Machine) -> None:
        """Drive the belt from another machine model (one that records its transitions)."""
        with self._lock:
            self._machine = machine

    # -- the belt ----------------------------------------------------------------------------

    def set_speed(self, speed_mm_s: float) -> None:
        with self._lock:
            self._machine.set_counts_per_s(speed_mm_s * self.cfg.counts_per_mm, self._clock())

    def belt_mm(self, now_ns: int | None = None) -> float:
        with self._lock:
            t = self._clock() if now_ns is None else now_ns
            return self._machine.position_counts(t) / self.cfg.counts_per_mm

    def read(self, age_ns: int = 0) -> tuple[int, float]:
        """(now_ns, belt travel mm) taken together under the lock: a camera that renders this
        travel and stamps this time shows the belt exactly where it was. With `age_ns`, the
        travel `age_ns` before now_ns: a camera whose frame is stamped that long after its
        exposure."""
        with self._lock:
            t = self._clock()
            self._machine.advance(t)
            return t, self._machine.position_counts_at(t - age_ns) / self.cfg.counts_per_mm

    def pulses(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.model.pulses)

    def belt_now(self, now_ns: int) -> BeltNow:
        """Under the lock: the belt at `now_ns`."""
        cpm, m = self.cfg.counts_per_mm, self._machine
        return BeltNow(
            now_ns, m.encoder(now_ns), m.position_counts(now_ns) / cpm,
            m.speed_counts_per_ns(now_ns) / cpm,
            lambda dt_ns: m.travel_at_counts(now_ns + int(dt_ns)) / cpm,
        )  # fmt: skip

    # -- hooks the server calls under its lock -----------------------------------------------

    def on_write(
        self,
        table: str,
        address: int,
        values: list[int],
        named: dict[str, int | bool],
        before: dict[str, int | bool],
        now_ns: int,
    ) -> None:
        """Ejector coil edges are box-timed pulses; FIFO registers bring PLC-timed entries."""
        belt = self.belt_now(now_ns)
        for name, v in named.items():
            if name.startswith("ejectors."):
                index = int(name.split(".")[1])
                self.model.on_coil(index, bool(v), bool(before.get(name, False)), belt)
        fifo = self._signals.reject_fifo
        if fifo is not None and table == fifo.type:
            lo = max(address, fifo.address)
            hi = min(address + len(values), fifo.address + fifo.span)
            if lo < hi:
                self.model.on_fifo_write(lo - fifo.address, values[lo - address : hi - address])
                self._wake.set()
        self._flush()

    def confirm_input(self, now_ns: int) -> bool:
        return self.model.confirm_input(now_ns)

    # -- internals ---------------------------------------------------------------------------

    def _scan_loop(self) -> None:
        """PLC-timed firing: one scan every scan_ms while entries wait, else sleep until one
        arrives (a real PLC scans regardless; sleeping spares the test machine's CPU, and the
        box's threads share it: the rig runs the simulator in-process). The first scan after a
        sleep first takes the encoder sample the PLC would have taken a speed window earlier,
        from the machine's history, so its speed is measured as if it had never slept."""
        scan_s = self.cfg.scan_ms / 1000
        window_ns = int(SPEED_WINDOW_MS * 1e6)
        last_scan_ns: int | None = None
        while self._running:
            with self._lock:
                waiting = self.model.busy
                if waiting:
                    now_ns = self._clock()
                    if last_scan_ns is None or now_ns - last_scan_ns > window_ns:
                        before = self._machine.encoder(now_ns, age_ns=window_ns)
                        self.model.reader.sample(now_ns - window_ns, before)
                    self.model.scan(self.belt_now(now_ns))
                    last_scan_ns = now_ns
                    self._flush()
            if waiting:
                time.sleep(scan_s)
            else:
                self._wake.wait(0.05)
                self._wake.clear()

    def _flush(self) -> None:
        """Append pulses not yet in the log file as JSON lines."""
        if self._file is None:
            return
        new = self.model.pulses[self._written :]
        for rec in new:
            self._file.write(json.dumps(rec) + "\n")
        if new:
            self._file.flush()
        self._written = len(self.model.pulses)
