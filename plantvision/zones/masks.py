"""Which stop zones a mask can hide: the rule that guards masks like light-curtain blanking.

A mask hides a box whose MASK anchor lies in the mask; a stop zone counts a box whose ZONE
anchor lies in the zone. The two sets can overlap even when the polygons do not: with the mask
on box centres and the zone on feet (bottom_center), a person standing in the zone has the box
centre half a box height above the feet, so a mask drawn above the zone hides them.

The rule, conservative by construction (all in normalised image units):
- a box can be as large as the frame (a zone sets no largest box), so its zone anchor lies at
  (dx * w, dy * h) from its mask anchor for some w, h in 0..1, where (dx, dy) is the difference
  of the two anchors' positions in the box (centre (0.5, 0.5), bottom_center (0.5, 1), ...);
- the mask's reach is the convex hull of the mask shifted by every corner of that rectangle of
  offsets: every point where a hidden box can have its zone anchor (a superset, never less);
- a mask can hide a stop zone when its reach meets the zone and it applies to a class the zone
  counts; for an area_fraction zone any box overlapping the zone may count, so every mask that
  applies to one of its classes can hide it.
Such a mask is refused unless it names its classes and carries a `waiver:` text (zones.checks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely

from plantvision.zones.geometry import Anchor, ZoneKind

# Where each point anchor sits in its box, as fractions of (width, height) from the top left.
ANCHOR_IN_BOX: dict[Anchor, tuple[float, float]] = {
    Anchor.BOTTOM_CENTER: (0.5, 1.0),
    Anchor.CENTER: (0.5, 0.5),
    Anchor.TOP_LEFT: (0.0, 0.0),
    Anchor.TOP_RIGHT: (1.0, 0.0),
    Anchor.BOTTOM_LEFT: (0.0, 1.0),
    Anchor.BOTTOM_RIGHT: (1.0, 1.0),
}


def reach(
    mask_polygon: npt.NDArray[np.float64], mask_anchor: Anchor, zone_anchor: Anchor
) -> shapely.Geometry:
    """Every point where a box hidden by the mask can have its zone anchor (normalised units,
    boxes up to the whole frame); a convex superset when the anchors differ."""
    if mask_anchor is zone_anchor:
        return shapely.Polygon(mask_polygon)
    mx, my = ANCHOR_IN_BOX[mask_anchor]
    zx, zy = ANCHOR_IN_BOX[zone_anchor]
    dx, dy = zx - mx, zy - my
    corners = [(0.0, 0.0), (dx, 0.0), (0.0, dy), (dx, dy)]
    points = np.concatenate([mask_polygon + np.array(c) for c in corners])
    return shapely.convex_hull(shapely.MultiPoint(points))


def hides(
    mask_polygon: npt.NDArray[np.float64],
    mask_anchor: Anchor,
    mask_classes: Sequence[str] | None,
    zone_polygon: npt.NDArray[np.float64],
    zone_anchor: Anchor,
    zone_classes: Sequence[str],
) -> bool:
    """Whether the mask can hide a box that the zone would count (see the module rule)."""
    if mask_classes is not None and not set(mask_classes) & set(zone_classes):
        return False
    if zone_anchor is Anchor.AREA_FRACTION:
        return True
    zone = shapely.Polygon(zone_polygon)
    return bool(reach(mask_polygon, mask_anchor, zone_anchor).intersects(zone))


def stop_zones_hidden(
    mask_polygon: npt.NDArray[np.float64],
    mask_anchor: Anchor,
    mask_classes: Sequence[str] | None,
    zones: Sequence[tuple[str, ZoneKind, npt.NDArray[np.float64], Anchor, Sequence[str]]],
) -> tuple[str, ...]:
    """Ids of the stop zones among `zones` (id, kind, polygon, anchor, classes) the mask can
    hide any part of."""
    return tuple(
        zid
        for zid, kind, poly, anchor, classes in zones
        if kind is ZoneKind.STOP
        and hides(mask_polygon, mask_anchor, mask_classes, poly, anchor, classes)
    )
