"""Box-timed rejects: fire plans for the box's own ejector timer, re-timed as the belt goes. Pure.

A plan is armed only `horizon_ms` before its fire time and re-sent (same item id) or cancelled
when the prediction moves beyond the re-time tolerance, so a stopped belt does not fire at an
empty spot: every `advance` re-predicts the fire time from the current belt position and speed,
leading the arrival by the ejector's output latency plus its actuator response. A reject whose
item will be beyond its ejector's reach when the coil can go on (now) is a missed reject
(`late`); one decided late but within reach fires at once. Once the fire time is within the
re-time tolerance the timer owns the plan: it is committed, and its switch-on is judged where
it landed (landing.py). On an unplaced belt a plan is withdrawn, never fired on a projection.
"""

from __future__ import annotations

from plantvision.conveyor.actions import FirePlan
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.bin_windows import BinWindows
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.ejector import Push, lateness_ns
from plantvision.conveyor.push_checks import PushChecks
from plantvision.conveyor.rejects import Reject, RejectBook, coil_on_ns, lead_ms, ms


class BoxTiming:
    """The box-timed path of one belt's rejects."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, book: RejectBook, checks: PushChecks,
                 bins: BinWindows) -> None:  # fmt: skip
        self._cfg, self._belt, self._book = cfg, belt, book
        self._checks, self._bins = checks, bins

    def advance(self, r: Reject, now_ns: int, travel_mm: float, remaining_mm: float) -> None:
        """A pending or armed reject `remaining_mm` short of its ejector line: armed, re-timed,
        withdrawn, handed to the timer (committed), or missed."""
        assert r.ejector is not None
        tol_ns = int(self._cfg.retime_tolerance_ms * 1e6)
        if r.state == "armed" and now_ns >= r.fire_at_ns - tol_ns:
            # The timer has switched the coil on, or is spinning to (its spin is at most the
            # tolerance): a cancel or re-time now could arrive after it fired, so it owns it.
            self._bins.commit(r, r.fire_at_ns)
            return
        if not self._belt.placed(now_ns):
            self._unplaced(r, now_ns, remaining_mm)
            return
        v = self._belt.speed_mm_per_ns()
        if v is None or not self._belt.is_moving():
            if remaining_mm < -(r.ejector.reach_mm or 0.0):
                self._book.miss(r, now_ns, "passed_while_stopped", 0.0)
            elif r.state == "armed":
                self._unarm(r)
            return
        fire_at_ns = now_ns + int(remaining_mm / v) - int(lead_ms(r.ejector) * 1e6)
        # The timer is in this process: the coil can go on now (no transport margin here).
        late_ns = lateness_ns(now_ns, fire_at_ns, r.ejector.reach_mm, v)
        if late_ns > (tol_ns if r.state == "armed" else 0):
            due_ns = fire_at_ns + int(lead_ms(r.ejector) * 1e6)
            self._book.miss(r, now_ns, "late", ms(late_ns), due_ns)
        elif fire_at_ns - now_ns > self._cfg.horizon_ms * 1e6:
            if r.state == "armed":  # the belt slowed: wait until the item is near again
                self._unarm(r)
        elif r.state == "pending" or abs(fire_at_ns - r.fire_at_ns) > tol_ns:
            at_ns = max(fire_at_ns, now_ns)  # late within reach: at once
            self._arm(r, at_ns, v, (at_ns - fire_at_ns) * v, travel_mm + remaining_mm)

    def _unplaced(self, r: Reject, now_ns: int, remaining_mm: float) -> None:
        """Box-timed, the belt unplaced (no usable reading for `stale_ms`): a push armed or
        re-timed on the projection fired at air when the PLC had stopped the belt unseen, and
        was booked fired (review 6). The plan is cancelled and the reject waits for a reading;
        once the projection (the belt at its last speed) has carried the item past its reach,
        it may have passed unpushed: a missed reject (`belt_unplaced`), never a fire."""
        assert r.ejector is not None
        if remaining_mm < -(r.ejector.reach_mm or 0.0):
            self._book.miss(r, now_ns, "belt_unplaced", 0.0)
        elif r.state == "armed":
            self._unarm(r, "belt_unplaced")

    def _arm(self, r: Reject, fire_at_ns: int, v: float, offset_mm: float, line_mm: float
             ) -> None:  # fmt: skip
        """Arm (or re-time) the coil at `fire_at_ns`; `offset_mm`: how far past the line the
        item will be then (late within reach); `line_mm`: the belt travel with the item at the
        line, by which its switch-on is judged. The pulse follows the speed of the moment."""
        assert r.ejector is not None
        retimed = r.armed_once
        if not retimed:
            self._book.count_scheduled(r)
        r.state, r.fire_at_ns, r.armed_once = "armed", fire_at_ns, True
        r.line_mm, r.plan_mm_per_ns = line_mm, v
        coil_ns = coil_on_ns(r, v)
        self._book.buf.plans.append(FirePlan(r.ejector.id, fire_at_ns, coil_ns, r.item_id))
        if retimed:
            self._book.pushes.put(r.ejector.id, Push(r.item_id, fire_at_ns, coil_ns))
        else:
            self._checks.check(r, fire_at_ns, fire_at_ns, coil_ns, v, offset_mm)
        # Re-times follow every encoder reading (the poller's): debug, or they would flood the
        # log and inflate the metrics' `scheduled`, which counts each reject once.
        (self._book.log.debug if retimed else self._book.log.info)(
            "reject_retimed" if retimed else "reject_scheduled",
            item_id=r.item_id,
            ejector=r.ejector.id,
            mode="box",
            fire_at_ns=fire_at_ns,
            retimed=retimed,
        )

    def _unarm(self, r: Reject, reason: str = "belt_slowed_or_stopped") -> None:
        r.state = "pending"
        self._book.buf.cancels.append(r.item_id)
        self._book.log.info("reject_unarmed", item_id=r.item_id, reason=reason)
