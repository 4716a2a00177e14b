"""Review 5 hole: the clear-hold timer runs on across a gap in which the camera delivered no
verdict at all (its thread starved or stuck between two cycles), so a reset released right after
the gap is accepted on one or two fresh verdicts instead of `clear_hold_ms` of them.

Guard._observe (guard/latch.py) restarts the clear-hold timer only when a step gets `hits=None`;
a stretch with no step at all leaves `_clear_since_ns` where it was. Controller.cycle turns the gap
into one-cycle faults (`loop_stalled`, `decision_expired`), which refuse a press only in that
cycle and do not touch the timer either. The guard's own contract is "every stop zone has been
clear, *with a verdict every cycle*, for clear_hold_ms", and DESIGN.md's "stale is never clear:
not ... for the clear-hold timer"; after a 3 s blind gap the timer already reads 3.8 s of
"clear".

Sequence (real Controller, Guard and OutputImage on the rig's injected clock; clear_hold 500 ms,
stall 500 ms):
1. running, trip on a person in the stop zone, zone seen clear for 825 ms (ready to reset);
2. the camera thread makes no cycle for 3 s (CPU starvation of many cameras on few cores, which
   the thread-count change measured; a write lock held by a slow PLC write); a person may have
   walked in meanwhile, nobody can tell;
3. the first cycle after the gap sees the zone clear and trips on loop_stalled (refusal
   window of one cycle);
4. the operator, whose press began during the gap, releases it 33 ms later: reset accepted on
   66 ms of verdicts.
Consequence: the debounce of the release ("trip fast, release slow": a person flickering in and
out of detection must stay undetected for clear_hold_ms) is skipped after every blind gap; the
permit rises after 2 verdicts.
"""

from __future__ import annotations

from pathlib import Path

from tests.loop.rig import INSIDE, OUTSIDE, Rig


def test_clear_hold_restarts_after_a_gap_without_verdicts(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # clear_hold 500 ms, stall 500 ms, budget 200 ms
    rig.start_running()
    assert not rig.step([INSIDE])
    for _ in range(25):
        assert not rig.step([OUTSIDE])
    assert rig.cam.last_output is not None
    assert rig.cam.last_output.state == "ready_to_reset"
    # 3 s without a camera cycle, then the first cycle on a fresh frame (zone clear).
    assert not rig.step([OUTSIDE], dt_ms=3000)
    t_gap_end = rig.clock.ns
    # A 400 ms press, begun during the gap, released now.
    rig.clock.advance_ms(33)
    rig.ctl.resets.press(t_gap_end - 367_000_000, rig.clock.ns)
    permit = rig.ctl.cycle(rig.cam, rig.frame()).permit
    since_gap_ms = (rig.clock.ns - t_gap_end) / 1e6
    assert not permit, (
        f"reset accepted {since_gap_ms:.0f} ms after a 3000 ms gap without any verdict "
        "(clear_hold_ms is 500): the clear hold counted the blind gap as clear"
    )
