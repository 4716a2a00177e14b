"""`plantvision capture-latency` measures what it says, in a real cell: the PLC simulator over
loopback TCP (its encoder read by the command's read-only probe, the permit held by the box's own
link, as the running service holds it on site), the scene camera rendering the belt `capture_ms`
before each frame's stamp (the rig's simulated capture latency: BeltSceneGrabber stamps the
frame at the instant it reads the belt, so that is the true latency to the millisecond), and the
project's ONNX cell detector boxing the items (tests.reject.latency_cell). The belt stands, the
command says so, the test starts it (a step to 500 mm/s, as an integrator's start button does),
and the figure it gives must be the injected latency.

Tolerance, 5 ms (2.5 mm of belt at 500 mm/s): each encoder reading is stamped at the middle of
its round trip, so up to half of it off (the probe keeps readings whose half trip is at most
3 ms, as the runtime does, and the error averages out over hundreds of them); the detector's box
centres move by a pixel or two (1 mm/px here) from frame to frame and the standing references
carry their own error into every frame (about 1 ms). A wrong method misses by tens of ms: an
alias is a pitch (150 mm, 300 ms) off, a frame period is 50 ms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plantvision.cli import main
from plantvision.conveyor.latency import Limits
from tests.reject.latency_cell import REPO, LatencyCell, latency_cell

TOLERANCE_MS = 5.0


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[LatencyCell]:
    with latency_cell(tmp_path, speed_mm_s=500.0) as c:
        yield c


@pytest.mark.parametrize("capture_ms", [0.0, 80.0])
def test_the_measured_capture_latency_is_the_cameras(cell: LatencyCell, capture_ms: float) -> None:
    """A camera that shows the belt 0 or 80 ms before its stamp measures 0 or 80 ms, within
    5 ms, from a belt that stood with items in view and then started."""
    est = cell.measure(capture_ms)
    assert cell.started == 1, "the command never saw the belt stand with items in view"
    assert est.median_ms == pytest.approx(capture_ms, abs=TOLERANCE_MS), est
    assert len(est.frames) >= Limits().min_frames


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deployments/demo-conveyor.yaml"], "cameras[0].source.kind: a simulated source has no"),
        (["deployments/demo-conveyor.yaml", "--camera", "belt2"], "no camera 'belt2'"),
        (["deployments/demo.yaml"], "0 cameras watch a belt with an encoder"),
    ],
)
def test_a_deployment_it_cannot_measure_is_refused_naming_the_field(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before any camera or PLC is opened: a camera that is not live, a camera that is not
    there, a deployment without a conveyor camera over an encoder belt (exit 2, one line)."""
    assert (
        main(["capture-latency", *(str(REPO / a) if a.endswith(".yaml") else a for a in argv)]) == 2
    )
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
