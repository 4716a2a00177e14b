"""The simulated machine behind the PLC: pure state, every method takes `now_ns`.

Rules (what a PLC safety program does with the box's signals; README, "Restart rule for the
PLC program"):
- It runs only while not latched, the permit is ON and the heartbeat is fresh: it advanced by
  exactly +1 (mod 2**16) within `watchdog_ns`. A replayed, repeated or skipped value is a
  sequence error: it trips and latches, and is never "fresh".
- Permit OFF, a stale heartbeat or a sequence error trips it: it latches and coasts to a stop
  over `stopping_ns` (linear deceleration), then stands still (`standstill`). A permit OFF also
  re-latches a machine that was ready (its permit had risen after the reset) but not started.
- Power-up is latched. Only a reset pressed once the machine is at rest clears the latch; the reset
  input the box reads stays high for `reset_pulse_ns`.
- Reset re-arms, never starts: the machine starts only on the operator's separate start command,
  pressed while ready: not latched, the heartbeat fresh, and the permit ON after a permit
  OFF->ON transition that arrived *after* the press that cleared the latch (a Modbus write that
  timed out at the box may be applied here late, so a permit ON that predates the reset is not
  the box's fresh consent). A start pressed when not ready does nothing and is not remembered.
- Stop faults (for the box's stop monitoring, EDM): `coast_extra_ns` makes every stop take that
  much longer (worn brake, welded contactor when huge); `ignore_permit` makes the program deaf
  to the permit (a permit OFF neither latches nor stops it).
- A 32-bit encoder counts belt travel at `counts_per_s` while it moves, wrapping at 2**32.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum

ENCODER_MODULUS = 1 << 32
TRAIL_MAX = 8192  # belt positions kept for looking back (seconds of them at ~1 kHz)
HEARTBEAT_MODULUS = 1 << 16


class Phase(Enum):
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class MachineParams:
    watchdog_ns: int
    stopping_ns: int
    counts_per_s: float
    reset_pulse_ns: int
    ramp_ns: int = 0  # a start accelerates linearly to full speed over this (0: a step)


class Machine:
    """Lazy, exact model: advance(now) replays what happened since the last call."""

    def __init__(self, params: MachineParams, now_ns: int) -> None:
        self.p = params
        self.phase = Phase.STOPPED
        self.latched = True
        self.permit = False
        self.trip_cause: str | None = "power_up"
        self.trips = 0
        self.trip_ns: int | None = None
        self.sequence_errors = 0
        self.coast_extra_ns = 0  # fault injection: stops take this much longer
        self.ignore_permit = False  # fault injection: the program never sees a permit OFF
        self._t_ns = now_ns
        self._stop_start_ns = now_ns
        self._run_start_ns = now_ns  # the last start: the ramp counts from here
        self._stop_v0 = 0.0  # counts/ns when the stop in progress began
        self._stop_ns = params.stopping_ns  # the stop in progress: its length
        self._hb_value: int | None = None
        self._hb_change_ns: int | None = None
        self._pos = 0.0
        self._trail: deque[tuple[int, float]] = deque(maxlen=TRAIL_MAX)  # (t_ns, pos) moved to
        self._encoder_zero = 0  # counts of travel at the last counter reset
        self._reset_until_ns = now_ns
        self._maintenance_until_ns = now_ns
        # True once a permit OFF->ON transition arrived after the press that cleared the latch.
        self._fresh_rise = False

    # -- inputs from the box ---------------------------------------------------------------

    def on_permit(self, permit: bool, now_ns: int) -> None:
        self.advance(now_ns)
        if self.ignore_permit:
            return
        if permit and not self.permit and not self.latched:
            self._fresh_rise = True  # a rise while latched predates any reset: it does not count
        self.permit = permit
        # OFF trips a running machine and re-latches a ready one (its rise is spent); the OFFs
        # the box keeps writing between the reset press and its rise are not a transition.
        if not permit and not self.latched and (self.phase is Phase.RUNNING or self._fresh_rise):
            self._trip(self._t_ns, "permit_off")

    def on_heartbeat(self, value: int, now_ns: int) -> None:
        """A heartbeat write: fresh only as the previous value + 1 (mod 2**16)."""
        self.advance(now_ns)
        last, self._hb_value = self._hb_value, value
        if last is None or value == (last + 1) % HEARTBEAT_MODULUS:
            self._hb_change_ns = self._t_ns  # the first value after power-up sets the base
            return
        # Replayed, repeated or skipped: not the box's next beat. Trip; the value becomes the
        # new base, so beats that follow it by +1 are fresh again (a reset is still needed).
        self.sequence_errors += 1
        if not self.latched:
            self._trip(self._t_ns, "heartbeat_sequence")

    def press_reset(self, now_ns: int, pulse_ns: int | None = None) -> bool:
        """A person presses reset at the machine, holding it `pulse_ns` (default
        `reset_pulse_ns`); True when it cleared the latch (or it was already clear). Never
        starts the machine."""
        self.advance(now_ns)
        self._reset_until_ns = self._t_ns + (
            self.p.reset_pulse_ns if pulse_ns is None else pulse_ns
        )
        if self.phase is not Phase.STOPPED:
            return False  # a machine still coasting cannot be reset
        if self.latched:
            # The press that clears the latch arms the restart: only a permit rise after it counts.
            # Later presses keep a rise already seen (it may be waiting for a fresh heartbeat).
            self.latched, self._fresh_rise = False, False
        return True

    def press_start(self, now_ns: int) -> bool:
        """The operator's start command; True when the machine runs after it."""
        self.advance(now_ns)
        if self.phase is Phase.STOPPED and self.ready(now_ns):
            self.phase, self.trip_cause = Phase.RUNNING, None
            self._run_start_ns = self._t_ns
            self._on_start()
        return self.phase is Phase.RUNNING

    def press_maintenance_reset(self, now_ns: int) -> None:
        """The maintenance reset input (key switch) the box reads: high for reset_pulse_ns."""
        self.advance(now_ns)
        self._maintenance_until_ns = self._t_ns + self.p.reset_pulse_ns

    # -- outputs ---------------------------------------------------------------------------

    def ready(self, now_ns: int) -> bool:
        """Start would start it: not latched, a fresh permit rise, permit ON, heartbeat fresh."""
        self.advance(now_ns)
        return not self.latched and self.permit and self._fresh_rise and self._heartbeat_fresh()

    def reset_input(self, now_ns: int) -> bool:
        self.advance(now_ns)
        return self._t_ns < self._reset_until_ns

    def maintenance_input(self, now_ns: int) -> bool:
        self.advance(now_ns)
        return self._t_ns < self._maintenance_until_ns

    def standstill(self, now_ns: int) -> bool:
        """The standstill monitor's input: the machine is at rest."""
        self.advance(now_ns)
        return self.phase is Phase.STOPPED

    def encoder(self, now_ns: int, age_ns: int = 0) -> int:
        """The count at `now_ns`, or as it was `age_ns` earlier (a register the PLC copies
        its counter into once a scan is read that much behind it)."""
        self.advance(now_ns)
        pos = self._pos if age_ns <= 0 else self.position_counts_at(now_ns - age_ns)
        return (int(pos) - self._encoder_zero) % ENCODER_MODULUS

    def reset_encoder(self, now_ns: int) -> None:
        """The PLC's counter restarts at 0 here (a PLC restart, a preset); the belt does not
        move for it (`position_counts` keeps the truth)."""
        self.advance(now_ns)
        self._encoder_zero = int(self._pos)

    def position_counts(self, now_ns: int) -> float:
        """Belt travel since power-up in counts, unwrapped (the truth the encoder wraps)."""
        self.advance(now_ns)
        return self._pos

    def position_counts_at(self, t_ns: int) -> float:
        """Belt travel at `t_ns`, which may lie in the past: interpolated between the positions
        the machine moved to (each query moves it, so they are dense; between two the motion is
        linear or a linear deceleration, interpolated linearly); before the oldest kept, that."""
        if t_ns >= self._t_ns:
            return self.position_counts(t_ns)
        trail = self._trail
        i = bisect.bisect_right(trail, t_ns, key=lambda e: e[0])
        if i == 0:
            return trail[0][1] if trail else self._pos
        t0, p0 = trail[i - 1]
        t1, p1 = trail[i] if i < len(trail) else (self._t_ns, self._pos)
        return p0 if t1 <= t0 else p0 + (p1 - p0) * (t_ns - t0) / (t1 - t0)

    def travel_at_counts(self, t_ns: int) -> float:
        """Belt travel in counts at `t_ns`, moving nothing: the past as it happened
        (`position_counts_at`), the future as the machine will move if nothing changes meanwhile
        (no trip, no new speed), its ramp or coast followed exactly: where a push that lands
        then meets the belt."""
        if t_ns <= self._t_ns:
            return self.position_counts_at(t_ns)
        if self.phase is Phase.RUNNING:
            return self._pos + self._run_distance(t_ns) - self._run_distance(self._t_ns)
        if self.phase is Phase.STOPPING:
            end = max(self._stop_start_ns + self._stop_ns, self._t_ns)
            return self._pos + self._coast(min(t_ns, end)) - self._coast(self._t_ns)
        return self._pos

    def speed_counts_per_ns(self, now_ns: int) -> float:
        """Current belt speed: rising linearly over the ramp after a start, then full while
        running, falling linearly while coasting, else 0."""
        self.advance(now_ns)
        if self.phase is Phase.RUNNING:
            return self._run_speed(self._t_ns)
        if self.phase is Phase.STOPPING:
            left = 1 - (self._t_ns - self._stop_start_ns) / max(self._stop_ns, 1)
            return self._stop_v0 * max(0.0, left)
        return 0.0

    def _run_speed(self, t_ns: int) -> float:
        v = self.p.counts_per_s / 1e9
        ramp = self.p.ramp_ns
        return v if ramp <= 0 else v * min(1.0, (t_ns - self._run_start_ns) / ramp)

    def _run_distance(self, t_ns: int) -> float:
        """Counts travelled since the last start, at `t_ns` (a ramp, then full speed)."""
        v, ramp, s = self.p.counts_per_s / 1e9, self.p.ramp_ns, t_ns - self._run_start_ns
        if ramp <= 0:
            return v * s
        if s <= ramp:
            return v * s * s / (2 * ramp)
        return v * (ramp / 2 + (s - ramp))

    def set_counts_per_s(self, counts_per_s: float, now_ns: int) -> None:
        """Change the belt's running speed from `now_ns` on (a coast in progress restarts its
        deceleration from the new speed)."""
        self.advance(now_ns)
        if self.phase is Phase.STOPPING:
            self._stop_start_ns, self._stop_v0 = self._t_ns, counts_per_s / 1e9
        self.p = replace(self.p, counts_per_s=counts_per_s)

    def emergency_stop(self, now_ns: int) -> None:
        """A stop the PLC makes on its own (e-stop, a guard door): trips and latches."""
        self.advance(now_ns)
        if not self.latched:
            self._trip(now_ns, "estop")

    def latched_at(self, now_ns: int) -> bool:
        """The status bit a PLC program exposes: latched off until a reset clears it."""
        self.advance(now_ns)
        return self.latched

    def running(self, now_ns: int) -> bool:
        self.advance(now_ns)
        return self.phase is Phase.RUNNING

    # -- time ------------------------------------------------------------------------------

    def advance(self, now_ns: int) -> None:
        """Move to `now_ns`, tripping at the exact instant the watchdog expired."""
        now_ns = max(now_ns, self._t_ns)
        if self.phase is Phase.RUNNING and self._hb_change_ns is not None:
            expiry = self._hb_change_ns + self.p.watchdog_ns
            if expiry < now_ns:
                self._move_to(max(expiry, self._t_ns))
                self._trip(self._t_ns, "watchdog")
        self._move_to(now_ns)

    def _move_to(self, t_ns: int) -> None:
        if self.phase is Phase.RUNNING:
            self._pos += self._run_distance(t_ns) - self._run_distance(self._t_ns)
        elif self.phase is Phase.STOPPING:
            end = self._stop_start_ns + self._stop_ns
            b = min(t_ns, end)
            self._pos += self._coast(b) - self._coast(self._t_ns)
            if t_ns >= end:
                self.phase = Phase.STOPPED
        self._t_ns = t_ns
        self._trail.append((t_ns, self._pos))

    def _coast(self, t_ns: int) -> float:
        """Distance since the stop began, decelerating linearly to zero over the stop."""
        s = t_ns - self._stop_start_ns
        stop_ns = max(self._stop_ns, 1)
        return self._stop_v0 * (s - s * s / (2 * stop_ns))

    def _heartbeat_fresh(self) -> bool:
        hb = self._hb_change_ns
        return hb is not None and self._t_ns - hb <= self.p.watchdog_ns

    def _trip(self, t_ns: int, cause: str) -> None:
        self.latched, self.trip_cause, self.trips = True, cause, self.trips + 1
        self.trip_ns = t_ns
        if self.phase is not Phase.RUNNING:
            return  # a ready machine that never started: latched, nothing to stop
        self._stop_ns = self.p.stopping_ns + self.coast_extra_ns
        self._stop_v0 = self._run_speed(t_ns)
        self.phase, self._stop_start_ns = Phase.STOPPING, t_ns
        if self._stop_ns == 0:
            self.phase = Phase.STOPPED

    def _on_start(self) -> None:
        """Hook for recorders: the machine just started."""
