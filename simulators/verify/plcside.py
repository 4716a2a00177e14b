"""The verifier's side of the PLC: a machine that records its transitions, PLC fault actions,
the virtual operator who presses reset and then start, and a log that keeps the box's events in
memory.

The recorded transitions are the PLC's own view: the machine model consumes the same writes the
simulator's write log holds (permit, heartbeat) and trips at the exact instant its watchdog
expires, so they are the timestamps the deadlines are measured against.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from simulators.plc import Machine, MachineParams, Phase, PlcSimulator
from simulators.plc.rogue import RogueWriter
from simulators.verify.analysis import MachineEvent
from simulators.verify.faults import Window


class RecordingMachine(Machine):
    """The simulator's machine, keeping every start and stop with its cause."""

    def __init__(self, params: MachineParams, now_ns: int) -> None:
        super().__init__(params, now_ns)
        self.events: list[MachineEvent] = []
        self.ready_ns: list[int] = []  # each time the permit rose after a reset (ready to start)

    def on_permit(self, permit: bool, now_ns: int) -> None:
        was_ready = self.ready(now_ns)
        super().on_permit(permit, now_ns)
        if not was_ready and self.phase is Phase.STOPPED and self.ready(now_ns):
            self.ready_ns.append(self._t_ns)

    def _trip(self, t_ns: int, cause: str) -> None:
        was_running = self.phase is Phase.RUNNING
        super()._trip(t_ns, cause)
        if was_running:
            self.events.append(MachineEvent(t_ns, False, cause))

    def _on_start(self) -> None:
        self.events.append(MachineEvent(self._t_ns, True))

    def reboot(self, now_ns: int) -> None:
        """A PLC restart: its program starts again latched, the permit and heartbeat forgotten."""
        self.advance(now_ns)
        if self.phase is Phase.RUNNING:
            self._trip(now_ns, "plc_restart")
        self.latched, self.permit, self.trip_cause = True, False, "power_up"
        self._hb_value = self._hb_change_ns = None


def install_recorder(sim: PlcSimulator, clock_ns: Callable[[], int]) -> RecordingMachine:
    """Swap the simulator's machine for a recording one; call before `sim.start()`."""
    machine = RecordingMachine(sim.machine.p, clock_ns())
    sim.machine = machine
    if sim.belt is not None:
        sim.belt.use_machine(machine)  # the machine is the belt: one model for both
    return machine


class PlcFaults:
    """Applies PLC fault windows to the simulator as scene time passes; call `tick` often."""

    def __init__(self, sim: PlcSimulator, machine: RecordingMachine, faults: tuple[Window, ...]):
        self._sim, self._machine = sim, machine
        self._pending = sorted(
            [(w.start_s, True, w) for w in faults] + [(w.end_s, False, w) for w in faults],
            key=lambda x: x[0],
        )
        self.applied: list[tuple[float, str]] = []
        self._rogue: RogueWriter | None = None

    def tick(self, t_s: float, now_ns: int) -> None:
        while self._pending and self._pending[0][0] <= t_s:
            _, begin, w = self._pending.pop(0)
            self._act(w, begin, now_ns)
            self.applied.append((t_s, f"{w.kind}:{'begin' if begin else 'end'}"))

    def _act(self, w: Window, begin: bool, now_ns: int) -> None:
        sim = self._sim
        if w.kind == "plc_slow":
            sim.set_delay_ms(w.value_ms if begin else 0.0)
        elif w.kind == "plc_exception":
            sim.set_exception(int(w.value_ms) if begin else None)
        elif w.kind in ("plc_down", "plc_restart"):
            if begin:
                sim.go_down()
                return
            if w.kind == "plc_restart":
                self._machine.reboot(now_ns)  # no client is connected: nothing races this
                sim.restart_program()  # encoder counter and FIFO state start again
            sim.come_back()
        elif w.kind == "plc_drop" and begin:
            sim.drop_connections()
        elif w.kind == "plc_slow_verdicts":  # only the reject FIFO's writes are slow
            sim.set_write_delay_ms("reject_fifo", w.value_ms if begin else 0.0)
        elif w.kind == "plc_stop_slow":
            sim.set_coast_extra_ms(w.value_ms if begin else 0.0)
        elif w.kind == "plc_replay":
            self._replay(begin)

    def _replay(self, begin: bool) -> None:
        """Another client replays the last heartbeat value the PLC received (not +1)."""
        if begin:
            sim = self._sim
            self._rogue = RogueWriter(
                sim.port, sim.cfg.signals, lambda: int(sim.values.get("heartbeat", 0))
            )
            self._rogue.start()
        elif self._rogue is not None:
            self._rogue.stop()
            self._rogue = None

    def finish(self) -> None:
        """Undo whatever is still in force so the box can be stopped cleanly."""
        self._sim.set_delay_ms(0.0)
        self._sim.set_write_delay_ms("reject_fifo", 0.0)
        self._sim.set_exception(None)
        self._sim.set_coast_extra_ms(0.0)
        if self._rogue is not None:
            self._replay(False)


# A person lets go of the button and waits at least this long before pressing again, so each
# press is its own press (a press while the input is still high would lengthen the last one).
RELEASE_GAP_MS = 50


class Operator:
    """The person at the machine. Presses reset once the machine has stood still
    `reset_after_ms` (and again after that), and at each of `presses_at_s` whatever the machine
    does, but never before the last press was released `RELEASE_GAP_MS` ago: each press holds the
    input for the simulator's reset_pulse_ms and the box counts it on release. A reset re-arms,
    never starts. With `start`, presses the separate start button whenever the machine shows
    ready (reset done, the box's permit risen since); without it the machine must never move
    again after its first stop. With `maintenance_at_s`, turns the maintenance reset key once at
    that scene time. Every reset press goes through `press`, which keeps its time (the restart
    interlock is judged against them)."""

    def __init__(
        self,
        sim: PlcSimulator,
        reset_after_ms: float,
        enabled: bool = True,
        until_s: float | None = None,
        presses_at_s: tuple[float, ...] = (),
        start: bool = True,
        maintenance_at_s: float | None = None,
    ) -> None:
        self._sim, self._after_ns, self._enabled = sim, int(reset_after_ms * 1e6), enabled
        self._until_s, self._start, self._maintenance_at_s = until_s, start, maintenance_at_s
        self._stopped_since: int | None = None
        self._timed = sorted(presses_at_s)
        self._free_ns = 0  # the last press released and the gap waited
        self.press_times_ns: list[int] = []
        self.starts = 0
        self.ready_seen = 0  # ticks that found the machine ready (reset + the box's permit)

    @classmethod
    def of(cls, sim: PlcSimulator, model: Any) -> Operator:
        """The operator a scenario's `operator:` section describes."""
        return cls(sim, model.reset_after_ms, model.enabled, model.until_s,
                   tuple(model.presses_at_s), model.start, model.maintenance_at_s)  # fmt: skip

    @property
    def presses(self) -> int:
        return len(self.press_times_ns)

    def press(self, now_ns: int) -> None:
        self._sim.press_reset()
        self.press_times_ns.append(now_ns)
        pulse_ms = self._sim.cfg.reset_pulse_ms
        self._free_ns = now_ns + int((pulse_ms + RELEASE_GAP_MS) * 1e6)

    def tick(self, now_ns: int, t_s: float) -> None:
        free = now_ns >= self._free_ns
        if free and self._timed and self._timed[0] <= t_s:
            self._timed.pop(0)
            self.press(now_ns)
            return
        if self._maintenance_at_s is not None and t_s >= self._maintenance_at_s:
            self._sim.press_maintenance_reset()
            self._maintenance_at_s = None
        if self._sim.machine_running:
            self._stopped_since = None
            return
        if self._stopped_since is None:
            self._stopped_since = now_ns
        if self._sim.ready:
            self.ready_seen += 1
            if self._start:
                self.starts += self._sim.press_start()
            return
        pressing = self._enabled and (self._until_s is None or t_s < self._until_s)
        if pressing and free and now_ns - self._stopped_since >= self._after_ns:
            self.press(now_ns)
            self._stopped_since = now_ns


def permit_writes(sim: PlcSimulator) -> list[tuple[int, bool]]:
    """(t_ns, permit) for every write the simulator received that carried the permit."""
    return [(int(e["t_mono_ns"]), bool(e["signals"]["permit"])) for e in list(sim.write_log)
            if "permit" in e["signals"]]  # fmt: skip


class EventLog:
    """A structlog-shaped logger that keeps (t_ns, level, event, fields) in memory."""

    def __init__(
        self,
        sink: list[tuple[int, str, str, dict[str, Any]]] | None = None,
        context: dict[str, Any] | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.records = sink if sink is not None else []
        self._ctx, self._lock = context or {}, lock or threading.Lock()

    def bind(self, **kw: Any) -> EventLog:
        return EventLog(self.records, {**self._ctx, **kw}, self._lock)

    def _add(self, level: str, event: str, kw: dict[str, Any]) -> None:
        with self._lock:
            self.records.append((time.monotonic_ns(), level, event, {**self._ctx, **kw}))

    def debug(self, event: str, **kw: Any) -> None:
        self._add("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._add("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._add("warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._add("error", event, kw)

    def fields_of(self, event: str) -> list[dict[str, Any]]:
        """The fields of every `event` logged so far."""
        with self._lock:
            return [kw for _, _, e, kw in self.records if e == event]

    def counts(self) -> dict[str, int]:
        """How often each event occurred; trips are split by cause (trip:camera_stalled)."""
        with self._lock:
            keys = [f"{e}:{kw.get('cause')}" if e == "trip" else e for _, _, e, kw in self.records]
        return dict(Counter(keys))


def neighbours_announced(log: EventLog) -> int:
    """How many good neighbours the box's `reject_hits_neighbour` alarms named (its claim, to
    hold against the simulator's bin)."""
    return sum(len(kw.get("neighbour_ids", ())) for kw in log.fields_of("reject_hits_neighbour"))
