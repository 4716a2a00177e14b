"""PLC-timed: a push the PLC started just before the belt stopped lands short of its item, and
the box books it fired.

The PLC switches the ejector on once `encoder + speed x lead` reaches the arrival count, then
the paddle lands `lead` later. When the belt stops (a permit drop, an operator stop, a jam)
inside that lead, the item stands short of the line when the paddle lands: a push at air, the
defect goes on when the belt restarts. Box-timed pushes are judged by where the belt was at the
push (`fired_short`, issue 15); a PLC-timed verdict is booked fired as soon as a reading passes
its fire point (arrival less the lead at the box's speed) and never judged again: counted
`fired`, no missed reject, no alarm, no belt stop (fixed: `_judge_plc_push` judges where the
belt was when the paddle landed). (The README's "both are late, never early"
holds for acceleration only: a decelerating belt makes a linear lead early.)

The PLC is `FifoReader` (the reference PLC program) scanning every 1 ms; the belt's truth is
this file's own travel profile: 500 mm/s, a 40 ms coast to a stop from 1741 ms, standing to
2500 ms, then 500 mm/s again. Ejector 1000 mm downstream, 60 ms actuator (30 mm at 500 mm/s),
10 mm reach; a defect at 100 mm at 0 ms arrives at 900 mm of travel (1800 ms).
"""

from __future__ import annotations

from plantvision.conveyor import RejectScheduler
from tests.conveyor.reference_plc import REACH_MM, run_cell

V = 0.5  # mm/ms
STOP_MS, COAST_MS, RESTART_MS = 1741.0, 40.0, 2500.0


def travel_mm(t_ms: float, stop_ms: float) -> float:
    """The belt's truth: run, coast linearly to a stop from `stop_ms`, stand, run again."""
    if t_ms <= stop_ms:
        return V * t_ms
    coasted = min(t_ms - stop_ms, COAST_MS)
    stopped_mm = V * stop_ms + V * coasted - V * coasted**2 / (2 * COAST_MS)
    return stopped_mm + V * max(0.0, t_ms - RESTART_MS)


def run(stop_ms: float = STOP_MS) -> tuple[RejectScheduler, float]:
    """The cell of tests.conveyor.reference_plc over this file's belt."""
    return run_cell(lambda t_ms: travel_mm(t_ms, stop_ms), 3000)


def test_a_plc_push_that_lands_short_because_the_belt_stopped_is_a_missed_reject() -> None:
    sched, off_mm = run()
    assert off_mm < -REACH_MM  # the truth: the paddle met the belt ~20 mm short of the item
    assert (sched.counters.fired, sched.counters.missed) == (0, 1)


def test_the_same_push_on_a_belt_that_keeps_running_is_a_fire() -> None:
    """Contrast: the belt never stops; the push lands on the item and it is booked fired."""
    sched, off_mm = run(stop_ms=10_000.0)
    assert abs(off_mm) <= 1.0
    assert (sched.counters.fired, sched.counters.missed) == (1, 0)
