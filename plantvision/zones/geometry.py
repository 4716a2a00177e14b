"""Zone geometry: which detections count inside which stop and warning zones, per frame.

Pure (numpy + shapely). Compiled zones hold polygons in normalised image coordinates (0..1 of
the frame width and height), so one evaluation serves any resolution; pixel and floor-mm zone
files are converted once at load (see zones_config.py).

Evaluation is vectorised over all zones and all detections at once: one shapely call tests a
Z x N grid of anchor points against prepared polygons. A point on a zone's edge counts as inside
(`intersects_xy`, not `contains_xy`): at the boundary the safe answer is "occupied".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import shapely

from plantvision.errors import ConfigError
from plantvision.types import Detections
from plantvision.zones import floor

BoolArray = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


class Anchor(StrEnum):
    """The point of a box that must lie in a zone, or `area_fraction` for box overlap."""

    BOTTOM_CENTER = "bottom_center"
    CENTER = "center"
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"
    AREA_FRACTION = "area_fraction"


# Column order of the anchor points built by `_anchor_points`.
POINT_ANCHORS: tuple[Anchor, ...] = tuple(a for a in Anchor if a is not Anchor.AREA_FRACTION)


class ZoneKind(StrEnum):
    STOP = "stop"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One compiled zone. Polygon and box sizes are in normalised image units (0..1)."""

    id: str
    kind: ZoneKind
    polygon: F64
    classes: tuple[str, ...] = ("person",)
    min_confidence: float = 0.0
    min_box_w: float = 0.0
    min_box_h: float = 0.0
    anchor: Anchor = Anchor.BOTTOM_CENTER
    area_fraction: float = 0.5
    hold_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MaskSpec:
    """A region whose detections (of `classes`; None: every class) are ignored by every zone
    (normalised image units). `hides_stop` names the stop zones it can hide part of
    (zones.masks), which its `waiver` text allows."""

    id: str
    polygon: F64
    anchor: Anchor = Anchor.CENTER
    classes: tuple[str, ...] | None = None
    waiver: str | None = None
    hides_stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ZoneHits:
    """One frame's verdict. `hits[z, n]`: detection n counts in zone z (after masks/filters)."""

    zone_ids: tuple[str, ...]
    is_stop: BoolArray
    hits: BoolArray
    masked: BoolArray
    # Per zone: detections a mask hid that the zone would have counted (stop zones only).
    masked_in_stop: npt.NDArray[np.intp] | None = None

    @property
    def masked_stop_zones(self) -> dict[str, int]:
        """Stop zone id -> detections masks hid in it this frame (only zones with some)."""
        if self.masked_in_stop is None:
            return {}
        pairs = zip(self.zone_ids, self.masked_in_stop.tolist(), strict=True)
        return {z: n for z, n in pairs if n}

    @property
    def occupied(self) -> BoolArray:
        """Per zone: at least one qualifying detection inside."""
        return np.asarray(self.hits.any(axis=1), dtype=np.bool_)

    @property
    def stop_occupied(self) -> tuple[str, ...]:
        """Ids of occupied stop zones, in file order."""
        occ = self.occupied & self.is_stop
        return tuple(z for z, o in zip(self.zone_ids, occ, strict=True) if o)

    @property
    def warn_occupied(self) -> tuple[str, ...]:
        """Ids of occupied warning zones, in file order."""
        occ = self.occupied & ~self.is_stop
        return tuple(z for z, o in zip(self.zone_ids, occ, strict=True) if o)

    def occupied_by_zone(self) -> dict[str, bool]:
        return {z: bool(o) for z, o in zip(self.zone_ids, self.occupied, strict=True)}


# Each point anchor as weights on a box's (x1, y1, x2, y2): anchor = box @ weights. One matmul
# gives every anchor of every box; columns follow POINT_ANCHORS.
_ANCHOR_XY: dict[Anchor, tuple[tuple[float, float], tuple[float, float]]] = {
    Anchor.BOTTOM_CENTER: ((0.5, 0.5), (0.0, 1.0)),
    Anchor.CENTER: ((0.5, 0.5), (0.5, 0.5)),
    Anchor.TOP_LEFT: ((1.0, 0.0), (1.0, 0.0)),
    Anchor.TOP_RIGHT: ((0.0, 1.0), (1.0, 0.0)),
    Anchor.BOTTOM_LEFT: ((1.0, 0.0), (0.0, 1.0)),
    Anchor.BOTTOM_RIGHT: ((0.0, 1.0), (0.0, 1.0)),
}
_WX = np.array([[wx[0], 0.0, wx[1], 0.0] for wx, _ in _ANCHOR_XY.values()])
_WY = np.array([[0.0, wy[0], 0.0, wy[1]] for _, wy in _ANCHOR_XY.values()])
assert tuple(_ANCHOR_XY) == POINT_ANCHORS


def _anchor_points(b: F64) -> tuple[F64, F64]:
    """x and y of every point anchor for every box: two (len(POINT_ANCHORS), N) arrays."""
    bt = np.ascontiguousarray(b.T)
    return _WX @ bt, _WY @ bt


def _inside(
    geoms: npt.NDArray[np.object_], bounds: F64, x: F64, y: F64, test: BoolArray
) -> BoolArray:
    """Z x N: point (x[z, n], y[z, n]) lies in polygon z (edge counts), only where `test`.

    A bounding-box test first, so shapely sees only the few points that could be inside.
    """
    cand = test & (x >= bounds[:, 0:1]) & (x <= bounds[:, 2:3])
    cand &= (y >= bounds[:, 1:2]) & (y <= bounds[:, 3:4])
    zi, ni = np.nonzero(cand)
    out = np.zeros(x.shape, np.bool_)
    out[zi, ni] = shapely.intersects_xy(geoms[zi], x[zi, ni], y[zi, ni])
    return out


def _anchor_row(anchor: Anchor) -> int:
    # area_fraction rows are overwritten later; any point row will do as a placeholder.
    return POINT_ANCHORS.index(anchor) if anchor in POINT_ANCHORS else 0


@dataclass(frozen=True, eq=False)
class CompiledZones:
    """Zones and masks ready to evaluate; immutable after construction.

    `frame_size` is set for pixel/floor files: evaluating another size is refused, because
    pixel polygons placed on one resolution mean nothing on another. `image_to_floor_mm` maps
    normalised image points to floor millimetres when the file has a floor calibration.
    """

    zones: tuple[ZoneSpec, ...]
    masks: tuple[MaskSpec, ...] = ()
    sha256: str = ""
    source: str = "(memory)"
    frame_size: tuple[int, int] | None = None
    image_to_floor_mm: F64 | None = None
    hazard_mm: F64 | None = None
    camera: str = ""  # the camera id the file names
    calibration_error_mm: float = 0.0  # the floor calibration's worst point error
    _geoms: npt.NDArray[np.object_] = field(init=False, repr=False)
    _mask_geoms: npt.NDArray[np.object_] = field(init=False, repr=False)
    _bounds: F64 = field(init=False, repr=False)
    _mask_bounds: F64 = field(init=False, repr=False)
    _rows: npt.NDArray[np.intp] = field(init=False, repr=False)
    _mask_rows: npt.NDArray[np.intp] = field(init=False, repr=False)
    _area: npt.NDArray[np.intp] = field(init=False, repr=False)
    _limits: F64 = field(init=False, repr=False)
    _class_cache: dict[tuple[str, ...], BoolArray] = field(init=False, repr=False)
    ids: tuple[str, ...] = field(init=False)
    is_stop: BoolArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        geoms = [shapely.Polygon(z.polygon) for z in self.zones]
        mgeoms = [shapely.Polygon(m.polygon) for m in self.masks]
        sets = object.__setattr__
        sets(self, "_geoms", np.asarray(geoms, dtype=object).reshape(-1))
        sets(self, "_mask_geoms", np.asarray(mgeoms, dtype=object).reshape(-1))
        sets(self, "_bounds", shapely.bounds(self._geoms).reshape(-1, 4))
        sets(self, "_mask_bounds", shapely.bounds(self._mask_geoms).reshape(-1, 4))
        shapely.prepare(self._geoms)
        shapely.prepare(self._mask_geoms)
        sets(self, "_rows", np.array([_anchor_row(z.anchor) for z in self.zones], np.intp))
        sets(self, "_mask_rows", np.array([_anchor_row(m.anchor) for m in self.masks], np.intp))
        area = [i for i, z in enumerate(self.zones) if z.anchor is Anchor.AREA_FRACTION]
        sets(self, "_area", np.array(area, np.intp))
        lim = [(z.min_confidence, z.min_box_w, z.min_box_h, z.area_fraction) for z in self.zones]
        sets(self, "_limits", np.array(lim, np.float64).reshape(-1, 4))
        sets(self, "_class_cache", {})
        sets(self, "ids", tuple(z.id for z in self.zones))
        sets(self, "is_stop", np.array([z.kind is ZoneKind.STOP for z in self.zones], np.bool_))

    def warn_hold_ms(self) -> dict[str, int]:
        """Per-zone warning hold times the file sets (zones without one use the guard default)."""
        return {z.id: z.hold_ms for z in self.zones if z.hold_ms is not None}

    def stop_polygons_mm(self) -> dict[str, F64]:
        """Stop zones as floor polygons in mm (empty without a floor calibration)."""
        h = self.image_to_floor_mm
        if h is None:
            return {}
        return {z.id: floor.apply(h, z.polygon) for z in self.zones if z.kind is ZoneKind.STOP}

    def _allowed(self, class_names: tuple[str, ...]) -> BoolArray:
        """Z x (C+1) table: zone z counts class c; the extra last column is 'unknown id'."""
        table = self._class_cache.get(class_names)
        if table is None:
            table = np.zeros((len(self.zones), len(class_names) + 1), np.bool_)
            for zi, z in enumerate(self.zones):
                table[zi, :-1] = [n in z.classes for n in class_names]
            self._class_cache[class_names] = table
        return table

    def _mask_allowed(self, class_names: tuple[str, ...]) -> BoolArray:
        """M x (C+1) table: mask m hides class c (a mask without classes hides every one,
        the unknown-id column included)."""
        key = ("\0masks", *class_names)  # never a real tuple of class names
        table = self._class_cache.get(key)
        if table is None:
            table = np.ones((len(self.masks), len(class_names) + 1), np.bool_)
            for mi, m in enumerate(self.masks):
                if m.classes is not None:
                    table[mi, :-1] = [c in m.classes for c in class_names]
                    table[mi, -1] = False
            self._class_cache[key] = table
        return table

    def _check_size(self, frame_w: int, frame_h: int) -> None:
        if self.frame_size is not None and self.frame_size != (frame_w, frame_h):
            raise ConfigError(
                self.source,
                "frame_size",
                f"zones are drawn for {self.frame_size[0]}x{self.frame_size[1]} but the "
                f"camera delivers {frame_w}x{frame_h}",
                "redraw the zones for this resolution or use units: normalized",
            )

    def evaluate(self, det: Detections, frame_w: int, frame_h: int) -> ZoneHits:
        """All detections against all zones for one frame (vectorised; no per-box loop)."""
        self._check_size(frame_w, frame_h)
        z, n = len(self.zones), len(det)
        if z == 0 or n == 0:
            empty = np.zeros((z, n), np.bool_)
            return ZoneHits(self.ids, self.is_stop, empty, np.zeros(n, np.bool_))
        scale = np.array([frame_w, frame_h, frame_w, frame_h], np.float64)
        b = det.xyxy.astype(np.float64) / scale
        px, py = _anchor_points(b)
        cid = det.class_id.astype(np.intp)
        ncls = len(det.class_names)
        cid = np.where((cid >= 0) & (cid < ncls), cid, ncls)
        masked = np.zeros(n, np.bool_)
        if self.masks:
            mr = self._mask_rows
            applies = self._mask_allowed(det.class_names)[:, cid]
            mx, my = px[mr], py[mr]
            masked = np.asarray(
                _inside(self._mask_geoms, self._mask_bounds, mx, my, applies).any(axis=0)
            )
        lim = self._limits
        qual = (
            self._allowed(det.class_names)[:, cid]
            & (det.confidence[None, :] >= lim[:, 0:1])
            & ((b[:, 2] - b[:, 0])[None, :] >= lim[:, 1:2])
            & ((b[:, 3] - b[:, 1])[None, :] >= lim[:, 2:3])
        )
        # Hit-test before masking: what a mask hides in a stop zone is counted, not dropped.
        raw = _inside(self._geoms, self._bounds, px[self._rows], py[self._rows], qual)
        if self._area.size:
            raw[self._area] = self._area_inside(b) & qual[self._area]
        hits = raw & ~masked[None, :]
        hidden = (raw & masked[None, :] & self.is_stop[:, None]).sum(axis=1)
        return ZoneHits(self.ids, self.is_stop, hits, masked, hidden.astype(np.intp))

    def _area_inside(self, b: F64) -> BoolArray:
        """Area-fraction zones: the share of each box inside the zone reaches the threshold."""
        boxes = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        geoms = self._geoms[self._area][:, None]
        inter = shapely.area(shapely.intersection(geoms, boxes[None, :]))
        box_area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        frac = self._limits[self._area, 3:4]
        # A zero-area box has no fraction; fall back to its centre point, the safe reading.
        centre = shapely.intersects_xy(geoms, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = inter / box_area[None, :]
        out: BoolArray = np.where(box_area[None, :] > 0, share >= frac, centre)
        return out
