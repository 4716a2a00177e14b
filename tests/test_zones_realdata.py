"""Real footage: YOLOX-Nano on vtest.avi with zones/vtest.yaml, checked by a brute-force oracle.

Needs ../shared/data (skips outside CI without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely

from plantvision.detect import ModelSpec, load_detector
from plantvision.types import Detections, Frame
from plantvision.zones.config import compile_zones, load_zone_file, parse_zone_file
from plantvision.zones.geometry import CompiledZones

REPO = Path(__file__).resolve().parent.parent
ZONES = REPO / "zones" / "vtest.yaml"
FRAMES = range(0, 400, 10)  # 40 frames; about half have someone in the junction
# Where SOURCES.md says the signpost false positive sits (frame pixels), with a margin.
SIGNPOST = shapely.box(25, 100, 55, 150)

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def vtest_frames(video: Path) -> Iterator[Frame]:
    cv2 = pytest.importorskip("cv2")
    cap = cv2.VideoCapture(str(video))
    try:
        for seq in range(max(FRAMES) + 1):
            ok, image = cap.read()
            assert ok, f"vtest.avi ended at frame {seq}"
            if seq in FRAMES:
                yield Frame(image, seq, 0, "vtest")
    finally:
        cap.release()


@pytest.fixture(scope="module")
def detections(shared_data: Path) -> list[Detections]:
    """YOLOX-Nano detections on the chosen frames, through the project's own detector."""
    detector = load_detector(
        ModelSpec(
            path=shared_data / "models" / "yolox_nano.onnx",
            family="yolox",
            names_file=shared_data / "coco80_classes.txt",
            intra_op_threads=1,
        )
    )
    return [detector.detect(f.image) for f in vtest_frames(shared_data / "video" / "vtest.avi")]


def oracle_occupied(det: Detections, zone_poly: shapely.Polygon, mask: shapely.Polygon) -> bool:
    """Per box, slowly: a person (score >= 0.3), feet in the zone, centre off the mask."""
    for i in range(len(det)):
        x1, y1, x2, y2 = (float(v) for v in det.xyxy[i])
        if det.name_of(i) != "person" or det.confidence[i] < 0.3:
            continue
        if mask.covers(shapely.Point((x1 + x2) / 2, (y1 + y2) / 2)):
            continue
        if zone_poly.covers(shapely.Point((x1 + x2) / 2, y2)):
            return True
    return False


def test_stop_zone_occupied_exactly_when_a_person_anchor_is_inside(
    detections: list[Detections],
) -> None:
    """The junction is occupied on exactly the frames where a person's feet are inside it."""
    zones = load_zone_file(ZONES)
    model = parse_zone_file(ZONES)
    junction = shapely.Polygon(model.zones[0].polygon)
    mask = shapely.Polygon(model.masks[0].polygon)
    got = [
        z.occupied_by_zone()["junction"] for z in (zones.evaluate(d, 768, 576) for d in detections)
    ]
    want = [oracle_occupied(d, junction, mask) for d in detections]
    assert got == want
    assert 0 < sum(got) < len(got), "the sample should hold both occupied and clear frames"


def signpost_rows(det: Detections) -> np.ndarray:
    centres = np.c_[(det.xyxy[:, 0] + det.xyxy[:, 2]) / 2, (det.xyxy[:, 1] + det.xyxy[:, 3]) / 2]
    return shapely.contains_xy(SIGNPOST, centres[:, 0], centres[:, 1])


def test_signpost_never_counts_but_would_without_the_mask(detections: list[Detections]) -> None:
    """The signpost false positive counts in no zone; without the mask it would light a warning."""
    zones = load_zone_file(ZONES)
    model = parse_zone_file(ZONES)
    unmasked: CompiledZones = compile_zones(model.model_copy(update={"masks": []}))
    seen = 0
    would_count = 0
    for det in detections:
        rows = signpost_rows(det)
        seen += int(rows.any())
        assert not zones.evaluate(det, 768, 576).hits[:, rows].any()
        would_count += int(unmasked.evaluate(det, 768, 576).hits[:, rows].any())
    assert seen >= 0.9 * len(detections), "the signpost should be detected in most frames"
    assert would_count == seen
