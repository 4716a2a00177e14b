"""Zone evaluation: which detections count in which zone, checked against a brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from plantvision.errors import ConfigError
from plantvision.types import Detections
from plantvision.zones.geometry import Anchor, CompiledZones, MaskSpec, ZoneKind, ZoneSpec

NAMES = ("person", "car")
# A square stop zone covering x 100..300, y 100..300 of a 400x400 frame (normalised).
SQUARE = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])


def one_zone(**kw: object) -> CompiledZones:
    return CompiledZones((ZoneSpec("z", ZoneKind.STOP, SQUARE, **kw),))  # type: ignore[arg-type]


def dets(boxes: list[list[float]], conf: float = 0.9, cls: int = 0) -> Detections:
    n = len(boxes)
    return Detections.from_arrays(boxes, [conf] * n, [cls] * n, NAMES)


ANCHOR_TABLE = [
    # (anchor, box in 400x400 px, counts?)
    (Anchor.BOTTOM_CENTER, [150, 50, 250, 200], True),  # feet inside, head outside
    (Anchor.BOTTOM_CENTER, [150, 200, 250, 350], False),  # feet below the zone
    (Anchor.CENTER, [150, 200, 250, 350], True),
    (Anchor.TOP_LEFT, [290, 290, 390, 390], True),
    (Anchor.TOP_RIGHT, [290, 290, 390, 390], False),
    (Anchor.BOTTOM_RIGHT, [10, 10, 110, 110], True),
    (Anchor.BOTTOM_LEFT, [10, 10, 110, 110], False),
    (Anchor.BOTTOM_CENTER, [100, 250, 300, 300], True),  # feet exactly on the edge: inside
    (Anchor.AREA_FRACTION, [50, 150, 250, 250], True),  # 75 % of the box inside
    (Anchor.AREA_FRACTION, [0, 150, 200, 250], False),  # 50 % inside, needs 60 %
]


@pytest.mark.parametrize(("anchor", "box", "counts"), ANCHOR_TABLE)
def test_anchor_decides_membership(anchor: Anchor, box: list[float], counts: bool) -> None:
    """The zone's anchor point (or area share) decides whether a box is inside."""
    z = one_zone(anchor=anchor, area_fraction=0.6)
    assert z.evaluate(dets([box]), 400, 400).hits.tolist() == [[counts]]


FILTER_TABLE = [
    # (zone options, confidence, class id, box, counts?)
    ({}, 0.9, 0, [150, 100, 250, 200], True),
    ({"min_confidence": 0.5}, 0.4, 0, [150, 100, 250, 200], False),
    ({"min_confidence": 0.5}, 0.5, 0, [150, 100, 250, 200], True),
    ({}, 0.9, 1, [150, 100, 250, 200], False),  # a car does not count by default
    ({"classes": ("car",)}, 0.9, 1, [150, 100, 250, 200], True),
    ({}, 0.9, 7, [150, 100, 250, 200], False),  # an id with no name counts nowhere
    ({"min_box_h": 0.5}, 0.9, 0, [150, 100, 250, 200], False),  # 100 px < 200 px
    ({"min_box_w": 0.2}, 0.9, 0, [150, 100, 250, 200], True),  # 100 px >= 80 px
]


@pytest.mark.parametrize(("opts", "conf", "cls", "box", "counts"), FILTER_TABLE)
def test_filters_decide_which_detections_qualify(
    opts: dict[str, object], conf: float, cls: int, box: list[float], counts: bool
) -> None:
    """Classes, minimum confidence and minimum box size filter per zone."""
    z = one_zone(**opts)
    assert z.evaluate(dets([box], conf, cls), 400, 400).hits.tolist() == [[counts]]


def test_mask_hides_a_detection_from_every_zone() -> None:
    """A box whose centre lies on a mask counts in no zone; others are unaffected."""
    mask = MaskSpec("sign", np.array([[0.3, 0.3], [0.4, 0.3], [0.4, 0.4], [0.3, 0.4]]))
    zones = CompiledZones(
        (ZoneSpec("s", ZoneKind.STOP, SQUARE), ZoneSpec("w", ZoneKind.WARN, SQUARE)), (mask,)
    )
    h = zones.evaluate(dets([[130, 130, 150, 150], [200, 200, 220, 220]]), 400, 400)
    assert h.masked.tolist() == [True, False]
    assert h.hits.tolist() == [[False, True], [False, True]]
    assert h.stop_occupied == ("s",)
    assert h.warn_occupied == ("w",)


def test_no_detections_and_no_zones_give_empty_verdicts() -> None:
    """Empty inputs give correctly shaped, all-clear verdicts."""
    h = one_zone().evaluate(Detections.empty(NAMES), 400, 400)
    assert h.hits.shape == (1, 0)
    assert h.stop_occupied == ()
    assert CompiledZones(()).evaluate(dets([[0, 0, 1, 1]]), 400, 400).hits.shape == (0, 1)


def test_pixel_zones_refuse_another_resolution() -> None:
    """Pixel zones drawn for one frame size are not applied to another."""
    z = CompiledZones((ZoneSpec("z", ZoneKind.STOP, SQUARE),), frame_size=(400, 400))
    with pytest.raises(ConfigError, match=r"frame_size: zones are drawn for 400x400"):
        z.evaluate(dets([[0, 0, 1, 1]]), 800, 600)


# --- properties against a brute-force oracle -------------------------------------------------

# Frame of 4096 px and integer coordinates: normalising divides by a power of two, so every
# coordinate is exact and moving/scaling cannot flip a boundary case through rounding.
FRAME = 4096
coord = st.integers(0, 1000)


@st.composite
def polygons(draw: st.DrawFn) -> np.ndarray:
    """A valid polygon: a convex hull of random integer points (>= 3 corners)."""
    pts = draw(st.lists(st.tuples(coord, coord), min_size=3, max_size=10, unique=True))
    hull = shapely.convex_hull(shapely.MultiPoint(pts))
    if not isinstance(hull, shapely.Polygon) or hull.area == 0:
        return np.array([[0, 0], [500, 0], [500, 500]], np.float64)
    return np.asarray(hull.exterior.coords[:-1], np.float64)


@st.composite
def boxes(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(0, 30))
    xy = np.array(draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n)), np.float64)
    wh = np.array(draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n)), np.float64)
    return np.c_[xy.reshape(-1, 2), xy.reshape(-1, 2) + wh.reshape(-1, 2)]


anchors = st.sampled_from([a for a in Anchor if a is not Anchor.AREA_FRACTION])


def build(polys: list[np.ndarray], anchor: Anchor, shift: float = 0.0, scale: float = 1.0):
    specs = tuple(
        ZoneSpec(f"z{i}", ZoneKind.STOP, (p * scale + shift) / FRAME, anchor=anchor)
        for i, p in enumerate(polys)
    )
    return CompiledZones(specs)


def oracle(polys: list[np.ndarray], b: np.ndarray, anchor: Anchor) -> np.ndarray:
    """One shapely Polygon.covers(Point) per zone and box: slow, obviously right."""
    x1, y1, x2, y2 = b.T
    ax = {"center": (x1 + x2) / 2, "bottom_center": (x1 + x2) / 2, "top_left": x1}
    ax |= {"bottom_left": x1, "top_right": x2, "bottom_right": x2}
    ay = {"center": (y1 + y2) / 2, "bottom_center": y2, "top_left": y1, "top_right": y1}
    ay |= {"bottom_left": y2, "bottom_right": y2}
    out = np.zeros((len(polys), len(b)), bool)
    for zi, p in enumerate(polys):
        poly = shapely.Polygon(p)
        for n in range(len(b)):
            out[zi, n] = poly.covers(shapely.Point(ax[anchor][n], ay[anchor][n]))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(polygons(), min_size=1, max_size=5), boxes(), anchors)
def test_vectorised_evaluation_matches_brute_force(
    polys: list[np.ndarray], b: np.ndarray, anchor: Anchor
) -> None:
    """The vectorised evaluation agrees with a per-point shapely oracle, edges included."""
    hits = build(polys, anchor).evaluate(dets(b.tolist()), FRAME, FRAME).hits
    assert hits.tolist() == oracle(polys, b, anchor).tolist()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(polygons(), min_size=1, max_size=5),
    boxes(),
    anchors,
    st.integers(0, 1000),
    st.sampled_from([0.5, 1.0, 2.0]),
)
def test_moving_or_scaling_zones_and_boxes_together_changes_no_hit(
    polys: list[np.ndarray], b: np.ndarray, anchor: Anchor, shift: int, scale: float
) -> None:
    """Translating or scaling zones and boxes by the same amount leaves every hit unchanged."""
    base = build(polys, anchor).evaluate(dets(b.tolist()), FRAME, FRAME).hits
    moved = build(polys, anchor, shift, scale).evaluate(
        dets((b * scale + shift).tolist()), FRAME, FRAME
    )
    assert moved.hits.tolist() == base.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(polygons(), min_size=1, max_size=3), boxes(), anchors, st.sampled_from([1, 2, 4]))
def test_normalised_zones_give_the_same_hits_at_any_resolution(
    polys: list[np.ndarray], b: np.ndarray, anchor: Anchor, factor: int
) -> None:
    """A normalised zone file gives the same verdict when frame and boxes scale together."""
    z = build(polys, anchor)
    base = z.evaluate(dets(b.tolist()), FRAME, FRAME).hits
    big = z.evaluate(dets((b * factor).tolist()), FRAME * factor, FRAME * factor).hits
    assert big.tolist() == base.tolist()


@settings(max_examples=60, deadline=None)
@given(polygons(), boxes(), st.sampled_from([0.25, 0.5, 1.0]))
def test_area_fraction_matches_shapely_overlap(
    poly: np.ndarray, b: np.ndarray, frac: float
) -> None:
    """An area-fraction zone counts a box when at least that share of it is inside."""
    z = CompiledZones(
        (
            ZoneSpec(
                "z", ZoneKind.STOP, poly / FRAME, anchor=Anchor.AREA_FRACTION, area_fraction=frac
            ),
        )
    )
    got = z.evaluate(dets(b.tolist()), FRAME, FRAME).hits[0]
    zone = shapely.Polygon(poly)
    for n, (x1, y1, x2, y2) in enumerate(b):
        area = (x2 - x1) * (y2 - y1)
        box = shapely.box(x1, y1, x2, y2)
        share_ok = zone.intersection(box).area / area >= frac - 1e-9 if area > 0 else None
        want = (
            zone.covers(shapely.Point((x1 + x2) / 2, (y1 + y2) / 2))
            if share_ok is None
            else share_ok
        )
        # Allow float noise only exactly at the threshold.
        if area > 0 and abs(zone.intersection(box).area / area - frac) < 1e-9:
            continue
        assert bool(got[n]) == bool(want)
