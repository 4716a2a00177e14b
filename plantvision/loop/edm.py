"""Stop monitoring (external device monitoring, EDM): after each permit OFF, the stop is checked.

Safety laser scanners and light curtains check, after every switch-off, that the machine's
contactors really dropped within a set time, and lock out otherwise (IEC 61496 EDM; PLCopen
SF_EDM). The box does the same with what the PLC reports over Modbus:

- `machine_latched`: the PLC program latched the machine off. It must show within
  `latch_ns` = 2 x plc_scan_ms of the permit OFF being acknowledged (one scan to see the write,
  one to publish the status; the simulator latches at once).
- `machine_stopped` (optional, a standstill monitor): the machine must stand still within
  `standstill_ns` = stopping_time_ms + margin, margin = plc_scan_ms + max(50 ms, 10 % of the
  stopping time) (the standstill monitor's threshold and delay, the scan that reads it). The
  measured stop time is logged on every trip (`stop_measured`, bracketed by the samples:
  `stop_ms` at most, `stop_ms_min` at least): it checks the stopping time that ISO 13855's S
  was computed with, and warns when even the lower bound exceeds it.

A new OFF while the machine still coasts from an earlier one re-arms the latch check but keeps
the standstill bound of the first: quick resets cannot postpone `no_standstill` for ever.

Both are judged on input samples, not on a timer: a sample whose read began after the bound
and still shows the machine unlatched (or moving) is a miss. So a poller that is late never
raises a false fault; it only reports later (and the supervisor bounds how late). The box's
detection of a miss is therefore the bound plus one input poll plus one read round trip.

A miss is a latched fault, `stop_unconfirmed`, that holds the permit off and that a plain reset
does not clear: only a rising edge of the PLC's `maintenance_reset` input (a key switch at the
machine, never HTTP or the CLI) does, and only while the latest sample shows the machine held:
standing still where a standstill input exists (a plain reset at standstill may have cleared
the latch meanwhile), else latched. A lockout cleared on a machine still moving would let the
box permit a machine it could not stop. A reset press the box accepted, begun after the stop and
before the latch check completes counts as the latch seen (the PLC clears its latch only on a
reset at standstill), so an operator who resets quickly never causes a false fault; while the
reset input is held the check waits for its verdict (a held level alone proves nothing: a
bridged or stuck input).

A stop the box commanded through a link loss (permit ON acknowledged, then writes lost) is
checked on the first OFF acknowledged after the link heals: the PLC must show it latched, or,
since it may have tripped on its own watchdog and been reset at the machine while the box could
not see, at least standstill. So is the first OFF after the box itself stood still (frozen,
starved) for longer than its stall bound: its PLC's watchdog will have acted meanwhile.

Pure: plain values in, notes out, no clock, no I/O. Thread-safe (the input poller samples, the
writers report their writes).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from plantvision.plc.values import PlcInputs

_NS_PER_MS = 1_000_000
STANDSTILL_MARGIN_MIN_MS = 50.0
STANDSTILL_MARGIN_FRACTION = 0.10

# (level, event, fields), as the controller's notes.
Note = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class StopBounds:
    """How long after a permit OFF acknowledged the PLC has to latch, and the machine to stand
    still; `stopping_ms` is the deployment's declared stopping time."""

    latch_ms: float
    standstill_ms: float
    stopping_ms: float

    def describe(self) -> str:
        return (
            f"stop monitoring: PLC latched <= {self.latch_ms:g} ms (2 x PLC scan), standstill <= "
            f"{self.standstill_ms:g} ms (stopping time {self.stopping_ms:g} ms + margin) after "
            "permit OFF acknowledged; a miss locks out until a maintenance reset"
        )


def stop_bounds(stopping_time_ms: float, plc_scan_ms: float) -> StopBounds:
    """The bounds for a machine with this stopping time behind a PLC with this scan time."""
    margin = plc_scan_ms + max(
        STANDSTILL_MARGIN_MIN_MS, STANDSTILL_MARGIN_FRACTION * stopping_time_ms
    )
    return StopBounds(2 * plc_scan_ms, stopping_time_ms + margin, stopping_time_ms)


class StopMonitor:
    """Arms on each permit ON->OFF acknowledged at the PLC; judges the input samples after it."""

    def __init__(self, bounds: StopBounds, reset_max_ms: float = 2000.0) -> None:
        self.bounds = bounds
        # A reset held at the OFF defers the latch check until its release, at most this long
        # past the latch bound: held longer it is a stuck input, never a press (reset_max_ms).
        self._held_max_ns = int((bounds.latch_ms + reset_max_ms) * _NS_PER_MS)
        self._lock = threading.Lock()
        self._permit_at_plc: bool | None = None  # last acknowledged permit
        self._off_sent_ns = 0  # the stop being timed to standstill: its OFF sent
        self._latch_sent_ns = self._latch_ack_ns = 0  # the latest OFF: the latch must follow it
        self._off_ack_ns: int | None = None  # armed: when the permit OFF was acknowledged
        self._moving_seen_ns = 0  # the last sample since then that showed the machine moving
        self._latch_pending = False
        self._standstill_pending = False
        self._fault: str | None = None
        self._maintenance_level = True  # unknown counts as held: a stuck key clears nothing
        self._lost_while_on = False  # writes lost after a permit ON acknowledged
        self._after_loss = False  # the armed check is of a stop commanded through a loss
        self._on_ack_ns: int | None = None  # the permit ON now at the PLC was acknowledged then
        self._latched_while_on = False  # a sample since showed the PLC latched (its own stop)
        self._moved_while_on = False  # a sample since showed the machine moving
        self._moved_before_off = False  # the armed stop's: the machine had moved under the ON

    @property
    def fault(self) -> str | None:
        """Why the stop is unconfirmed (`no_latch`, `no_standstill`), or None."""
        return self._fault

    def wrote(
        self, permit: bool, t_sent_ns: int, t_ack_ns: int | None, unseen: bool = False
    ) -> None:
        """An output image write: arm on an acknowledged OFF right after an acknowledged ON,
        or on the first one after writes lost while the PLC may have had the permit ON (it did
        last we knew, or a lost write raised it: a timed-out request may still land).
        `unseen`: the box wrote nothing for longer than its stall bound before this (it stood
        still): like a loss, the PLC may have tripped on its watchdog and been reset meanwhile."""
        with self._lock:
            if t_ack_ns is None:
                self._lost_while_on = self._lost_while_on or bool(self._permit_at_plc) or permit
                self._permit_at_plc = None
                return
            was_on, self._permit_at_plc = self._permit_at_plc, permit
            # A gap in the box's own writes matters only after a permit ON it knew had landed.
            after_loss = self._lost_while_on or (unseen and bool(was_on))
            self._lost_while_on = False
            if permit and not was_on:
                self._on_ack_ns, self._latched_while_on = t_ack_ns, False
                self._moved_while_on = False
            if permit or not (was_on or after_loss):
                return
            self._after_loss = after_loss
            self._moved_before_off = self._moved_while_on
            # The PLC stopped first (e-stop, its watchdog) and showed its latch while the permit
            # was ON: it latches. A reset may clear that latch before this OFF lands.
            self._latch_pending = not (was_on and self._latched_while_on)
            self._latch_sent_ns, self._latch_ack_ns = t_sent_ns, t_ack_ns
            if self._standstill_pending and self._off_ack_ns is not None:
                return  # still coasting from an earlier stop: its standstill bound stands
            self._off_sent_ns, self._off_ack_ns = t_sent_ns, t_ack_ns
            self._standstill_pending = True
            self._moving_seen_ns = t_ack_ns

    def sample(
        self, inputs: PlcInputs | None, pressed_after_ns: int | None, reset_stuck: bool = False
    ) -> list[Note]:
        """Judge one input sample; `pressed_after_ns`: the latest accepted reset press began
        after this instant (its last released sample; None: no press yet); `reset_stuck`: the
        reset input is held beyond its window (its release will be no press)."""
        if inputs is None:
            return []
        with self._lock:
            notes = self._maintenance(inputs)
            on_ns = self._on_ack_ns
            if self._permit_at_plc and on_ns is not None and inputs.t_sample_ns >= on_ns:
                self._latched_while_on = self._latched_while_on or bool(inputs.machine_latched)
                self._moved_while_on = self._moved_while_on or inputs.machine_stopped is False
            if self._off_ack_ns is None:
                return notes
            notes += self._judge_latch(inputs, pressed_after_ns, self._latch_ack_ns, reset_stuck)
            notes += self._judge_standstill(inputs, self._off_ack_ns)
            if not self._latch_pending and not self._standstill_pending:
                self._off_ack_ns = None
            return notes

    def _judge_latch(
        self, inputs: PlcInputs, pressed_after_ns: int | None, ack_ns: int, stuck: bool
    ) -> list[Note]:
        if not self._latch_pending:
            return []
        if inputs.machine_latched is None or inputs.machine_latched:
            self._latch_pending = False
            return []
        # A press that began after the OFF was sent may have cleared the latch (at standstill);
        # one held across the stop proves nothing. A standstill after a loss is enough.
        pressed = pressed_after_ns is not None and pressed_after_ns >= self._latch_sent_ns
        # Standstill stands in for the latch only after a loss, and only for a machine seen
        # moving under the permit: one that never moved proves nothing of a PLC that obeys.
        still = self._after_loss and self._moved_before_off and inputs.machine_stopped
        if pressed or still:
            self._latch_pending = False
            return []
        if inputs.reset and not stuck and inputs.t_sample_ns - ack_ns < self._held_max_ns:
            return []  # held: its release says whether it was a press (a reset at standstill)
        if inputs.t_sample_ns - ack_ns < self.bounds.latch_ms * _NS_PER_MS:
            return []
        self._latch_pending = False  # the standstill check and measurement go on
        return self._miss("no_latch", inputs, ack_ns, self.bounds.latch_ms)

    def _judge_standstill(self, inputs: PlcInputs, ack_ns: int) -> list[Note]:
        if not self._standstill_pending:
            return []
        if inputs.machine_stopped is None:
            self._standstill_pending = False
            return []
        if inputs.machine_stopped:
            self._standstill_pending = False
            # Bracketed by the samples: at most from the OFF sent to this read's end, at least
            # from the OFF acknowledged to the start of the last read that still saw motion.
            stop_ms = (inputs.t_read_ns - self._off_sent_ns) / _NS_PER_MS
            min_ms = max(0, self._moving_seen_ns - ack_ns) / _NS_PER_MS
            over = min_ms > self.bounds.stopping_ms
            return [("warning" if over else "info", "stop_measured", {
                "stop_ms": round(stop_ms, 1), "stop_ms_min": round(min_ms, 1),
                "stopping_time_ms": self.bounds.stopping_ms, "exceeds_stopping_time": over,
            })]  # fmt: skip
        self._moving_seen_ns = inputs.t_sample_ns
        if inputs.t_sample_ns - ack_ns < self.bounds.standstill_ms * _NS_PER_MS:
            return []
        self._standstill_pending = False
        return self._miss("no_standstill", inputs, ack_ns, self.bounds.standstill_ms)

    def _miss(self, reason: str, inputs: PlcInputs, ack_ns: int, bound_ms: float) -> list[Note]:
        self._fault = self._fault or reason
        return [("error", "stop_unconfirmed", {
            "reason": reason, "bound_ms": bound_ms,
            "sampled_after_ms": round((inputs.t_sample_ns - ack_ns) / _NS_PER_MS, 1),
            "clear": "maintenance reset at the machine",
        })]  # fmt: skip

    def _maintenance(self, inputs: PlcInputs) -> list[Note]:
        level = inputs.maintenance_reset
        pressed = bool(level) and not self._maintenance_level
        self._maintenance_level = True if level is None else level
        if not pressed:
            return []
        if self._fault is not None:
            why = None
            if inputs.machine_stopped is False:
                why = "machine_moving"
            elif inputs.machine_stopped is None and inputs.machine_latched is False:
                why = "machine_not_latched"
            if why is not None:  # the key confirms a stop it can see, or nothing
                return [("warning", "maintenance_reset_refused", {
                    "reason": why, "fault": self._fault,
                    "fix": "bring the machine to a latched stop (e-stop), then turn the key again",
                })]  # fmt: skip
        cleared, self._fault = self._fault, None
        return [("warning", "maintenance_reset", {"cleared": cleared})]
