"""Review 3 hole: after a PLC link loss and heal, an ejector write sends permit ON again with no
reset press (the residue of review 1's 'decided before the loss' hole).

PlcLink.write sends an image tripped when it was decided before a loss: `losses_seen`, which
Controller._write passes as `_losses_seen()` = min(cam.plc_losses_seen). But a camera updates
`plc_losses_seen` at the *start* of its cycle (_health_faults, controller.py:601-604), while its
guard output in the OutputImage is still the previous cycle's (permit ON) until
`outputs.update` at the end of the cycle (controller.py:572). Any write composed by another
thread in between (the ejector timer's `_set_ejector`, controller.py:376-380) claims the new
loss count for that stale ON and goes out untripped, after the reconnect's tripped image.

Real threads and link over TCP; the camera's detector stands for a slow inference (it blocks
once, in the very cycle whose _health_faults saw the loss); the test thread calls
`Controller._set_ejector` exactly as the ejector timer of a conveyor camera does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plantvision.loop.camera import CameraRuntime
from tests.review3.cell import OneCell, wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(tmp_path, budget_ms=1000, stall_ms=2000)  # a slow model, a generous budget
    with c:
        yield c


def test_no_permit_on_after_the_reconnect_without_a_reset(cell: OneCell) -> None:
    cell.press_until_permit()
    losses = cell.link.losses

    # Block in detect in the cycle whose _health_faults just noticed the loss.
    def noticed(cam: CameraRuntime) -> bool:
        return cam.plc_losses_seen > losses

    cell.detector.block_if = noticed
    mark = len(cell.sim.write_log)
    cell.sim.drop_connections()
    assert cell.detector.blocked.wait(3), "the loss was noticed on a cycle without a frame: rerun"
    assert wait_for(lambda: cell.link.healthy, 3), "never healed"
    log = list(cell.sim.write_log)[mark:]
    assert any(e["signals"].get("fault_code") == 8 for e in log)  # the reconnect's tripped image
    presses = cell.ctl.resets.presses
    cell.ctl._set_ejector(0, True)  # an ejector pulse, as RejectRuntime's timer writes it
    cell.ctl._set_ejector(0, False)
    after = list(cell.sim.write_log)[mark:]
    rises = [e for e in after if e["signals"].get("permit") == 1]
    cell.detector.release.set()
    assert cell.ctl.resets.presses == presses, "nobody pressed reset"
    assert not rises, (
        f"permit written ON {len(rises)} time(s) after the reconnect's tripped image, no reset: "
        f"{[e['signals'] for e in rises]}"
    )
