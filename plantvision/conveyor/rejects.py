"""Defective items on their way to an ejector: the scheduler's records and book of them. Pure.

`Reject` is what every part of the scheduler (box- and PLC-timed paths, landing judgement, push
checks, bin windows) reads and advances; the helpers give the time and belt from the fire
decision to the push, and a push's coil time. `RejectBook` holds the rejects in flight and what
became of them this cycle (the actions for the loop, the counters, the latched belt stop, the
pushes planned per ejector); `miss` is the one way a reject ends unpushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from plantvision.conveyor.actions import (
    ActionBuffer,
    Actions,
    Alarm,
    MissedReject,
    RejectCounters,
)
from plantvision.conveyor.blind import coil_max_ns
from plantvision.conveyor.config import ConveyorConfig, EjectorModel
from plantvision.conveyor.ejector import PushBook, pulse_ns

State = Literal["pending", "armed", "sent", "committed"]


@dataclass(slots=True)
class Reject:
    """A defective item on its way to an ejector."""

    item_id: int
    state: State = "pending"
    ejector: EjectorModel | None = None
    fire_at_ns: int = 0  # box: armed fire time; any mode once committed: when it fired
    arrival_mm: float = 0.0  # plc: travel at which the item (a range: its start) is at the line
    fire_mm: float = 0.0  # plc: ... less the lead at the box's latest speed: where the PLC fires
    end_mm: float | None = None  # plc blind range: travel where its coil goes off, until passed
    fired_reported: bool = False
    armed_once: bool = False
    confirm_deadline_ns: int | None = None
    confirm_open_ns: int = 0  # the bin can see the item from here (the fire time, best known)
    push_offset_mm: float = 0.0  # how far past the line the item is when the push starts
    line_mm: float = 0.0  # box: belt travel with the item at the line, for the plan armed last
    plan_mm_per_ns: float = 0.0  # box: ... and the belt's speed it was timed with
    on_ns: int | None = None  # box: a reported switch-on not yet judged (no reading past it)
    plc_unjudged: bool = False  # plc: fired (the box's fire point passed), landing not judged
    neighbours_told: bool = False  # a reject_hits_neighbour alarm was raised for this push
    u_mm: float | None = None  # a push over a blind segment: its belt-fixed aim, no track
    span_mm: float = 0.0  # ... and the belt it covers behind the aim

    @property
    def blind(self) -> bool:
        return self.u_mm is not None


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def lead_ms(ejector: EjectorModel) -> float:
    """From the fire decision to the push: the output's latency (write, PLC scan, output
    card) and then the actuator's own response."""
    return ejector.output_latency_ms + ejector.actuator_response_ms


def lead_mm(ejector: EjectorModel | None, speed_mm_per_ns: float | None) -> float:
    """The belt that passes during the lead at this speed (none standing or unknown)."""
    v = max(speed_mm_per_ns or 0.0, 0.0)
    return 0.0 if ejector is None else v * lead_ms(ejector) * 1e6


def coil_on_ns(r: Reject, v: float) -> int:
    """A defect's pulse; a push over a blind segment stays on while its span passes, at
    least a pulse and at most the actuator's longest push (`blind.coil_max_ns`)."""
    assert r.ejector is not None
    one_ns = pulse_ns(r.ejector, v)
    if not r.blind or v <= 0:
        return one_ns
    return max(one_ns, min(int(r.span_mm / v), coil_max_ns(r.ejector)))


class RejectBook:
    """The rejects in flight on one belt, and what became of them since the last `take`."""

    def __init__(self, cfg: ConveyorConfig, log: Any) -> None:
        self._cfg = cfg
        self.log = log
        self.counters = RejectCounters()
        self.rejects: dict[int, Reject] = {}
        self.buf = ActionBuffer()
        self.pushes = PushBook()
        self.stop_belt = False

    def take(self) -> Actions:
        """This cycle's actions for the loop; the next cycle gathers afresh."""
        buf, self.buf = self.buf, ActionBuffer()
        return Actions(
            tuple(buf.plans),
            tuple(buf.cancels),
            tuple(buf.verdicts),
            tuple(buf.missed),
            tuple(buf.alarms),
            self.stop_belt,
            tuple(buf.conflicts),
        )

    def count_scheduled(self, r: Reject) -> None:
        if r.blind:
            self.counters.blind_pushes += 1
        else:
            self.counters.scheduled += 1

    def miss(self, r: Reject, now_ns: int, reason: str, late_ms: float, due_ns: int = 0,
             **told: Any) -> None:  # fmt: skip
        if r.state == "armed":
            self.buf.cancels.append(r.item_id)
        self.rejects.pop(r.item_id, None)
        self.pushes.withdraw(r.item_id)
        ejector = r.ejector.id if r.ejector else None
        self.counters.missed += 1
        self.buf.missed.append(MissedReject(r.item_id, ejector, reason, late_ms, due_ns))
        self.buf.alarms.append(Alarm("reject_missed", r.item_id))
        if self._cfg.missed_action == "stop_belt":
            self.stop_belt = True
        self.log.error(
            "reject_missed",
            item_id=r.item_id,
            ejector=ejector,
            reason=reason,
            late_ms=late_ms,
            action=self._cfg.missed_action,
            t_ns=now_ns,
            **({"due_ns": due_ns} if due_ns else {}),  # when the item was at the line
            **told,
        )
