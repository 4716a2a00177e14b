"""Per-ejector confirmation by arrival window: a bin counter's confirmation belongs to a reject
of ITS ejector whose window (fire time .. + confirm_window_ms) holds the confirmation's time,
not to the oldest reject waiting anywhere."""

from __future__ import annotations

from structlog.testing import capture_logs

from plantvision.conveyor import RejectScheduler
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, frame, make_cfg

CYCLE_NS = 10 * MS


def step(sched: RejectScheduler, timer: FakeTimer, t_from_ns: int, t_to_ns: int) -> list[str]:
    """Cycles of 10 ms; the alarms raised, as 'kind:item'."""
    alarms = []
    for t in range(t_from_ns, t_to_ns, CYCLE_NS):
        timer.run_until(t)
        acts = sched.update(t, None)
        timer.apply(acts)
        alarms += [f"{a.kind}:{a.item_id}" for a in acts.alarms]
    return alarms


def test_a_confirm_in_the_second_rejects_window_confirms_the_second() -> None:
    """Two rejects on one ejector, fired at 1780 and 1880 ms, windows of 80 ms. A confirmation
    seen at 1885 ms (after the first's window closed, before any update noticed) confirms the
    second; the first is unconfirmed. Oldest-first gave it to the first and then tripped the
    belt on the second, whose item was in the bin."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=80.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect"), (50, 240, "defect")]), FRAME_W, FRAME_H, None)
    assert step(sched, timer, 0, 1860 * MS) == []  # last cycle 1850 ms: A's window still open
    # The next cycle, at 1890 ms, takes the fire of B and a counter pulse read at 1890 ms (the
    # previous reading was at 1880 ms) before its update: the runtime's order.
    timer.run_until(1890 * MS)
    assert sorted(timer.fired) == [1, 2]
    with capture_logs() as logs:
        sched.report_confirm(1890 * MS, ejector_id="ej1", since_ns=1880 * MS)
        alarms = step(sched, timer, 1890 * MS, 2100 * MS)
    confirmed = [e["item_id"] for e in logs if e["event"] == "reject_confirmed"]
    item_b = max(timer.fired, key=lambda i: timer.fired[i][0])
    assert confirmed == [item_b]
    assert alarms == [f"reject_unconfirmed:{min(timer.fired, key=lambda i: timer.fired[i][0])}"]


def test_a_confirm_outside_every_window_of_its_ejector_confirms_nothing() -> None:
    """A counter pulse long before any reject of that ejector could land is unexpected."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=80.0))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    step(sched, timer, 0, 1790 * MS)  # fired at 1780 ms
    with capture_logs() as logs:
        sched.report_confirm(1790 * MS, ejector_id="ej1", since_ns=1700 * MS)  # overlaps: taken
        sched.report_confirm(1790 * MS, ejector_id="ej1", since_ns=1790 * MS)  # none left
    assert [e["event"] for e in logs] == ["reject_confirmed", "reject_confirm_unexpected"]
    assert logs[1]["ejector"] == "ej1"
    assert sched.counters.confirmed == 1


TWO_LANES = [
    {"id": "left", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0,
     "lane_max_mm": 240.0},
    {"id": "right", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0,
     "lane_min_mm": 240.0},
]  # fmt: skip


def test_a_confirm_of_one_ejector_never_confirms_another_ejectors_reject() -> None:
    """Only the left ejector fired; the right bin's counter pulses: nothing is confirmed, the
    left reject stays waiting and is unconfirmed when its window closes."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0, ejectors=TWO_LANES))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 100, "defect")]), FRAME_W, FRAME_H, None)  # left lane
    step(sched, timer, 0, 1800 * MS)
    assert list(timer.fired) == [1]
    with capture_logs() as logs:
        sched.report_confirm(1800 * MS, ejector_id="right", since_ns=1790 * MS)
        alarms = step(sched, timer, 1800 * MS, 2100 * MS)
    assert [e["event"] for e in logs] == ["reject_confirm_unexpected", "reject_unconfirmed"]
    assert alarms == ["reject_unconfirmed:1"]


def test_each_ejectors_confirm_goes_to_its_own_reject() -> None:
    """Both lanes fire at 1780 ms; the right bin's pulse confirms the right item only."""
    sched = RejectScheduler(make_cfg(confirm_window_ms=200.0, ejectors=TWO_LANES))
    timer = FakeTimer(sched)
    sched.observe(0, 0, frame([(100, 100, "defect"), (100, 400, "defect")]), FRAME_W, FRAME_H,
                  None)  # fmt: skip
    step(sched, timer, 0, 1800 * MS)
    with capture_logs() as logs:
        sched.report_confirm(1800 * MS, ejector_id="right", since_ns=1790 * MS)
        alarms = step(sched, timer, 1800 * MS, 2100 * MS)
    (confirmed,) = [e for e in logs if e["event"] == "reject_confirmed"]
    assert confirmed["ejector"] == "right"
    left = next(e for e in logs if e["event"] == "reject_unconfirmed")
    assert alarms == [f"reject_unconfirmed:{left['item_id']}"]
    assert left["item_id"] != confirmed["item_id"]
