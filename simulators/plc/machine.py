"""The simulated machine behind the PLC: pure state, every method takes `now_ns`.

Rules (what a PLC safety program does with the box's signals):
- It runs only while not latched, the permit is ON and the heartbeat changed within `watchdog_ns`.
- Permit OFF or a stale heartbeat trips it: it latches and coasts to a stop over `stopping_ns`
  (linear deceleration), then stays stopped.
- Power-up is latched. Only a reset pressed once the machine is at rest clears the latch; the reset
  input the box reads stays high for `reset_pulse_ns`.
- Monitored restart: once the latch is cleared, the machine starts only on a permit OFF->ON
  transition that arrives *after* that reset press. A permit that was already ON at the press, or
  stayed ON through the trip, never starts it: a Modbus write that timed out at the box may still
  be applied here late, so a permit ON that predates the reset is not the box's fresh consent.
- A 32-bit encoder counts belt travel at `counts_per_s` while it moves, wrapping at 2**32.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

ENCODER_MODULUS = 1 << 32


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
        self._t_ns = now_ns
        self._stop_start_ns = now_ns
        self._hb_value: int | None = None
        self._hb_change_ns: int | None = None
        self._pos = 0.0
        self._reset_until_ns = now_ns
        # True once a permit OFF->ON transition arrived after the press that cleared the latch.
        self._fresh_rise = False

    # -- inputs from the box ---------------------------------------------------------------

    def on_permit(self, permit: bool, now_ns: int) -> None:
        self.advance(now_ns)
        if permit and not self.permit and not self.latched:
            self._fresh_rise = True  # a rise while latched predates any reset: it does not count
        self.permit = permit
        if not permit and self.phase is Phase.RUNNING:
            self._trip(self._t_ns, "permit_off")
        self._maybe_start()

    def on_heartbeat(self, value: int, now_ns: int) -> None:
        self.advance(now_ns)
        if value != self._hb_value:
            self._hb_value, self._hb_change_ns = value, self._t_ns
        self._maybe_start()

    def press_reset(self, now_ns: int, pulse_ns: int | None = None) -> bool:
        """A person presses reset at the machine, holding it `pulse_ns` (default
        `reset_pulse_ns`); True when it cleared the latch."""
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

    # -- outputs ---------------------------------------------------------------------------

    def reset_input(self, now_ns: int) -> bool:
        self.advance(now_ns)
        return self._t_ns < self._reset_until_ns

    def encoder(self, now_ns: int) -> int:
        self.advance(now_ns)
        return int(self._pos) % ENCODER_MODULUS

    def position_counts(self, now_ns: int) -> float:
        """Belt travel since power-up in counts, unwrapped (the truth the encoder wraps)."""
        self.advance(now_ns)
        return self._pos

    def speed_counts_per_ns(self, now_ns: int) -> float:
        """Current belt speed: full while running, falling linearly while coasting, else 0."""
        self.advance(now_ns)
        v = self.p.counts_per_s / 1e9
        if self.phase is Phase.RUNNING:
            return v
        if self.phase is Phase.STOPPING:
            return v * max(0.0, 1 - (self._t_ns - self._stop_start_ns) / max(self.p.stopping_ns, 1))
        return 0.0

    def set_counts_per_s(self, counts_per_s: float, now_ns: int) -> None:
        """Change the belt's running speed from `now_ns` on (a coast in progress restarts its
        deceleration from the new speed)."""
        self.advance(now_ns)
        if self.phase is Phase.STOPPING:
            self._stop_start_ns = self._t_ns
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
        v = self.p.counts_per_s / 1e9
        if self.phase is Phase.RUNNING:
            self._pos += v * (t_ns - self._t_ns)
        elif self.phase is Phase.STOPPING:
            end = self._stop_start_ns + self.p.stopping_ns
            b = min(t_ns, end)
            self._pos += self._coast(b) - self._coast(self._t_ns)
            if t_ns >= end:
                self.phase = Phase.STOPPED
        self._t_ns = t_ns

    def _coast(self, t_ns: int) -> float:
        """Distance since the stop began, decelerating linearly to zero over stopping_ns."""
        s = t_ns - self._stop_start_ns
        stop_ns = max(self.p.stopping_ns, 1)
        return self.p.counts_per_s / 1e9 * (s - s * s / (2 * stop_ns))

    def _trip(self, t_ns: int, cause: str) -> None:
        self.latched, self.trip_cause, self.trips = True, cause, self.trips + 1
        self.trip_ns = t_ns
        self.phase, self._stop_start_ns = Phase.STOPPING, t_ns
        if self.p.stopping_ns == 0:
            self.phase = Phase.STOPPED

    def _maybe_start(self) -> None:
        fresh = (
            self._hb_change_ns is not None and self._t_ns - self._hb_change_ns <= self.p.watchdog_ns
        )
        armed = not self.latched and self.permit and self._fresh_rise
        if self.phase is Phase.STOPPED and armed and fresh:
            self.phase, self.trip_cause = Phase.RUNNING, None
