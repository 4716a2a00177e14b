"""What the reject scheduler asks of the loop each cycle, and its counters. Plain values."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FirePlan:
    """Box-timed: switch `ejector_id` on at `fire_at_ns` (monotonic) for `pulse_ns`.

    A later plan with the same `item_id` replaces an armed one (the belt changed speed)."""

    ejector_id: str
    fire_at_ns: int
    pulse_ns: int
    item_id: int


@dataclass(frozen=True, slots=True)
class PlcVerdict:
    """PLC-timed: the item arrives at `ejector_id`'s line at encoder count `arrival_count`
    (wrapped 32-bit); the PLC switches the ejector on once its count plus `lead_ms` at its own
    speed reaches that, and times the pulse itself; with `end_count` (a range over a blind
    segment) it holds the coil on until its count plus the lead reaches that."""

    ejector_id: str
    arrival_count: int
    item_id: int
    deadline_ns: int | None = None  # the item's estimated fire time; None: belt stopped
    end_count: int | None = None  # a range (blind segment): the coil stays on until this count
    lead_ms: float = 0.0  # the ejector's output latency + actuator response


@dataclass(frozen=True, slots=True)
class MissedReject:
    """A defective item that will not be pushed off: its fire time passed before it could be.

    `due_ns`: when the item was due at the ejector line (monotonic), where the scheduler knows
    it (`late`, `fired_late`), else 0 (`fired_short`: the item never reached the line before the
    push); a record for matching with the belt, not compared."""

    item_id: int
    ejector_id: str | None
    reason: str  # "late", "fired_late", "fired_short", "fired_unplaced", "fire_unreported",
    # "passed_while_stopped", "no_ejector_for_lane", "belt_unplaced", "lost_track",
    # "coil_not_written", "verdict_not_delivered", "verdict_too_late", "encoder_discontinuity",
    # "plc_restarted", "verdict_refused", "fifo_overflow" (item_id 0: the PLC's echo names no
    # item); a push over a blind segment has a negative item_id
    late_ms: float
    due_ns: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PushConflict:
    """A push that fires but may do harm or too little: `kind` "neighbour" (good items, by id,
    inside its blast window: they may be pushed off too) or "cycle" (it starts `gap_ms` from
    the push of the other item on the same ejector: closer than the actuator's cycle, or
    inside its pulse). The defect is still pushed: a false reject costs a good item, a skipped
    push lets a defect through."""

    item_id: int
    ejector_id: str
    kind: str  # "neighbour" or "cycle"
    other_item_ids: tuple[int, ...]
    gap_ms: float | None  # cycle: between the two push starts; neighbour: None


@dataclass(frozen=True, slots=True)
class Alarm:
    """Raised once per cause; `kind` is "reject_missed", "reject_unconfirmed",
    "encoder_discontinuity", "belt_unplaced" or "blind_segment" (item 0: about the belt, not one
    item), or a push conflict ("reject_hits_neighbour", "ejector_cycle_short"), which never
    stops the belt."""

    kind: str
    item_id: int
    stops: bool = False  # stops the belt whatever missed_action says (cause: `kind`)


@dataclass(frozen=True, slots=True)
class Actions:
    """One cycle's output. `cancels` are item ids whose armed FirePlan must be withdrawn;
    `stop_belt` stays True (latched) until `RejectScheduler.clear_stop_belt()`."""

    plans: tuple[FirePlan, ...] = ()
    cancels: tuple[int, ...] = ()
    verdicts: tuple[PlcVerdict, ...] = ()
    missed: tuple[MissedReject, ...] = ()
    alarms: tuple[Alarm, ...] = ()
    stop_belt: bool = False
    conflicts: tuple[PushConflict, ...] = ()


@dataclass(slots=True)
class RejectCounters:
    """Items seen and what became of the defective ones, since start."""

    seen: int = 0
    defective: int = 0
    scheduled: int = 0
    fired: int = 0
    missed: int = 0
    confirmed: int = 0
    unconfirmed: int = 0
    unconfirmed_ambiguous: int = 0  # of those, a blind push took a pulse its window held
    frames_unplaced: int = 0
    belt_unplaced: int = 0  # spells of frames with items the belt could not place: each a fault
    discontinuities: int = 0  # encoder jumps (PLC restart, preset): each a fault
    fifo_resent: int = 0  # verdicts written again after a PLC restart
    fifo_refused: int = 0  # verdicts the PLC refused (its echo)
    fifo_overflow: int = 0  # verdicts overwritten before the PLC read them (its echo)
    neighbour_hits: int = 0  # pushes with a good item inside their blast window
    cycle_short: int = 0  # pushes closer than the actuator's cycle to another (or overlapping)
    blind_segments: int = 0  # stretches of belt no decided frame proved good: each handled
    blind_pushes: int = 0  # pushes (PLC-timed: range verdicts) planned over blind segments

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class ActionBuffer:
    """Actions being gathered during one cycle."""

    plans: list[FirePlan] = field(default_factory=list)
    cancels: list[int] = field(default_factory=list)
    verdicts: list[PlcVerdict] = field(default_factory=list)
    missed: list[MissedReject] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    conflicts: list[PushConflict] = field(default_factory=list)
