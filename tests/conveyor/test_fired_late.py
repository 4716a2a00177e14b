"""Box-timed: a coil the timer switched on too late to meet its item is a missed reject.

The timer is a thread; on a machine whose cores are all taken it can get no CPU at the fire
time (the end-to-end rig measured every thread of the box runnable and not run for 300 ms).
Its switch-on then comes late, and the paddle meets the belt behind the item. The scheduler
judges each reported switch-on against the plan the timer executed: beyond the ejector's
reach (without a reach: beyond the re-time tolerance) the item passed unpushed, a missed
reject (`fired_late`), never a fire, even when the reject had already been settled.
"""

from __future__ import annotations

from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
from plantvision.conveyor.actions import Alarm
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, frame, make_cfg

FIRE_NS = 1780 * MS  # 900 mm at 500 mm/s, less the 20 ms actuator response
DUE_NS = 1800 * MS  # the item at the ejector line


def armed(reach_mm: float | None = 10.0) -> RejectScheduler:
    """A defect seen at 100 mm at 0 ms on the fixed 500 mm/s belt, stepped in 10 ms cycles
    until its plan for 1780 ms is armed; the ejector's reach `reach_mm` (10 mm: 20 ms)."""
    ejector = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0,
               "pulse_ms": 30.0, "reach_mm": reach_mm}  # fmt: skip
    sched = RejectScheduler(make_cfg(ejectors=[ejector]))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    for t in range(0, 1690 * MS, 10 * MS):
        timer.apply(sched.update(t, None))
    assert timer.armed[1].fire_at_ns == FIRE_NS
    return sched


def test_a_switch_on_beyond_the_reach_is_a_missed_reject_not_a_fire() -> None:
    """25 ms late at 500 mm/s is 12.5 mm past the line, 2.5 mm (5 ms) beyond the 10 mm reach:
    missed (`fired_late`, counted, alarmed, logged with when the item was due), not fired."""
    sched = armed()
    with capture_logs() as logs:
        sched.report_fired(1, FIRE_NS + 25 * MS)
        acts = sched.update(FIRE_NS + 30 * MS, None)
    assert [(m.item_id, m.reason, m.late_ms, m.due_ns) for m in acts.missed] == [
        (1, "fired_late", 5.0, DUE_NS)
    ]
    assert Alarm("reject_missed", 1) in acts.alarms
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)
    missed = [e for e in logs if e["event"] == "reject_missed"]
    assert [(e["reason"], e["due_ns"]) for e in missed] == [("fired_late", DUE_NS)]


def test_a_switch_on_within_the_reach_is_a_fire() -> None:
    """15 ms late is 7.5 mm past the line, inside the 10 mm reach: the paddle meets it."""
    sched = armed()
    sched.report_fired(1, FIRE_NS + 15 * MS)
    assert sched.update(FIRE_NS + 20 * MS, None).missed == ()
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)


def test_without_a_reach_a_switch_on_past_the_tolerance_is_missed() -> None:
    """No reach: late means past the fire time; the timer has the re-time tolerance (0.5 ms)."""
    sched = armed(reach_mm=None)
    sched.report_fired(1, FIRE_NS + 400_000)
    assert sched.counters.missed == 0
    sched = armed(reach_mm=None)
    sched.report_fired(1, FIRE_NS + 2 * MS)
    assert sched.update(FIRE_NS + 3 * MS, None).missed[0].reason == "fired_late"


def test_a_late_report_after_the_reject_was_settled_is_still_judged() -> None:
    """The camera thread committed the plan at its fire time and went on stepping while the
    timer thread got no CPU; the item's track left the belt (1100 mm, 2000 ms) before the
    switch-on was reported 300 ms late. The reject was kept for its report: a missed reject,
    not an unexpected fire (the e2e run that passed a defect silently)."""
    sched = armed()
    for t in range(1690 * MS, 2200 * MS, 10 * MS):
        assert sched.update(t, None).missed == ()
    with capture_logs() as logs:
        sched.report_fired(1, FIRE_NS + 300 * MS)
    assert [e["reason"] for e in logs if e["event"] == "reject_missed"] == ["fired_late"]
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)
