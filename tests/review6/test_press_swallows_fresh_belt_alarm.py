"""Review 6 hole: a reset press in the cycle whose frame raises `belt_unplaced` (or an encoder
discontinuity) acknowledges that brand-new stop before the guard ever sees it: the permit stays
ON, the warning light never lights, and (belt_unplaced being once per spell) the belt runs on
unplaced with defects passing.

Controller._reject_step promises "a press acknowledges only what was latched before this cycle:
an alarm raised in this very cycle trips and stays", and tells a fresh alarm by comparing the
reject counters before and after `reject.step`. But `belt_unplaced` (and `discontinuities`, via
`_check_jump`) are counted in `RejectScheduler.observe`, which runs in `_evaluate`, earlier in the
same cycle, before `before` is taken: the alarm looks old (`fresh` False), its stop cause is set
aside for the guard, `acknowledged` is True, and `reject.acknowledge()` clears it once the guard's
output permits. A press while running ("reset_ignored: not_tripped", harmless by design) is
enough: the guard output permits, so the swallow needs no restart at all.

Sequence (real Controller, build_cameras, RejectRuntime, Guard, OutputImage; FakePlcLink;
missed_action stop_belt; every encoder reading blurred 8 ms from 100 ms on):
1. running; frames with items and defects; the belt unplaced from ~360 ms;
2. a dry run finds the cycle whose frame raises belt_unplaced (permit OFF, code 23, control);
3. the same run with the operator's reset press (released) in that very cycle;
4. that cycle and the next 2 s: permit ON, warning OFF, belt_unplaced counted once.
Consequence: the stop that `missed_action: stop_belt` asks for never happens, and no alarm is
shown: defects pass the ejector unjudged (hole classes 1 and 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame
from tests.reject.test_reject_runtime import belt_loop, conveyor_section, deployment


def _run(tmp_path: Path, press_at: int | None) -> tuple[int | None, list[Any], dict[str, int]]:
    """Cycles every 10 ms to 2.7 s; returns the first cycle (ms) that dropped the permit, the
    outputs from `press_at` on, and the reject counters."""
    tmp_path.mkdir()
    ctl, cam, det, now = belt_loop(deployment(tmp_path, conveyor_section()))
    rng = np.random.default_rng(0)

    def cycle(t_ms: int, press: bool = False) -> Any:
        now[0] = t_ms * MS
        back = now[0] + (8 * MS if t_ms > 100 else 0)
        ctl.latest_inputs = PlcInputs(
            False, encoder=t_ms * 5, t_read_ns=back, t_encoder_ns=now[0], t_encoder_back_ns=back
        )
        if press and t_ms == 10:
            ctl.resets.press(now[0])  # the start
        elif press:
            ctl.resets.press(now[0] - 400 * MS, now[0] - 1 * MS)  # a 400 ms press, released
        items = [(200.0, 240.0, "item"), (200.0, 240.0, "defect")] if t_ms > 100 else []
        det.next = frame(items)
        image = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
        return ctl.cycle(cam, Frame(image, t_ms, now[0]))

    cycle(0)
    assert cycle(10, press=True).permit
    first_off, after = None, []
    for t in range(20, 2700, 10):
        out = cycle(t, press=t == press_at)
        if press_at is not None and t >= press_at:
            after.append(out)
        if first_off is None and not out.permit:
            first_off = t
    assert cam.reject is not None
    return first_off, after, cam.reject.counters


def test_a_press_does_not_acknowledge_an_alarm_raised_in_its_own_cycle(tmp_path: Path) -> None:
    t_fault, _, counters = _run(tmp_path / "dry", None)
    assert t_fault is not None  # control: it stops the belt
    assert counters["belt_unplaced"] == 1
    _, after, counters = _run(tmp_path / "press", t_fault)
    out = after[0]
    on = sum(o.permit for o in after)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["belt_unplaced"]), (
        f"a reset press (released before the frame) in the cycle that raised belt_unplaced "
        f"acknowledged it at once: permit {out.permit}, warning {out.warning}, fault_code "
        f"{out.fault_code}; permit ON in {on} of the {len(after)} cycles since (belt still "
        f"unplaced, defects in every frame): {counters}"
    )


def _run_jump(tmp_path: Path, press: bool) -> tuple[Any, dict[str, int]]:
    """Sharp readings every 10 ms at 500 mm/s; at 500 ms the count jumps 10 m ahead (a PLC
    preset or restart of the counter); `press`: a released reset press lands in that cycle."""
    tmp_path.mkdir()
    ctl, cam, det, now = belt_loop(deployment(tmp_path, conveyor_section()))
    rng = np.random.default_rng(0)
    out = None
    for t in range(0, 520, 10):
        now[0] = t * MS
        count = t * 5 + (100_000 if t >= 500 else 0)
        ctl.latest_inputs = PlcInputs(False, encoder=count, t_read_ns=now[0], t_encoder_ns=now[0])
        if t == 10:
            ctl.resets.press(now[0])
        elif t == 500 and press:
            ctl.resets.press(now[0] - 400 * MS, now[0] - 1 * MS)
        det.next = frame([])
        image = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
        o = ctl.cycle(cam, Frame(image, t, now[0]))
        if t == 500:
            out = o
    assert cam.reject is not None
    return out, cam.reject.counters


def test_a_press_does_not_acknowledge_an_encoder_discontinuity_of_its_own_cycle(
    tmp_path: Path,
) -> None:
    out, counters = _run_jump(tmp_path / "dry", press=False)
    assert counters["discontinuities"] == 1
    assert out is not None
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["encoder_discontinuity"])
    out, counters = _run_jump(tmp_path / "press", press=True)
    assert out is not None
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["encoder_discontinuity"]), (
        f"a reset press in the cycle of an encoder jump acknowledged the discontinuity (an "
        f"ALWAYS_STOP alarm) before the guard saw it: {out}; {counters}"
    )
