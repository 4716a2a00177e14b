"""What a waived mask hides in a stop zone is counted per camera and logged after the write,
never silently dropped."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from plantvision.zones.config import load_zone_file
from tests.loop.rig import ZONES, Rig

# A person-only mask on box centres just above the stop zone 'press' (x 300..500, y 200..400),
# waived: a person standing in 'press' with a tall box has the centre on it.
WAIVED = ZONES + (
    "masks:\n  - id: beam\n    polygon: [[300, 100], [500, 100], [500, 210], [300, 210]]\n"
    "    classes: [person]\n    waiver: 'RA-7: the overhead beam is scored as a person'\n"
)
TALL = [380.0, 60.0, 420.0, 350.0]  # centre (400, 205) on the mask, feet (400, 350) in press


def test_a_masked_detection_in_a_stop_zone_is_counted_and_logged_after_the_write(
    tmp_path: Path,
) -> None:
    """Three frames with a hidden person in 'press': the permit holds (the waiver allows it),
    the camera counts 3 masked detections, and one event names the zone after the write."""
    rig = Rig(tmp_path)
    (tmp_path / "waived.yaml").write_text(WAIVED)
    rig.cam.zones = load_zone_file(tmp_path / "waived.yaml")
    rig.start_running()
    with capture_logs() as logs:
        assert all(rig.step([TALL]) for _ in range(3))
    assert rig.cam.masked_in_stop == 3
    events = [e for e in logs if e["event"] == "masked_in_stop_zone"]
    assert len(events) == 1
    assert events[0]["zones"] == {"press": 1}
    assert events[0]["masks"] == ["beam"]
