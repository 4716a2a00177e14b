"""In-memory PLC link for unit tests of consumers (guard, conveyor, loop): no sockets, no threads.

Same interface as `PlcLink`; it records every write, can be made unhealthy, and can press reset.
It logs `plc_lost` / `plc_restored` like the real link so event assertions carry over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plantvision.conveyor.timer import EjectorTimer, Fire, OnFired, thread_timer
from plantvision.plc.values import PlcInputs, PlcOutputs, VerdictEntry


class FakePlcLink:
    """A PLC that always answers (unless told not to) and remembers what it was told."""

    def __init__(self, log: Any = None, n_ejectors: int = 2, rtt_ms: float = 0.1) -> None:
        self._log, self._n_ejectors, self._rtt_ms = log, n_ejectors, rtt_ms
        self.writes: list[PlcOutputs] = []
        self.ejector_writes: list[tuple[int, bool]] = []  # (ejector index, on) acknowledged
        self.verdicts: list[VerdictEntry] = []
        self.image = PlcOutputs()
        self.started = self.stopped = False
        self.encoder: int | None = 0
        self.reject_confirm: bool | None = False
        self._healthy = True
        self.losses = 0
        self._reset_level = False
        self.liveness: Callable[[], bool] | None = None  # asked before a beat (no beats here)

    @property
    def alive(self) -> bool:
        return True  # no heartbeat thread to die

    @property
    def healthy(self) -> bool:
        return self._healthy

    def start(self) -> None:
        self.started = True
        self.write(PlcOutputs())

    def write(self, outputs: PlcOutputs, losses_seen: int | None = None) -> float | None:
        """Record the image; None while unhealthy (the image is still kept, as the real link).
        A permit ON decided under an older loss count goes out tripped, as the real link."""
        if outputs.permit and losses_seen not in (None, self.losses):
            outputs = outputs.tripped(8)
        self.image = outputs
        if not self._healthy:
            return None
        self.writes.append(outputs)
        return self._rtt_ms

    def write_ejector(self, index: int, on: bool) -> bool:
        """Record a coil switch; False while unhealthy (it did not reach the PLC)."""
        if not 0 <= index < self._n_ejectors:
            raise ValueError(f"ejector index {index}: the map has {self._n_ejectors} ejectors")
        if not self._healthy:
            return False
        self.ejector_writes.append((index, on))
        return True

    def pulse_timer(
        self, outputs: Mapping[str, int], fire: Fire, on_fired: OnFired, spin_ns: int
    ) -> EjectorTimer:
        """A timer thread switching coils through `fire` (the real link's is a child process
        with its own connection: tests/reject/test_ejector_child.py)."""
        return thread_timer(outputs, fire, on_fired, spin_ns)

    def write_verdicts(self, entries: Sequence[VerdictEntry]) -> bool:
        """Record PLC-timed verdicts; False while unhealthy (they did not reach the PLC)."""
        if not self._healthy:
            return False
        self.verdicts.extend(entries)
        return True

    def read_inputs(self) -> PlcInputs | None:
        if not self._healthy:
            return None
        return PlcInputs(
            self._reset_level, encoder=self.encoder, reject_confirm=self.reject_confirm
        )

    def set_healthy(self, healthy: bool) -> None:
        """Simulate losing or regaining the PLC; a regained link rewrites the current image."""
        if healthy == self._healthy:
            return
        self._healthy = healthy
        self.losses += not healthy
        if healthy:
            self.writes.append(self.image)
        if self._log is None:
            return
        if healthy:
            self._log.info("plc_restored", down_ms=0.0)
        else:
            self._log.warning("plc_lost", cause="fake")

    def press_reset(self) -> None:
        """Hold the reset input high until release_reset() (the box judges the press on its
        release, by its length)."""
        self._reset_level = True

    def release_reset(self) -> None:
        self._reset_level = False

    def stop(self) -> None:
        self.image = self.image.with_permit_off()
        if self._healthy:
            self.writes.append(self.image)
        self.stopped = True
