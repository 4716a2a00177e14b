"""The safety guard: zone hits, health faults and reset presses in; permit and warning out.

A pure state machine; the caller passes `now_ns` (time.monotonic_ns) and never the guard reads
a clock. Semantics (README.md, "Safety semantics"):
- power-up starts tripped (cause `start_interlock`);
- one qualifying detection in a stop zone, or any health fault, drops the permit in the same
  step (no entry debounce) and the trip latches;
- the permit returns only on a reset *press* (a rising edge of `reset`, which the loop raises
  for one cycle per press the reset button accepted: guard.reset_button) while every stop
  zone has been clear, with a verdict every cycle, for `clear_hold_ms`, no health fault is
  active, the permit has been off for `min_off_ms` and the press began after the trip (a reset
  answers a stop: a button already down when it came is not that answer); otherwise the press
  is refused, with a `reset_refused` event naming the reason;
- warning zones drive `warning` and release by themselves `hold_ms` after they clear.
Every transition is one `GuardEvent` carrying cause, zone, seq and the zone file's sha256. The
guard does no I/O: `step` returns the decision with its events, and the loop logs them only after
the output image is written ("Decide, write, then tell").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from plantvision.configio import StrictModel
from plantvision.guard.reset_button import DEFAULT_RESET_MAX_MS, DEFAULT_RESET_MIN_MS
from plantvision.zones.geometry import ZoneHits

START_INTERLOCK = "start_interlock"
STOP_ZONE = "stop_zone"
WARN_ZONE = "warn_zone"
_NS_PER_MS = 1_000_000
# The narrowest reset window accepted: ten input polls, so a deliberate press can land in it.
RESET_WINDOW_MIN_WIDTH_MS = 200


class GuardState(StrEnum):
    RUNNING = "running"
    TRIPPED = "tripped"
    READY_TO_RESET = "ready_to_reset"


class GuardConfig(StrictModel):
    clear_hold_ms: int = Field(
        500, ge=0, le=600_000, description="Stop zones must be clear this long before a reset"
    )
    min_off_ms: int = Field(
        80, ge=0, le=600_000, description="Once off, the permit stays off at least this long"
    )
    warn_hold_ms: int = Field(
        500, ge=0, le=600_000, description="Warning stays on this long after its zone clears"
    )
    reset_min_ms: int = Field(
        DEFAULT_RESET_MIN_MS,
        ge=100,
        le=5000,
        description="A reset press counts on release, if held at least this long (PLCopen "
        "SF_ResetButton: 350 ms; shorter taps are refused and logged)",
    )
    reset_max_ms: int = Field(
        DEFAULT_RESET_MAX_MS,
        ge=300,
        le=10_000,
        description="...and at most this long (SF_ResetButton: 2 s); a reset held longer is a "
        "stuck input: fault reset_stuck until released",
    )

    @property
    def reset_window_ms(self) -> tuple[float, float]:
        """(reset_min_ms, reset_max_ms): what guard.reset_button.ResetButton takes."""
        return float(self.reset_min_ms), float(self.reset_max_ms)

    @model_validator(mode="after")
    def _reset_window(self) -> Self:
        if self.reset_max_ms - self.reset_min_ms < RESET_WINDOW_MIN_WIDTH_MS:
            raise ValueError(
                f"reset window {self.reset_min_ms}..{self.reset_max_ms} ms is narrower than "
                f"{RESET_WINDOW_MIN_WIDTH_MS} ms: a person cannot hit it, and the input is "
                "sampled every poll (20 ms); widen it (defaults 350..2000 ms)"
            )
        return self


@dataclass(frozen=True, slots=True)
class GuardOutput:
    """One step's decision. `cause`/`zone` say why the permit is off (None while running)."""

    permit: bool
    warning: bool
    cause: str | None
    state: GuardState
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class GuardEvent:
    """One transition to tell: `name` (trip, reset, reset_refused, zone_entered, zone_cleared,
    warning_on, warning_off) and its fields, for the shell to log after the write."""

    name: str
    seq: int
    cause: str | None
    zone: str | None
    zones_sha256: str
    details: tuple[tuple[str, Any], ...] = ()

    @property
    def level(self) -> str:
        return "warning" if self.name in ("trip", "reset_refused") else "info"

    def fields(self) -> dict[str, Any]:
        """The log line's key/values (without the event name)."""
        base = {"cause": self.cause, "zone": self.zone, "seq": self.seq}
        return {**base, **dict(self.details), "zones_sha256": self.zones_sha256}


@dataclass(frozen=True, slots=True)
class GuardStep:
    """One step's decision and the events it implies, in the order they happened."""

    output: GuardOutput
    events: tuple[GuardEvent, ...] = ()


class Guard:
    """Latching stop/warn state machine; see the module docstring for the rules."""

    def __init__(
        self,
        config: GuardConfig,
        zone_sha256: str,
        warn_hold_ms: Mapping[str, int] | None = None,
    ) -> None:
        self._cfg = config
        self._sha256 = zone_sha256
        self._events: list[GuardEvent] = []
        self._warn_hold_ms = dict(warn_hold_ms or {})
        self._tripped = True
        self._cause: str | None = START_INTERLOCK
        self._zone: str | None = None
        self._off_since_ns: int | None = None
        self._clear_since_ns: int | None = None
        self._occupied: dict[str, bool] = {}
        self._warn_seen_ns: dict[str, int] = {}
        self._warning = False
        # A reset input already high at power-up (stuck button) is not a press.
        self._reset_level = True

    def _emit(self, event: str, seq: int, zone: str | None, cause: str | None, **kw: Any) -> None:
        self._events.append(GuardEvent(event, seq, cause, zone, self._sha256, tuple(kw.items())))

    def step(
        self,
        now_ns: int,
        seq: int,
        hits: ZoneHits | None,
        faults: frozenset[str] = frozenset(),
        reset: bool = False,
        pressed_after_ns: int | None = None,
        released_ns: int | None = None,
        blind: bool = False,
    ) -> GuardStep:
        """Advance one cycle: the decision and the events it implies. `hits` None means no
        verdict this cycle (not clear).

        `reset` is the accepted-press signal (guard.reset_button judges the physical input on
        its release); only its rising edge counts as a press. `pressed_after_ns`, when known,
        is when the button was last seen released before that press; `released_ns` when it was
        seen released (the stop zones must have stayed clear since: a press is not carried
        across an entry that came after it). `blind`: the verdict stream had a gap before this
        cycle or cannot be trusted in it; the clear hold counts again from the next verdict.
        """
        self._events = []
        if self._off_since_ns is None:
            self._off_since_ns = now_ns
        stop_occupied = self._observe(now_ns, seq, hits)
        if blind:
            self._clear_since_ns = None  # no clear verdict, however clear this one looks
        active = tuple(sorted(faults))
        if not self._tripped and (stop_occupied or active):
            self._trip(now_ns, seq, stop_occupied, active)
        pressed = reset and not self._reset_level
        self._reset_level = reset
        if pressed and self._tripped:
            self._try_reset(now_ns, seq, stop_occupied, active, pressed_after_ns, released_ns)
        self._update_warning(now_ns, seq)
        return GuardStep(self._output(now_ns, stop_occupied, active), tuple(self._events))

    def _observe(self, now_ns: int, seq: int, hits: ZoneHits | None) -> tuple[str, ...]:
        """Zone entry/clear events, warn timestamps, the clear-hold timer; occupied stop ids."""
        if hits is None:
            self._clear_since_ns = None
            return ()
        for zid, stop, occ in zip(hits.zone_ids, hits.is_stop, hits.occupied, strict=True):
            if occ and not stop:
                self._warn_seen_ns[zid] = now_ns
            if bool(occ) != self._occupied.get(zid, False):
                self._occupied[zid] = bool(occ)
                kind = STOP_ZONE if stop else WARN_ZONE
                event = "zone_entered" if occ else "zone_cleared"
                self._emit(event, seq, zid, self._cause if self._tripped else None, kind=kind)
        stop_occupied = hits.stop_occupied
        if stop_occupied:
            self._clear_since_ns = None
        elif self._clear_since_ns is None:
            self._clear_since_ns = now_ns
        return stop_occupied

    def _trip(self, now_ns: int, seq: int, stop: tuple[str, ...], faults: tuple[str, ...]) -> None:
        self._tripped = True
        self._off_since_ns = now_ns
        self._cause, self._zone = (STOP_ZONE, stop[0]) if stop else (faults[0], None)
        self._emit("trip", seq, self._zone, self._cause, zones=list(stop), faults=list(faults))

    def _refusal(self, now_ns: int, stop: tuple[str, ...], faults: tuple[str, ...]) -> str | None:
        """Why a reset press would be refused now, or None if it would be accepted."""
        if stop:
            return "stop_zone_occupied"
        if faults:
            return "health_fault"
        if self._clear_since_ns is None:
            return "no_clear_verdict"
        if now_ns - self._clear_since_ns < self._cfg.clear_hold_ms * _NS_PER_MS:
            return "clear_hold"
        assert self._off_since_ns is not None
        if now_ns - self._off_since_ns < self._cfg.min_off_ms * _NS_PER_MS:
            return "min_off_time"
        return None

    def _try_reset(
        self,
        now_ns: int,
        seq: int,
        stop: tuple[str, ...],
        faults: tuple[str, ...],
        pressed_after_ns: int | None,
        released_ns: int | None = None,
    ) -> None:
        reason = self._refusal(now_ns, stop, faults)
        began = pressed_after_ns
        if reason is None and began is not None and began < (self._off_since_ns or 0):
            reason = "pressed_before_trip"  # may have been down when the stop came: press again
        clear = self._clear_since_ns
        if reason is None and released_ns is not None and (clear is None or clear > released_ns):
            reason = "entered_since_press"  # a zone was occupied after the release: press again
        if reason is not None:
            zone = stop[0] if stop else self._zone
            self._emit(
                "reset_refused", seq, zone, self._cause, reason=reason, zones=list(stop),
                faults=list(faults),
            )  # fmt: skip
            return
        self._emit("reset", seq, self._zone, self._cause)
        self._tripped, self._cause, self._zone = False, None, None

    def _warn_active(self, now_ns: int) -> str | None:
        """The first warn zone still within its hold time, or None."""
        for zid, seen_ns in self._warn_seen_ns.items():
            hold_ms = self._warn_hold_ms.get(zid, self._cfg.warn_hold_ms)
            if now_ns - seen_ns <= hold_ms * _NS_PER_MS:
                return zid
        return None

    def _update_warning(self, now_ns: int, seq: int) -> None:
        zid = self._warn_active(now_ns)
        if (zid is not None) != self._warning:
            self._warning = zid is not None
            self._emit("warning_on" if self._warning else "warning_off", seq, zid, WARN_ZONE)

    def _output(self, now_ns: int, stop: tuple[str, ...], faults: tuple[str, ...]) -> GuardOutput:
        if not self._tripped:
            return GuardOutput(True, self._warning, None, GuardState.RUNNING)
        ready = self._refusal(now_ns, stop, faults) is None
        state = GuardState.READY_TO_RESET if ready else GuardState.TRIPPED
        return GuardOutput(False, self._warning, self._cause, state, self._zone)
