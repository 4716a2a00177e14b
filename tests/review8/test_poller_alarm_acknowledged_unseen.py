"""A fault the input poller's re-time pass raises between two camera cycles is acknowledged by a
reset press taken in the next cycle, without ever dropping the permit.

`Controller.cycle` snapshots the reject counters at the start of a cycle and lets a press
acknowledge everything counted before it: "an alarm raised in this very cycle trips and stays".
Since the poller re-times box-timed plans (`RejectRuntime.retime`, under the runtime's lock),
the scheduler also counts between cycles: an encoder jump (`encoder_discontinuity`, always a
belt stop) or a missed reject found while re-timing. Counted before the snapshot but told
(alarm, stop cause) only in this cycle's `step`, it is "old" to the press: the guard accepts the
press, the stop latch is cleared in the same cycle, and the permit comes on over a fault nobody
was shown. The poller reads the reset input too, so a press completed in the very poll that
brings the jump (a PLC back from a restart, its count reset) lands exactly there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame
from tests.reject.test_reject_runtime import (
    IMAGE,
    belt_loop,
    conveyor_section,
    deployment,
    encoder_at,
)

JUMP = 5_000_000  # the count after the PLC preset it (or restarted at another count)


@pytest.mark.parametrize("through_poller", [False, True])
def test_a_press_never_acknowledges_an_encoder_jump_it_was_not_shown(
    tmp_path: Path, through_poller: bool
) -> None:
    """Box-timed, 500 mm/s. The box starts tripped; the jump comes in the reading that also
    completes the operator's first press. Through the camera's own feed (False, as before the
    poller re-timed) the press is refused: permit off, fault encoder_discontinuity. Through the
    poller's re-time pass (True) the same reading must do the same."""
    section = conveyor_section(timing_mode="box")
    ctl, cam, det, now = belt_loop(deployment(tmp_path, section))
    assert cam.reject is not None
    cam.reject.start(ctl._set_ejector, ctl.link.write_verdicts)  # as Controller.start does
    try:
        _press_after_jump(ctl, cam, det, now, through_poller)
    finally:
        cam.reject.close()


def _press_after_jump(ctl: Any, cam: Any, det: Any, now: list[int], through_poller: bool) -> None:

    def cycle(t_ms: int, count: int, press: bool = False) -> Any:
        now[0] = t_ms * MS
        ctl.latest_inputs = encoder_at(now[0], count)
        if press:
            ctl.resets.press(now[0])
        det.next = frame([])
        return ctl.cycle(cam, Frame(IMAGE, t_ms, now[0]))

    for t_ms in range(0, 50, 10):
        assert not cycle(t_ms, t_ms * 5).permit  # power-up: tripped, no press yet
    if through_poller:  # the poll at 55 ms: the jumped count, then the re-time pass
        now[0] = 55 * MS
        cam.reject.offer(encoder_at(now[0], JUMP))
        ctl._retime_plans()
        assert cam.reject.counters["discontinuities"] == 1  # counted between the cycles
    out = cycle(60, JUMP + 25, press=True)
    assert cam.reject.counters["discontinuities"] == 1
    assert not out.permit  # the press is refused: the jump is news to it
    out = cycle(70, JUMP + 50)
    assert (out.permit, out.warning) == (False, True)
    back = cycle(80, JUMP + 75, press=True)  # a press after the jump was shown clears it
    assert back.permit
