"""An encoder count that jumps (a PLC restart, a preset) is a fault, never belt motion."""

from __future__ import annotations

import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.conveyor import Actions, Belt, RejectScheduler
from plantvision.conveyor.config import BeltModel
from plantvision.conveyor.runtime import RejectRuntime
from plantvision.conveyor.verdicts import InlineVerdicts
from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.values import PlcInputs
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, FakeTimer, SimBelt, encoder_cfg, frame

CYCLE_NS = 10 * MS


def _belt(max_speed_mm_s: float = 3000.0) -> Belt:
    enc = {"signal": "enc", "counts_per_mm": 10.0, "speed_window_ms": 30}
    return Belt(BeltModel.model_validate({"encoder": enc, "max_speed_mm_s": max_speed_mm_s}))


def test_a_jump_back_to_zero_is_a_discontinuity_not_498_m_of_travel() -> None:
    """5,000,000 -> 0 (a PLC restart) at 500 mm/s: the belt is re-anchored where it was, one
    discontinuity is counted, and counts after the jump map to the same positions."""
    belt = _belt()
    for k in range(10):
        belt.sample(k * CYCLE_NS, 5_000_000 + 50 * k)  # 500 mm/s
    before_mm = belt.position_mm(9 * CYCLE_NS)
    belt.sample(10 * CYCLE_NS, 0)
    assert belt.discontinuities == 1
    assert belt.position_mm(10 * CYCLE_NS) == pytest.approx(before_mm)
    belt.sample(11 * CYCLE_NS, 50)
    assert belt.position_mm(11 * CYCLE_NS) == pytest.approx(before_mm + 5.0)
    assert belt.count_at_mm(before_mm + 5.0) == 50


@pytest.mark.parametrize(
    ("step_counts", "jump"),
    [
        (50, False),  # 5 mm in 10 ms: 500 mm/s
        (300, False),  # 30 mm in 10 ms: the 3 m/s maximum
        (1000, True),  # 100 mm in 10 ms: 10 m/s, past the maximum
        (-30, False),  # a 3 mm roll back: inside the tolerance
        (-200, True),  # 20 mm backwards
    ],
)
def test_only_changes_the_belt_cannot_make_are_jumps(step_counts: int, jump: bool) -> None:
    """Forward changes up to max_speed_mm_s and small roll-backs are motion; more is a jump."""
    belt = _belt()
    belt.sample(0, 1_000_000)
    belt.sample(CYCLE_NS, 1_000_000 + step_counts)
    assert belt.discontinuities == (1 if jump else 0)


def _run(sched: RejectScheduler, timer: FakeTimer, sim: SimBelt, t0: int, t1: int) -> list[Actions]:
    out = []
    for t in range(t0, t1, CYCLE_NS):
        timer.run_until(t)
        acts = sched.update(t, sim.count_at(t))
        timer.apply(acts)
        out.append(acts)
    return out


@pytest.mark.parametrize("mode", ["box", "plc"])
def test_rejects_in_flight_are_missed_and_never_fire_after_a_jump(mode: str) -> None:
    """A defect on its way to the ejector when the count jumps from 5,000,000 to 0: it is a
    missed reject (reason encoder_discontinuity), the fault latches the belt stop, and no
    plan or verdict for it ever follows (it fired ~500 m later on another item)."""
    sim = SimBelt(speed_mm_s=500.0, raw0=5_000_000)
    sched = RejectScheduler(encoder_cfg(timing_mode=mode))
    timer = FakeTimer(sched)
    _run(sched, timer, sim, 0, 100 * MS)
    sched.observe(100 * MS, 100 * MS, frame([(100, 240, "defect")]), FRAME_W, FRAME_H, None)
    early = _run(sched, timer, sim, 110 * MS, 300 * MS)
    assert sum(len(a.verdicts) for a in early) == (1 if mode == "plc" else 0)
    sim.raw0 = -round(sim.travel_mm * sim.counts_per_mm)  # the count restarts at 0 now
    with capture_logs() as logs:
        after = _run(sched, timer, sim, 300 * MS, 3000 * MS)
    missed = [(m.item_id, m.reason) for a in after for m in a.missed]
    assert missed == [(1, "encoder_discontinuity")]
    assert "encoder_discontinuity" in [al.kind for a in after for al in a.alarms]
    assert after[-1].stop_belt is True
    assert [p for a in after for p in a.plans] == []
    assert [v for a in after for v in a.verdicts] == []
    assert timer.fired == {}
    assert sched.counters.discontinuities == 1
    assert next(e["event"] for e in logs if e["log_level"] == "error") == "encoder_discontinuity"


def test_the_runtime_stops_the_belt_with_fault_encoder_discontinuity() -> None:
    """Fed a reading that jumped back to 0, the reject runtime returns the fault cause
    encoder_discontinuity (fault code 19 through the guard), even with missed_action alarm;
    the reset press that the guard accepts clears it."""

    def at(t_ns: int, count: int) -> PlcInputs:
        return PlcInputs(False, encoder=count, t_read_ns=t_ns, t_encoder_ns=t_ns)

    rt = RejectRuntime(encoder_cfg(timing_mode="plc"), {"ej1": 0}, structlog.get_logger())
    rt.start(lambda _i, _on: True, lambda _v: True, InlineVerdicts)
    for k in range(5):
        rt.feed(at(k * CYCLE_NS, 5_000_000 + 50 * k))
    assert rt.step(5 * CYCLE_NS, 0, False).fault is None
    rt.feed(at(6 * CYCLE_NS, 3))
    status = rt.step(6 * CYCLE_NS, 0, False)
    assert (status.fault, status.alarm) == ("encoder_discontinuity", True)
    assert FAULT_CODES["encoder_discontinuity"] == 19
    assert rt.step(7 * CYCLE_NS, 0, True).fault is None
