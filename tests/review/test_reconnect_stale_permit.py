"""Review hole: after a PLC link loss and heal, a camera cycle that decided *before* the loss
writes permit ON again, with no reset press.

The link's fix for issue 11 item 12 writes the tripped image (permit OFF, fault code 8) on
reconnect, and the README promises "the loop's next cycle sends its own image, its guard tripped
on plc_lost". But a cycle reads `link.healthy`/`link.losses` once, at its start
(`_health_faults`), then runs the detector and decides. If the link is lost and healed while the
cycle is in the detector (tens of ms with a real model; the heal takes the first backoff plus a
heartbeat tick), its permit-ON decision is written on the healed link: the PLC sees permit ON,
the tripped image (OFF, code 8), then permit ON again (code 0) without any reset press.

Real threads: two camera loops, the input poller, the supervisor, the heartbeat thread, the
PlcLink over loopback TCP to the real PLC simulator; the loss is the simulator closing every
client connection. Each detector is told to block once (a slow inference).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.review.cells import ReviewCell, press_until_permit
from tests.waiting import wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[ReviewCell]:
    c = ReviewCell(
        tmp_path,
        camera={"budget_ms": 1000, "stall_ms": 2000},
        heartbeat_period_ms=10,
        reconnect_backoff_ms=[10, 50],
    )
    with c:
        yield c


def test_no_permit_on_after_reconnect_without_a_reset(cell: ReviewCell) -> None:
    assert press_until_permit(cell), "permit never reached the PLC"
    # Both cameras are mid-cycle: health already judged (link healthy), detector running.
    for d in cell.det.values():
        d.hang.set()
    assert all(d.hanging.wait(5) for d in cell.det.values())
    losses = cell.link.losses
    mark = len(cell.writes())  # (link.start's own tripped image is earlier: not this one)
    cell.sim.drop_connections()  # the PLC's network hiccup
    assert wait_for(lambda: cell.link.losses > losses and cell.link.healthy, 5), "never healed"
    log = cell.writes()
    tripped = [i for i, e in enumerate(log) if i >= mark and e["signals"].get("fault_code") == 8]
    assert tripped, "the reconnect did not write the tripped image"
    first_trip = tripped[0]
    assert any(e["signals"].get("permit") == 0 for e in log[: first_trip + 1])
    presses_before = cell.ctl.resets.presses
    # The slow inferences finish: each cycle decides on what it judged before the loss.
    for d in cell.det.values():
        d.hang.clear()
        d.release.set()
    # Let both cameras run a few more cycles (their guards then see the loss).
    calls = {k: d.calls for k, d in cell.det.items()}
    assert wait_for(lambda: all(d.calls > calls[k] + 3 for k, d in cell.det.items()), 5)
    assert cell.ctl.resets.presses == presses_before, "nobody pressed reset"
    after = cell.writes()[first_trip + 1 :]
    rises = [e for e in after if e["signals"].get("permit") == 1]
    codes = [e["signals"]["fault_code"] for e in after if "fault_code" in e["signals"]]
    assert not rises, (
        f"permit written ON {len(rises)} time(s) after the reconnect's tripped image, with no "
        f"reset press (fault codes written after it: {codes})"
    )
