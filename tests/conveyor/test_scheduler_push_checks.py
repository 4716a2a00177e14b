"""The scheduler sizes each push to its ejector: a reject decided past its fire time still fires
while the item is within the ejector's reach (after the transport margin in PLC mode); a pulse
given in mm lasts what the belt speed makes of it; a good item inside the blast window and a push
closer than the actuator's cycle each raise a counted, logged alarm and the defect is still
pushed (a false reject costs one good item, a skipped push lets a defect through)."""

from __future__ import annotations

from typing import Any

import numpy as np
import structlog
from structlog.testing import capture_logs

from plantvision.conveyor import Actions, FirePlan, PlcVerdict, RejectScheduler
from plantvision.conveyor.actions import Alarm, MissedReject, PushConflict
from plantvision.conveyor.runtime import RejectRuntime
from plantvision.conveyor.verdicts import InlineVerdicts
from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from tests.conveyor.helpers import (
    FRAME_H,
    FRAME_W,
    MS,
    FakeTimer,
    SimBelt,
    encoder_cfg,
    events,
    frame,
    make_cfg,
)
from tests.fakes.plc import FakePlcLink

IMAGE = np.random.default_rng(0).integers(60, 200, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
EJ = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0}


def ejector(**over: Any) -> list[dict[str, Any]]:
    e: dict[str, Any] = dict(EJ)
    e.update(over)
    return [{k: v for k, v in e.items() if v is not None}]


def run(sched: RejectScheduler, t0_ms: int, t1_ms: int) -> tuple[FakeTimer, list[Actions]]:
    timer, out = FakeTimer(sched), []
    for t in range(t0_ms * MS, t1_ms * MS, 10 * MS):
        timer.run_until(t)
        acts = sched.update(t, None)
        timer.apply(acts)
        out.append(acts)
    return timer, out


# -- box mode: reach ------------------------------------------------------------------------


def test_box_a_reject_decided_past_its_fire_time_but_within_reach_fires_at_once() -> None:
    """Seen at 5 ms, 7.5 mm before the ejector with a 20 ms actuator: its fire time was 0 ms.
    10 mm of reach at 0.5 m/s is 20 ms of slack: the coil goes on now, nothing is missed."""
    sched = RejectScheduler(make_cfg(ejectors=ejector(reach_mm=10.0)))
    sched.observe(5 * MS, 0, frame([(990, 240, "defect")]), 2000, FRAME_H, None)
    acts = sched.update(5 * MS, None)
    assert acts.plans == (FirePlan("ej1", 5 * MS, 30 * MS, 1),)
    assert (acts.missed, acts.alarms, sched.counters.missed) == ((), (), 0)


def test_box_a_reject_beyond_its_reach_is_missed_by_what_lies_beyond() -> None:
    """2 mm of reach is 4 ms: 5 ms past the fire time is 1 ms beyond it."""
    sched = RejectScheduler(make_cfg(ejectors=ejector(reach_mm=2.0)))
    sched.observe(5 * MS, 0, frame([(990, 240, "defect")]), 2000, FRAME_H, None)
    acts = sched.update(5 * MS, None)
    assert acts.missed == (MissedReject(1, "ej1", "late", 1.0),)
    assert acts.plans == ()


def test_box_a_pulse_in_mm_lasts_what_the_belt_speed_makes_of_it() -> None:
    """20 mm at 0.5 m/s: 40 ms."""
    sched = RejectScheduler(make_cfg(ejectors=ejector(pulse_ms=None, pulse_mm=20.0)))
    sched.observe(0, 0, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    _, out = run(sched, 0, 2000)
    plans = [p for a in out for p in a.plans]
    assert [(p.fire_at_ns, p.pulse_ns) for p in plans] == [(1780 * MS, 40 * MS)]


# -- box mode: neighbours and cycle ---------------------------------------------------------


def defect_with_neighbour(neighbour_x: float, neighbour_cls: str = "item", **ej: Any) -> tuple[
    RejectScheduler, list[dict[str, Any]], FakeTimer, list[Actions]
]:  # fmt: skip
    """A defective item at 100 mm (id 1) and a neighbour (id 2), 10 px boxes, belt 0.5 m/s,
    30 ms pulse: the pulse sweeps 15 mm of belt."""
    sched = RejectScheduler(make_cfg(ejectors=ejector(**ej)))
    dets = [(100, 240, "item"), (100, 240, "defect"), (neighbour_x, 240, neighbour_cls)]
    if neighbour_cls == "defect":
        dets = [(100, 240, "defect"), (neighbour_x, 240, "defect")]
    with capture_logs() as logs:
        sched.observe(0, 0, frame(dets, size_px=10), FRAME_W, FRAME_H, None)
        timer, out = run(sched, 0, 2200)
    return sched, logs, timer, out


def test_box_a_good_item_inside_the_blast_window_raises_an_alarm_and_the_defect_fires() -> None:
    """The good item 20 mm upstream passes the paddle while the coil is on (15 mm swept + 10 mm
    of reach): counted, logged and alarmed; the defect is still pushed."""
    sched, logs, timer, out = defect_with_neighbour(80.0, reach_mm=10.0)
    alarms = [a for acts in out for a in acts.alarms]
    conflicts = [c for acts in out for c in acts.conflicts]
    assert alarms == [Alarm("reject_hits_neighbour", 1)]
    assert conflicts == [PushConflict(1, "ej1", "neighbour", (2,), None)]
    assert sched.counters.neighbour_hits == 1
    assert timer.fired == {1: [1780 * MS]}
    (ev,) = events(logs, "reject_hits_neighbour")
    assert {k: ev[k] for k in ("item_id", "ejector", "neighbour_ids", "log_level")} == {
        "item_id": 1, "ejector": "ej1", "neighbour_ids": [2], "log_level": "warning"
    }  # fmt: skip


def test_box_a_good_item_outside_the_blast_window_is_quiet() -> None:
    sched, logs, _, out = defect_with_neighbour(70.0, reach_mm=10.0)  # 30 mm upstream
    assert [a for acts in out for a in acts.alarms] == []
    assert sched.counters.neighbour_hits == 0
    assert events(logs, "reject_hits_neighbour") == []


def test_box_without_reach_the_window_is_the_swept_belt_alone() -> None:
    """No reach given (an existing deployment): 10 mm upstream is inside the 15 mm swept."""
    sched, _, _, _ = defect_with_neighbour(90.0)
    assert sched.counters.neighbour_hits == 1


def test_box_a_defective_neighbour_is_no_blast_alarm() -> None:
    sched, _, _, _ = defect_with_neighbour(90.0, "defect", reach_mm=10.0)
    assert sched.counters.neighbour_hits == 0


def test_box_two_pushes_closer_than_the_cycle_raise_an_alarm_and_both_fire() -> None:
    """Two defects 40 mm apart are 80 ms apart at 0.5 m/s; the actuator needs 100 ms."""
    sched, logs, timer, out = defect_with_neighbour(60.0, "defect", min_cycle_ms=100.0)
    alarms = [a for acts in out for a in acts.alarms]
    assert alarms == [Alarm("ejector_cycle_short", 2)]
    conflicts = [c for acts in out for c in acts.conflicts]
    assert conflicts == [PushConflict(2, "ej1", "cycle", (1,), 80.0)]
    assert sched.counters.cycle_short == 1
    assert timer.fired == {1: [1780 * MS], 2: [1860 * MS]}
    (ev,) = events(logs, "ejector_cycle_short")
    assert {k: ev[k] for k in ("item_id", "ejector", "other_item_id", "gap_ms", "min_cycle_ms")
            } == {"item_id": 2, "ejector": "ej1", "other_item_id": 1, "gap_ms": 80.0,
                  "min_cycle_ms": 100.0}  # fmt: skip


def test_box_pushes_that_overlap_are_a_cycle_alarm_even_without_a_cycle_time() -> None:
    """Two defects 12.5 mm apart: 25 ms apart, inside the first 30 ms pulse (the timer would
    merge them into one 55 ms push)."""
    sched, _, timer, _ = defect_with_neighbour(87.5, "defect")
    assert sched.counters.cycle_short == 1
    assert sorted(timer.fired) == [1, 2]


def test_box_pushes_a_cycle_apart_are_quiet() -> None:
    sched, _, _, _ = defect_with_neighbour(50.0, "defect", min_cycle_ms=100.0)  # 100 ms apart
    assert sched.counters.cycle_short == 0


# -- PLC mode -------------------------------------------------------------------------------


def plc_sched(margin_ms: float = 0.0, **ej: Any) -> tuple[RejectScheduler, SimBelt]:
    sim = SimBelt(speed_mm_s=500.0)
    cfg = encoder_cfg(timing_mode="plc", ejectors=ejector(**ej))
    sched = RejectScheduler(cfg, transport_margin_ms=margin_ms)
    for t in range(0, 100 * MS, 10 * MS):
        sched.update(t, sim.count_at(t))
    return sched, sim


def test_plc_the_verdict_is_worth_writing_until_the_item_leaves_the_reach() -> None:
    """The PLC fires at count 9400 (arrival 9500 less the 20 ms lead), reached at 1880 ms; 10 mm
    of reach adds 20 ms, a 10 ms margin takes 10."""
    sched, sim = plc_sched(margin_ms=10.0, reach_mm=10.0)
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    verdict = PlcVerdict("ej1", 9500, 1, 1890 * MS, lead_ms=20.0)
    assert sched.update(100 * MS, sim.count()).verdicts == (verdict,)


def test_plc_without_reach_the_deadline_is_the_fire_count_as_before() -> None:
    sched, sim = plc_sched(margin_ms=10.0)
    sched.observe(
        100 * MS, 100 * MS, frame([(100, 240, "defect")]), 640, 480, sim.count_at(100 * MS)
    )
    verdict = PlcVerdict("ej1", 9500, 1, 1880 * MS, lead_ms=20.0)
    assert sched.update(100 * MS, sim.count()).verdicts == (verdict,)


def late_plc(margin_ms: float, **ej: Any) -> Actions:
    """Seen at 100 ms (travel 50 mm) at 995 mm: its fire point (travel 45 mm, 20 ms actuator
    lead) passed 5 mm ago."""
    sched, sim = plc_sched(margin_ms=margin_ms, **ej)
    sched.observe(
        100 * MS, 100 * MS, frame([(995, 240, "defect")]), 2000, 480, sim.count_at(100 * MS)
    )
    return sched.update(100 * MS, sim.count())


def test_plc_a_fire_point_passed_within_reach_still_gets_its_verdict() -> None:
    acts = late_plc(0.0, reach_mm=10.0)
    assert acts.verdicts == (PlcVerdict("ej1", 550, 1, 110 * MS, lead_ms=20.0),)
    assert acts.missed == ()


def test_plc_a_fire_point_passed_is_missed_without_reach() -> None:
    assert late_plc(0.0).missed == (MissedReject(1, "ej1", "late", 10.0),)


def test_plc_the_transport_margin_can_put_the_item_beyond_reach() -> None:
    """With 20 ms to reach the PLC the item is 15 mm past its fire point: 5 mm (10 ms) beyond
    the 10 mm reach."""
    acts = late_plc(20.0, reach_mm=10.0)
    assert acts.missed == (MissedReject(1, "ej1", "late", 10.0),)
    assert acts.verdicts == ()


def test_plc_verdicts_closer_than_the_cycle_raise_an_alarm_and_both_go_out() -> None:
    sched, sim = plc_sched(min_cycle_ms=100.0)
    dets = frame([(100, 240, "defect"), (60, 240, "defect")], size_px=10)
    sched.observe(100 * MS, 100 * MS, dets, 640, 480, sim.count_at(100 * MS))
    acts = sched.update(100 * MS, sim.count())
    assert len(acts.verdicts) == 2
    assert acts.alarms == (Alarm("ejector_cycle_short", 2),)
    assert sched.counters.cycle_short == 1


# -- the runtime ----------------------------------------------------------------------------


def test_a_push_conflict_latches_the_alarm_but_never_stops_the_belt() -> None:
    """missed_action stop_belt is about missed rejects; a conflict still pushes the defect."""
    link = FakePlcLink()
    cfg = encoder_cfg(timing_mode="plc", ejectors=ejector(min_cycle_ms=100.0),
                      missed_action="stop_belt")  # fmt: skip
    rt = RejectRuntime(cfg, {"ej1": 1}, structlog.get_logger())
    rt.start(lambda _i, _on: True, link.write_verdicts, InlineVerdicts)
    rt.feed(PlcInputs(False, encoder=0, t_read_ns=0, t_encoder_ns=0))
    rt.feed(PlcInputs(False, encoder=50, t_read_ns=10 * MS, t_encoder_ns=10 * MS))
    dets = frame([(100, 240, "defect"), (60, 240, "defect")], size_px=10)
    rt.observe(10 * MS, Frame(IMAGE, 0, 10 * MS), dets)
    status = rt.step(10 * MS, 0, False)
    assert len(link.verdicts) == 2
    assert rt.counters["cycle_short"] == 1
    assert (status.alarm, status.fault) == (True, None)


def test_plc_a_good_neighbour_seen_after_the_verdict_went_out_still_raises_the_alarm() -> None:
    """PLC mode sends the verdict as soon as the defect is seen, before the item behind it has
    entered the view: the blast check goes on until the push, and alarms once."""
    sched, sim = plc_sched(reach_mm=10.0)
    seen = sim.count_at(100 * MS)
    sched.observe(100 * MS, 100 * MS, frame([(100, 240, "defect")], size_px=10), 640, 480, seen)
    first = sched.update(100 * MS, sim.count())
    assert (len(first.verdicts), first.alarms) == (1, ())
    # 20 mm behind the defect on the belt: at 140 ms the belt has run 70 mm, so it shows at 100
    later = frame([(100 + 20, 240, "defect"), (100, 240, "item")], size_px=10)
    sched.observe(140 * MS, 140 * MS, later, 640, 480, sim.count_at(140 * MS))
    acts = [sched.update(t, sim.count_at(t)) for t in range(140 * MS, 400 * MS, 10 * MS)]
    assert [a for x in acts for a in x.alarms] == [Alarm("reject_hits_neighbour", 1)]
    assert sched.counters.neighbour_hits == 1
