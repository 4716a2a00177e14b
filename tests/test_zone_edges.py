"""Zone geometry at its edges: a point on any side of a zone counts as inside, box-size and
overlap limits include their value, degenerate boxes and unknown classes read safely, and the
per-file extras (hold times, floor polygons, pixel sizes) say what the file says."""

from __future__ import annotations

import numpy as np
import pytest

from plantvision.errors import ConfigError
from plantvision.types import Detections
from plantvision.zones.geometry import Anchor, CompiledZones, MaskSpec, ZoneKind, ZoneSpec

NAMES = ("person", "pallet")
# x 0.25..0.75, y 0.25..0.75: on a 400x400 frame, pixels 100..300.
SQUARE = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])


def zones(*specs: ZoneSpec, masks: tuple[MaskSpec, ...] = ()) -> CompiledZones:
    return CompiledZones(specs, masks)


def stop(**kw: object) -> ZoneSpec:
    return ZoneSpec("z", ZoneKind.STOP, SQUARE, **kw)  # type: ignore[arg-type]


def boxes(xyxy: list[list[float]], cls: int = 0, names: tuple[str, ...] = NAMES) -> Detections:
    return Detections.from_arrays(xyxy, [0.9] * len(xyxy), [cls] * len(xyxy), names)


@pytest.mark.parametrize(
    ("x_px", "y_px", "inside"),
    [
        (100, 200, True),  # on the left side
        (300, 200, True),  # on the right side
        (200, 100, True),  # on the top side
        (200, 300, True),  # on the bottom side
        (100, 100, True),  # on a corner
        (99, 200, False),
        (301, 200, False),
        (200, 99, False),
    ],
)
def test_an_anchor_on_any_side_of_a_zone_counts_as_inside(
    x_px: float, y_px: float, inside: bool
) -> None:
    """At the boundary the safe answer is "occupied", on every side, not only the bottom."""
    cz = zones(stop(anchor=Anchor.TOP_LEFT))
    hit = cz.evaluate(boxes([[x_px, y_px, x_px + 40, y_px + 40]]), 400, 400)
    assert hit.stop_occupied == (("z",) if inside else ())


@pytest.mark.parametrize(("width_px", "counts"), [(38, False), (42, True), (80, True)])
def test_a_box_narrower_than_min_box_w_does_not_count(width_px: float, counts: bool) -> None:
    """min_box_w is 0.1 of the frame (40 px of 400): wherever the box is, its width decides."""
    cz = zones(stop(min_box_w=0.1, anchor=Anchor.CENTER))
    hit = cz.evaluate(boxes([[260 - width_px, 180, 260, 220]]), 400, 400)
    assert hit.stop_occupied == (("z",) if counts else ())


def test_a_box_exactly_at_the_area_fraction_counts() -> None:
    """Half the box inside a zone that needs half: the limit includes its value."""
    half = ZoneSpec("z", ZoneKind.STOP, np.array([[0, 0], [0.5, 0], [0.5, 1], [0, 1]]),
                    anchor=Anchor.AREA_FRACTION, area_fraction=0.5)  # fmt: skip
    hit = zones(half).evaluate(boxes([[100, 100, 300, 300]]), 400, 400)
    assert hit.stop_occupied == ("z",)


@pytest.mark.parametrize(
    ("box_px", "counts"),
    [
        ([200, 100, 200, 300], True),  # zero width, its centre (200, 200) inside
        ([120, 200, 360, 200], True),  # zero height, centre (240, 200) inside
        ([20, 200, 20, 200], False),  # a point outside
    ],
)
def test_a_zero_area_box_counts_by_its_centre(box_px: list[float], counts: bool) -> None:
    """A box with no area has no overlap fraction; its centre point is the safe reading."""
    cz = zones(stop(anchor=Anchor.AREA_FRACTION, area_fraction=0.5))
    hit = cz.evaluate(boxes([box_px]), 400, 400)
    assert hit.stop_occupied == (("z",) if counts else ())


def test_a_mask_for_some_classes_claims_no_detection_of_an_unknown_class() -> None:
    """A class id the detector's names do not cover is none of the mask's classes."""
    mask = MaskSpec("m", SQUARE, classes=("pallet",))
    cz = zones(stop(classes=("person", "pallet")), masks=(mask,))
    hit = cz.evaluate(boxes([[180, 180, 220, 220], [180, 180, 220, 220]], cls=7), 400, 400)
    assert hit.masked.tolist() == [False, False]
    known = cz.evaluate(boxes([[180, 180, 220, 220]], cls=1), 400, 400)
    assert known.masked.tolist() == [True]


def test_the_same_zones_serve_detectors_with_different_class_lists() -> None:
    """Class names are matched per call: a second detector's list is not read through the
    first one's table."""
    mask = MaskSpec("m", SQUARE, classes=("pallet",))
    cz = zones(stop(), masks=(mask,))
    box = [[180, 180, 220, 220]]
    assert cz.evaluate(boxes(box, cls=1, names=("person", "pallet")), 400, 400).masked[0]
    other = cz.evaluate(boxes(box, cls=1, names=("pallet", "person")), 400, 400)
    assert (other.masked[0], other.stop_occupied) == (False, ("z",))


def test_pixel_zones_evaluate_at_their_size_and_refuse_another_naming_both() -> None:
    cz = CompiledZones((stop(),), frame_size=(640, 480), source="cell.yaml")
    assert cz.evaluate(boxes([[300, 200, 340, 300]]), 640, 480).stop_occupied == ("z",)
    with pytest.raises(ConfigError) as err:
        cz.evaluate(boxes([[300, 200, 340, 300]]), 1280, 720)
    assert (err.value.file, err.value.field) == ("cell.yaml", "frame_size")
    assert "640x480" in err.value.problem
    assert "1280x720" in err.value.problem
    assert "units: normalized" in err.value.fix


def test_zone_hold_times_are_those_the_file_sets() -> None:
    a = ZoneSpec("a", ZoneKind.WARN, SQUARE, hold_ms=900)
    b = ZoneSpec("b", ZoneKind.WARN, SQUARE)
    assert zones(a, b).warn_hold_ms() == {"a": 900}


def test_stop_polygons_in_mm_are_the_stop_zones_through_the_floor_calibration() -> None:
    h = np.diag([2000.0, 1000.0, 1.0])  # normalised image -> mm: x * 2000, y * 1000
    warn = ZoneSpec("w", ZoneKind.WARN, SQUARE)
    cz = CompiledZones((stop(), warn), image_to_floor_mm=h)
    polys = cz.stop_polygons_mm()
    assert list(polys) == ["z"]
    np.testing.assert_allclose(polys["z"], [[500, 250], [1500, 250], [1500, 750], [500, 750]])
    assert CompiledZones((stop(),)).stop_polygons_mm() == {}


def test_occupied_by_zone_answers_for_every_zone() -> None:
    other = ZoneSpec("far", ZoneKind.WARN, np.array([[0, 0], [0.1, 0], [0.1, 0.1], [0, 0.1]]))
    hit = zones(stop(), other).evaluate(boxes([[180, 180, 220, 220]]), 400, 400)
    assert hit.occupied_by_zone() == {"z": True, "far": False}
