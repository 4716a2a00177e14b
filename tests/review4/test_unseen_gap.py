"""Review 4 holes in the `unseen` gap (controller.py `_write`, edm.py `wrote`).

`unseen` is set for any write that starts more than the smallest stall bound after the previous
one. A camera whose detect hangs once (a slow inference) produces exactly that gap in normal
operation whenever its expiry equals its stall bound: expiry = min(stall, budget + read wait), so
budget_ms 400 with the default stall_ms 500 gives expiry 500 = stall, and the supervisor's first
write for the expired camera starts > 500 ms after the camera's last write.

1. The box's permit was OFF all along (nothing to check), yet the OFF after the gap arms EDM
   (`permit or not (was_on or after_loss)`, edm.py:126-129): a PLC whose latch a quick reset tap
   cleared (the box refused the tap as too_short) is then a `no_latch` lockout, when the map has no
   standstill input (optional per README). The maintenance key is refused too (PLC unlatched).
2. With a standstill input, the OFF after the gap is judged `after_loss`: standstill is taken as
   the latch (edm.py:171). A PLC deaf to the permit, its machine ready but not yet started, passes
   the check; the operator's start then runs the machine with the box's permit OFF. The same OFF
   without the hiccup is a `no_latch` lockout (control test).

Real threads, real PlcLink over TCP, the real simulator.
"""

from __future__ import annotations

import time
from pathlib import Path

from plantvision.loop.edm import stop_bounds
from plantvision.plc.config import DEFAULT_SIGNAL_MAP
from tests.loop.rig import INSIDE, OUTSIDE
from tests.review3.cell import OneCell, wait_for

# Legal, plausible: the budget raised for a slower model, stall left at its default.
TIMING = {"budget_ms": 400, "stall_ms": 500}


def _hiccup(cell: OneCell, seconds: float = 0.8) -> None:
    """One slow inference: detect blocks once for `seconds`."""
    det = cell.detector
    det.blocked.clear()
    det.release.clear()
    det.block_if = lambda cam: True
    assert det.blocked.wait(3), "detect never blocked"
    time.sleep(seconds)
    det.release.set()


def test_an_idle_box_is_locked_out_by_one_slow_inference(tmp_path: Path) -> None:
    signals = DEFAULT_SIGNAL_MAP.model_copy(update={"machine_stopped": None})
    cell = OneCell(tmp_path, signals=signals, stop_check=stop_bounds(50, 10), **TIMING)
    with cell:
        edm = cell.ctl.edm
        assert edm is not None
        assert wait_for(cell.ready, 5)  # tripped (start interlock), PLC latched (power-up)
        assert cell.sim.machine.latched
        # A quick tap: the PLC takes it (machine at rest), the box refuses it (too_short).
        cell.sim.press_reset(duration_ms=100)
        assert wait_for(lambda: not cell.sim.machine.latched, 1)
        time.sleep(0.3)
        assert not cell.sim.permit_seen
        assert edm.fault is None
        _hiccup(cell)  # the permit stays OFF throughout: no stop is commanded
        time.sleep(0.5)
        assert edm.fault is None, (
            f"EDM locked out ({edm.fault}) although the permit was OFF before and after the gap"
        )


def _deaf_at_standstill(tmp_path: Path, hiccup: bool) -> tuple[str | None, bool]:
    cell = OneCell(tmp_path, sim={"watchdog_ms": 3000}, stop_check=stop_bounds(50, 10), **TIMING)
    with cell:
        edm = cell.ctl.edm
        assert edm is not None
        cell.press_until_permit()
        assert wait_for(lambda: cell.sim.ready, 2)  # ready, not started
        cell.sim.set_ignore_permit(True)  # the PLC program no longer acts on the permit
        if hiccup:
            _hiccup(cell)  # the box's OFF comes from the expired camera, after the gap
        else:
            cell.detector.boxes = [INSIDE]  # the box's OFF comes from a zone trip
        assert wait_for(lambda: not cell.sim.permit_seen, 3)
        time.sleep(0.5)  # >> latch bound (20 ms) + polls
        cell.detector.boxes = [OUTSIDE]
        started = cell.sim.press_start()
        return edm.fault, started and not cell.sim.permit_seen


def test_control_a_deaf_plc_at_standstill_is_caught(tmp_path: Path) -> None:
    fault, _ = _deaf_at_standstill(tmp_path, hiccup=False)
    assert fault == "no_latch"


def test_a_deaf_plc_at_standstill_passes_after_one_slow_inference(tmp_path: Path) -> None:
    fault, runs_without_permit = _deaf_at_standstill(tmp_path, hiccup=True)
    assert fault is not None, (
        f"PLC never latched on the OFF, EDM passed it; machine started with the box's permit "
        f"OFF: {runs_without_permit}"
    )
