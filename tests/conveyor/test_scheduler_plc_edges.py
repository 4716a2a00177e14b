"""PLC-timed edges: the count the verdict carries is reached to the count, a stopped belt still
gets its verdict (with no deadline), a count already reached is never written, a fired verdict
is never re-sent, and the bin sensor confirms only what the PLC can have fired."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.conveyor import PlcVerdict, RejectScheduler
from plantvision.conveyor.actions import MissedReject
from tests.conveyor.helpers import MS, SimBelt, encoder_cfg, events, frame

NOTHING = frame([])


def sent_verdict(**over: Any) -> tuple[RejectScheduler, SimBelt]:
    """500 mm/s, 10 counts/mm: a defect seen at 100 mm at 100 ms (travel 50 mm) gets its
    verdict: arrival count 9500 and the actuator's 20 ms lead, so the PLC fires at count 9400
    (travel 940 mm, reached at 1880 ms)."""
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", **over))
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    verdict = PlcVerdict("ej1", 9500, 1, 1880 * MS, lead_ms=20.0)
    assert sched.update(100 * MS, sim.count()).verdicts == (verdict,)
    return sched, sim


def reading(sched: RejectScheduler, sim: SimBelt, t_ns: int) -> None:
    """An encoder reading at `t_ns` with a frame that shows nothing (no update yet)."""
    sched.observe(t_ns, t_ns, NOTHING, 640, 480, sim.count_at(t_ns))


def test_a_verdict_counts_as_fired_when_the_belt_reaches_its_count_exactly() -> None:
    sched, sim = sent_verdict()
    sched.update(1870 * MS, sim.count_at(1870 * MS))
    assert sched.counters.fired == 0
    sched.update(1880 * MS, sim.count_at(1880 * MS))  # count 9400: the PLC switches on
    assert sched.counters.fired == 0  # booked once a reading shows where the paddle landed
    sched.update(1900 * MS, sim.count_at(1900 * MS))  # the 20 ms lead later: on the item
    assert sched.counters.fired == 1


def test_the_bin_sensor_in_the_cycle_the_count_is_reached_confirms_the_verdict() -> None:
    sched, sim = sent_verdict(confirm_window_ms=200.0)
    reading(sched, sim, 1880 * MS)  # count 9400: the PLC fires now
    sched.report_confirm(1880 * MS)
    assert sched.counters.confirmed == 1
    sched.update(1900 * MS, sim.count_at(1900 * MS))  # where the paddle landed: on the item
    assert sched.counters.fired == 1


def test_a_bin_sensor_pulse_before_the_plc_can_have_fired_confirms_nothing() -> None:
    sched, sim = sent_verdict(confirm_window_ms=200.0)
    reading(sched, sim, 1000 * MS)
    with capture_logs() as logs:
        sched.report_confirm(1000 * MS)
    assert events(logs, "reject_confirm_unexpected") == [
        {"t_ns": 1000 * MS, "log_level": "warning"}
    ]
    assert (sched.counters.confirmed, sched.counters.fired) == (0, 0)


def test_a_bin_sensor_pulse_before_any_encoder_reading_is_unexpected_not_a_crash() -> None:
    sched = RejectScheduler(encoder_cfg(timing_mode="plc", confirm_window_ms=200.0))
    with capture_logs() as logs:
        sched.report_confirm(5 * MS)
    assert [e["event"] for e in logs] == ["reject_confirm_unexpected"]


def test_a_verdict_decided_on_a_stopped_belt_is_written_with_no_deadline() -> None:
    """Standing belt, item half a mm short of its ejector: the count holds whatever the belt
    does, so the verdict goes out; no time can be given by which it must be written."""
    sim = SimBelt(speed_mm_s=0.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    sched.update(0, sim.count())
    sched.observe(10 * MS, 10 * MS, frame([(999.5, 240, "defect")]), 2000, 480, sim.count())
    acts = sched.update(10 * MS, sim.count())
    assert acts.verdicts == (PlcVerdict("ej1", 5, 1, None, lead_ms=20.0),)
    assert acts.missed == ()


@pytest.mark.parametrize("item_px", [1000.0, 1000.5])
def test_on_a_stopped_belt_a_count_already_reached_is_missed_not_written(item_px: float) -> None:
    """The PLC fires on reaching a count: one the belt stands at or has passed would never
    fire, so it is a missed reject (no speed: no lateness in ms), logged when decided."""
    sim = SimBelt(speed_mm_s=0.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    sched.update(0, sim.count())
    with capture_logs() as logs:
        sched.observe(10 * MS, 10 * MS, frame([(item_px, 240, "defect")]), 2000, 480, sim.count())
        acts = sched.update(10 * MS, sim.count())
    assert acts.verdicts == ()
    assert acts.missed == (MissedReject(1, "ej1", "late", 0.0),)
    assert [e["t_ns"] for e in events(logs, "reject_missed")] == [10 * MS]


def test_every_verdict_is_counted_scheduled_and_fired() -> None:
    sim = SimBelt(speed_mm_s=500.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    sched.update(0, sim.count())
    items = frame([(100, 100, "defect"), (300, 300, "defect")])
    sched.observe(10 * MS, 10 * MS, items, 640, 480, sim.count_at(10 * MS))
    for t in range(10 * MS, 2000 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    assert (sched.counters.scheduled, sched.counters.fired) == (2, 2)


def test_a_plc_restart_at_the_very_count_re_sends_nothing() -> None:
    """At its fire count the verdict is the PLC's to fire now: re-sending it is too late."""
    sched, sim = sent_verdict()
    reading(sched, sim, 1880 * MS)
    sched.resend_ahead(1880 * MS)
    assert sched.counters.fifo_resent == 0


def test_a_plc_restart_on_a_stopped_belt_re_sends_with_no_deadline() -> None:
    sched, sim = sent_verdict()
    reading(sched, sim, 1000 * MS)
    sim.speed_mm_s = 0.0
    for t in range(1010 * MS, 1100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.resend_ahead(1100 * MS)
    verdict = PlcVerdict("ej1", 9500, 1, None, lead_ms=20.0)
    assert sched.update(1100 * MS, sim.count()).verdicts == (verdict,)


def test_a_fired_verdict_is_not_re_sent_when_the_belt_rolls_back_before_a_plc_restart() -> None:
    """The belt passes the fire count, then settles 3 mm back (inside the jump tolerance): the
    verdict has fired, so a PLC restart must not write it again (it would fire twice)."""
    sched, sim = sent_verdict()
    for t in range(110 * MS, 1910 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))  # 940 mm at 1880 ms: fired, landed at 1900 ms
    assert sched.counters.fired == 1
    sim.speed_mm_s = -300.0  # 10 ms back: 947 mm, then it stands
    sched.update(1910 * MS, sim.count_at(1910 * MS))
    sim.speed_mm_s = 0.0
    for t in range(1920 * MS, 1980 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.resend_ahead(1970 * MS)
    assert sched.counters.fifo_resent == 0


def test_a_16_bit_encoder_register_gets_verdict_counts_wrapped_at_2_pow_16() -> None:
    """encoder_bits=16: the register wraps 20 ms in, which is travel, not a jump; the fire
    count is the 16-bit count the PLC will read (950 mm from 65436 = 74936, held as 9400)."""
    sim = SimBelt(speed_mm_s=500.0, raw0=65536 - 100)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"), encoder_bits=16)
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t) % 65536)
    count = sim.count_at(100 * MS) % 65536
    sched.observe(100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, count)
    verdict = PlcVerdict("ej1", 9400, 1, 1880 * MS, lead_ms=20.0)
    assert sched.update(100 * MS, count).verdicts == (verdict,)
    assert sched.counters.discontinuities == 0  # the register's wrap is no encoder jump


def test_a_verdict_sent_at_standstill_is_booked_fired_where_the_plc_leads_it() -> None:
    """Decided while the belt stood (arrival count 9500, 950 mm of travel ahead, 20 ms lead),
    the verdict is fired by the PLC 10 mm before its arrival once the belt runs at 0.5 m/s:
    the box books the fire there too (its confirm window opens with the push), not at the
    arrival as a lead fixed at the decision (0) would have it."""
    sim = SimBelt(speed_mm_s=0.0)
    sched = RejectScheduler(encoder_cfg(timing_mode="plc"))
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    sched.observe(100 * MS, 100 * MS, frame([(50, 240, "defect")]), 640, 480, sim.count())
    (verdict,) = sched.update(100 * MS, sim.count()).verdicts
    assert (verdict.arrival_count, verdict.lead_ms) == (9500, 20.0)
    sim.speed_mm_s = 500.0  # from the last reading, 90 ms: travel 940 mm at 1970 ms
    for t in range(110 * MS, 1970 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    assert sched.counters.fired == 0
    sched.update(1970 * MS, sim.count_at(1970 * MS))  # the PLC's fire point, 10 mm early
    sched.update(1990 * MS, sim.count_at(1990 * MS))  # its paddle lands on the item
    assert sched.counters.fired == 1
