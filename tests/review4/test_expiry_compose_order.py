"""Review 4 hole: the permit rises again without a reset after another writer dropped it for an
expired camera.

Controller.cycle composes its image with `t_decide_ns` (controller.py:481, 509:
`self.outputs.update(cam.id, out, t_decide_ns, alarm)`), read before it
waits for the write lock. If another writer (the
supervisor, the other camera; the ejector timer was one until its coils got their own
connection) takes the lock in between, at an instant when
this camera's last decision is past its expiry, that writer sends permit OFF (decision expired);
the cycle then composes at the older instant, finds its own camera fresh again, and sends permit
ON: OFF -> ON at the PLC with no reset press. The PLC's restart rule normally spends that rise,
but the box's own promise ("never rises without a deliberate reset") is broken at the wire, and
a PLC that filters a one-scan OFF pulse never stops at all.

Pure: the real Controller and OutputImage on the test rig's injected clock and fake link; the
interleaving (another writer between the decision and the lock) is forced by wrapping the guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.loop.rig import OUTSIDE, Rig


def test_no_off_on_without_a_reset(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # budget 200, stall 500: expiry min(500, 200 + 50) = 250 ms
    rig.start_running()
    real_step = rig.cam.guard.step
    fired = []

    def step_then_other_writer(*a: Any, **kw: Any) -> Any:
        out = real_step(*a, **kw)
        if not fired:
            fired.append(True)
            rig.clock.advance_ms(20)  # another writer wins the write lock 20 ms later
            with rig.ctl._write_lock:  # (the supervisor's write, with no fault to report)
                rig.ctl._write(rig.ctl.outputs.set_fault(None, rig.ctl.clock_ns()))
        return out

    rig.cam.guard.step = step_then_other_writer  # type: ignore[method-assign]
    n = len(rig.link.writes)
    rig.step([OUTSIDE], dt_ms=240)  # a slow cycle: decided 240 ms after the last (< 250)
    permits = [w.permit for w in rig.link.writes[n:]]
    assert permits != [False, True], f"permit OFF then ON again without a reset: {permits}"
