"""Review 6 hole: box-timed rejects are still planned and booked fired on a belt projection far
past `encoder.stale_ms`, which h-cov introduced exactly because such a projection is not
knowledge ("a belt stopped by a PLC ... does not follow it"). The PLC-timed path waits while the
belt is unplaced (`_advance`: "lateness from a stale projection: wait") and books a verdict fired
only on a real reading; `_advance_box` has neither guard: it re-predicts with
`position_mm(now)` (projection at the last speed, unbounded) and `is_moving()`, arms the coil,
and `_commit`s the push at its fire time.

Sequence (real RejectScheduler, box-timed, encoder 10 counts/mm, belt 500 mm/s, ejector
1000 mm downstream, stale_ms 250, no confirmation sensor; the ejector timer stepped by the
helpers' FakeTimer):
1. sharp readings every 10 ms to 100 ms; a defect seen at 620 mm past the camera line at 100 ms
   (it leaves the view right after: no later frame shows an item, so no belt_unplaced);
2. from 100 ms no usable reading (every one blurred past MAX_HALF_RTT_NS: a slow or busy PLC;
   the link stays healthy); at 150 ms the PLC stops the belt (its own stop: downstream jam);
3. the scheduler plans the push on the projection (item "at" the ejector ~860 ms, i.e. 760 ms
   past the newest reading, 3x stale_ms) and the timer fires: `fired` 1;
4. readings come back at 1.5 s: the belt stands at 75 mm of travel, the item 305 mm short of
   the ejector; the belt later restarts and the item passes the ejector.
Consequence: the push hit air, the defect passes, and it is booked as fired: no missed reject,
no alarm (counters fired 1, missed 0). With a confirmation sensor it would at least be
`reject_unconfirmed`; without one (optional) the loss is silent.
"""

from __future__ import annotations

import structlog

from plantvision.conveyor import RejectScheduler
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, encoder_cfg, frame


def test_a_box_timed_push_is_not_planned_on_a_projection_past_stale_ms() -> None:
    sched = RejectScheduler(encoder_cfg(timing_mode="box"), structlog.get_logger())
    timer = FakeTimer(sched)
    assert sched.belt.stale_ns == 250 * MS
    for t in range(0, 101, 10):  # sharp readings, 500 mm/s = 5 counts per ms
        timer.apply(sched.update(t * MS, t * 5))
    sched.observe(100 * MS, 100 * MS, frame([(620.0, 240.0, "defect")]), FRAME_W, FRAME_H, None)
    stopped_count = 150 * 5  # the belt stops at 150 ms (no reading tells the box)
    for t in range(110, 1500, 10):  # no usable reading: none reaches the scheduler
        timer.run_until(t * MS)
        timer.apply(sched.update(t * MS, None))
    for t in range(1500, 4000, 10):  # readings back: stood at 75 mm until 2 s, then runs
        count = stopped_count + (0 if t < 2000 else (t - 2000) * 5)
        timer.run_until(t * MS)
        timer.apply(sched.update(t * MS, count))
    c = sched.counters
    item_at_ejector_ms = 2000 + (1000 - 620 - 75) * 2  # when the item really passed it
    assert item_at_ejector_ms < 4000
    fired_at = sorted(round(ns / MS) for v in timer.fired.values() for ns in v)
    assert c.missed > 0 or (c.fired > 0 and min(fired_at) > 2000), (
        f"push fired at {fired_at} ms on a projection (newest reading at 100 ms, stale_ms 250) "
        f"while the belt stood; the item passed the ejector at ~{item_at_ejector_ms} ms "
        f"unpushed; booked: fired {c.fired}, missed {c.missed}, scheduled {c.scheduled}"
    )
