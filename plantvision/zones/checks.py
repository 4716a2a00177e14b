"""Whole-file checks on a zone file that one field alone cannot make, and unit conversion.

Raised as ConfigError with the file, the zone (index and id) and the field, and the fix.
"""

from __future__ import annotations

import numpy as np
import shapely

from plantvision.errors import ConfigError
from plantvision.zones import floor
from plantvision.zones.masks import stop_zones_hidden
from plantvision.zones.model import Point, ZoneFileModel

_TOL = 1e-6


def to_normalised(model: ZoneFileModel, pts: list[Point]) -> floor.Array:
    """Points in the file's units -> normalised image units (0..1 of width and height)."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    if model.units == "normalized":
        return p
    assert model.frame_size is not None  # guaranteed by check_file
    if model.units == "floor_mm":
        assert model.calibration is not None
        inv = np.asarray(np.linalg.inv(model.calibration.homography()), np.float64)
        p = floor.apply(inv, p)
    out: floor.Array = p / np.asarray(model.frame_size, np.float64)
    return out


def _require(model: ZoneFileModel, file: str) -> None:
    if model.frame_size is None and (model.units != "normalized" or model.calibration):
        why = "a calibration" if model.units == "normalized" else f"units: {model.units}"
        raise ConfigError(
            file, "frame_size", f"{why} needs the frame size", "add frame_size: [width, height]"
        )
    if model.calibration is None and (model.units == "floor_mm" or model.hazard_mm):
        why = "units: floor_mm" if model.units == "floor_mm" else "hazard_mm"
        raise ConfigError(
            file,
            "calibration",
            f"{why} needs a floor calibration",
            "add calibration: image_px/floor_mm pairs",
        )


def _check_ids(model: ZoneFileModel, file: str) -> None:
    seen: dict[str, str] = {}
    items = [("zones", i, z.id) for i, z in enumerate(model.zones)]
    items += [("masks", i, m.id) for i, m in enumerate(model.masks)]
    for key, i, zid in items:
        where = f"{key}[{i}]"
        if zid in seen:
            raise ConfigError(
                file, f"{where} (id {zid}).id", f"duplicate id (also {seen[zid]})", "rename one"
            )
        seen[zid] = where


def _check_inside(model: ZoneFileModel, file: str, field: str, pts: list[Point]) -> None:
    try:
        norm = to_normalised(model, pts)
    except ValueError as exc:
        raise ConfigError(file, field, str(exc), "keep zones on the calibrated floor") from None
    bad = np.flatnonzero(np.any((norm < -_TOL) | (norm > 1 + _TOL), axis=1))
    if bad.size:
        k = int(bad[0])
        x, y = pts[k]
        if model.frame_size is None:
            frame, fix = "0..1", "keep x and y within 0..1"
        else:
            w, h = model.frame_size
            frame, fix = f"{w}x{h} px", f"keep 0 <= x <= {w} and 0 <= y <= {h}"
        kind = "maps outside" if model.units == "floor_mm" else "is outside"
        if model.units == "floor_mm":
            fix = "keep the zone on the part of the floor the camera sees"
        raise ConfigError(
            file, f"{field}[{k}]", f"point ({x:g}, {y:g}) {kind} the frame ({frame})", fix
        )


def masks_hiding_stop_zones(model: ZoneFileModel) -> list[tuple[str, ...]]:
    """Per mask, the stop zones it can hide any part of (the rule: zones.masks)."""
    zones = [
        (z.id, z.kind, to_normalised(model, z.polygon), z.anchor, z.classes) for z in model.zones
    ]
    return [
        stop_zones_hidden(to_normalised(model, m.polygon), m.anchor, m.classes, zones)
        for m in model.masks
    ]


def _check_blanking(model: ZoneFileModel, file: str) -> None:
    """A mask that can hide part of a stop zone is blanking: it must name the classes it
    applies to and carry a waiver (the risk assessment that allows it)."""
    for j, (m, hidden) in enumerate(zip(model.masks, masks_hiding_stop_zones(model), strict=True)):
        if not hidden or (m.classes is not None and m.waiver is not None):
            continue
        missing = [k for k, v in (("classes", m.classes), ("waiver", m.waiver)) if v is None]
        how = (
            f"its {m.anchor.value} anchor can fall in the mask while a box's zone anchor is in "
            "the zone (boxes up to the frame's size)"
        )
        raise ConfigError(
            file,
            f"masks[{j}] (id {m.id})",
            f"mask can hide detections in stop zone {', '.join(hidden)} ({how}), like "
            "light-curtain blanking",
            f"name the classes it hides (classes: [...]) and add waiver: '<the risk assessment "
            f"that allows it>' (missing: {', '.join(missing)}), or move the mask away from the "
            "stop zone",
        )


def _check_masks(model: ZoneFileModel, file: str) -> None:
    if not model.masks:
        return
    masks = [shapely.Polygon(to_normalised(model, m.polygon)) for m in model.masks]
    union = shapely.union_all(masks)
    for z in model.zones:
        if z.kind != "stop":
            continue
        zone = shapely.Polygon(to_normalised(model, z.polygon))
        if union.covers(zone):
            j = next(j for j, m in enumerate(masks) if m.intersects(zone))
            raise ConfigError(
                file,
                f"masks[{j}] (id {model.masks[j].id}).polygon",
                f"masks cover the whole stop zone {z.id}, which then could never trip",
                "shrink the mask to the false detection or remove the zone",
            )
    _check_blanking(model, file)


def check_file(model: ZoneFileModel, file: str) -> None:
    """Everything that needs several fields at once; raises ConfigError on the first problem."""
    _require(model, file)
    _check_ids(model, file)
    cal = model.calibration
    if cal is not None and model.frame_size is not None:
        w, h = model.frame_size
        for k, (x, y) in enumerate(cal.image_px):
            if not (0 <= x <= w and 0 <= y <= h):
                raise ConfigError(
                    file,
                    f"calibration.image_px[{k}]",
                    f"point ({x:g}, {y:g}) is outside the {w}x{h} frame",
                    "use pixel coordinates of frame_size",
                )
    for i, z in enumerate(model.zones):
        _check_inside(model, file, f"zones[{i}] (id {z.id}).polygon", z.polygon)
    for i, m in enumerate(model.masks):
        _check_inside(model, file, f"masks[{i}] (id {m.id}).polygon", m.polygon)
    _check_masks(model, file)
