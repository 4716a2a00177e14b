"""Review hole: with the permit ON, a camera whose frames stop arriving keeps the permit ON on
its last (stale) verdict until `stall_ms`, not the budget.

DESIGN.md: "Stale is never clear. A verdict older than the budget never counts as 'clear': not
for the permit, not for the clear-hold timer, not for accepting a reset." The fix for issue 11
item 4 covers the timer and the reset: `_fresh_hits` turns a verdict older than the budget into
`None` ("no verdict"), but the guard only trips on an occupied zone or a fault, so "no verdict"
holds a RUNNING permit ON. The only bound left is `stall_ms` (up to 60 000 ms in a valid
deployment), while the ISO 13855 T that places the zone assumes 2 nominal frame periods.

Real threads: two camera loops against the PLC simulator over TCP. Camera a's stream pauses (its
grabber blocks; the capture thread stays alive, as with a network hiccup). budget_ms 100,
stall_ms 5000. The assertion is on state and order, never on time: once a cycle of camera a has
been written with its verdict older than the budget (and well before stall_ms), the permit at the
PLC must be OFF.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.review.cells import GatedGrabber, ReviewCell, press_until_permit
from tests.waiting import wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[ReviewCell]:
    c = ReviewCell(tmp_path, camera={"budget_ms": 100, "stall_ms": 5000})
    cam_a = next(x for x in c.cameras if x.id == "a")
    c.gated = GatedGrabber(cam_a.source.grabber)  # type: ignore[attr-defined]
    cam_a.source.grabber = c.gated
    with c:
        try:
            yield c
        finally:
            c.gated.gate.set()  # type: ignore[attr-defined]


def _press_until_permit(cell: ReviewCell) -> None:
    assert press_until_permit(cell), "permit never reached the PLC"


def test_a_verdict_older_than_the_budget_does_not_hold_the_permit(cell: ReviewCell) -> None:
    _press_until_permit(cell)
    cam = next(x for x in cell.cameras if x.id == "a")
    cell.gated.gate.clear()  # type: ignore[attr-defined]  # a's stream pauses
    assert cell.gated.waiting.wait(5)  # type: ignore[attr-defined]

    def stale_cycle_written() -> bool:
        # a cycle of camera a finished (its write done) with its verdict older than 3 budgets
        return cam.last_cycle_ns - cam.last_verdict_ns > 3 * cam.budget_ns

    assert wait_for(stale_cycle_written, 5)
    cycles = cam.last_cycle_ns
    assert wait_for(lambda: cam.last_cycle_ns > cycles, 5)  # one more written cycle
    age_ms = (cam.last_cycle_ns - cam.last_verdict_ns) / 1e6
    assert age_ms < cam.stall_ns / 1e6 / 2, "too slow a machine to show it: not the hole"
    assert cam.last_output is not None
    assert not cell.permit_at_plc(), (
        f"permit ON at the PLC while camera a's newest verdict is {age_ms:.0f} ms old "
        f"(budget {cam.budget_ns / 1e6:.0f} ms); guard state {cam.last_output.state}, "
        f"no fault (camera_stalled comes only at stall_ms {cam.stall_ns / 1e6:.0f})"
    )
