"""The zone file model (`zones/*.yaml`): validated data, field by field.

Coordinates come in one of three units for the whole file:
- `normalized`: 0..1 of the frame width/height (works at any resolution);
- `pixels`: pixels of `frame_size`;
- `floor_mm`: floor millimetres, mapped to the image through `calibration` (a homography).
Rules across fields (ids, points inside the frame, masks) are zones.checks'; loading and
compiling are zones.config's.
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
import shapely
from pydantic import Field, field_validator, model_validator

from plantvision.configio import StrictModel
from plantvision.zones import floor
from plantvision.zones.geometry import Anchor, ZoneKind

Point = tuple[float, float]
Units = Literal["normalized", "pixels", "floor_mm"]
# Points may sit this far (in normalised frame units) outside the frame: rounding, not intent.
_FRAME_TOLERANCE = 1e-6


def check_polygon(pts: list[Point]) -> list[Point]:
    """A zone outline: at least 3 points, edges that do not cross, a non-zero area."""
    if len(pts) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}; add points")
    poly = shapely.Polygon(pts)
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly)
        raise ValueError(
            f"polygon is not simple ({reason}); list the points in order around the outline "
            "so that no two edges cross"
        )
    if poly.area <= 0:
        raise ValueError("polygon has zero area; spread the points out")
    return pts


class ZoneModel(StrictModel):
    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Unique zone name used in events and the PLC status (letters, digits, _.-)",
    )
    kind: ZoneKind = Field(
        description="stop: drops the run permit at once; warn: lights the warning output"
    )
    polygon: list[Point] = Field(
        description="Outline as [x, y] points in the file's units, in order around the zone"
    )
    classes: list[str] = Field(
        default_factory=lambda: ["person"],
        min_length=1,
        description="Detector class names that count in this zone",
    )
    min_confidence: float = Field(
        0.0, ge=0.0, le=1.0, description="Detections scoring below this are ignored here"
    )
    min_box_w: float = Field(
        0.0, ge=0.0, description="Minimum box width (fraction of frame if normalized, else px)"
    )
    min_box_h: float = Field(
        0.0, ge=0.0, description="Minimum box height (fraction of frame if normalized, else px)"
    )
    anchor: Anchor = Field(
        Anchor.BOTTOM_CENTER,
        description="Box point that must be inside (bottom_center = feet), or area_fraction",
    )
    area_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="With anchor area_fraction: share of the box inside"
    )
    hold_ms: int | None = Field(
        None, ge=0, le=600_000, description="Warn zones: stay on this long after clearing"
    )

    _check_polygon = field_validator("polygon")(check_polygon)


class MaskModel(StrictModel):
    id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Mask name"
    )
    polygon: list[Point] = Field(
        description="Region where detections are ignored by every zone (file's units)"
    )
    anchor: Anchor = Field(
        Anchor.CENTER, description="Box point that must be inside the mask to ignore the box"
    )
    classes: list[str] | None = Field(
        None,
        min_length=1,
        description="Detector class names the mask hides (default: every class); required "
        "for a mask that can hide part of a stop zone",
    )
    waiver: str | None = Field(
        None,
        min_length=10,
        description="Why hiding part of a stop zone is acceptable (the risk assessment that "
        "allows it); required for such a mask, printed by `check`",
    )

    _check_polygon = field_validator("polygon")(check_polygon)

    @field_validator("anchor")
    @classmethod
    def _point_anchor(cls, v: Anchor) -> Anchor:
        if v is Anchor.AREA_FRACTION:
            raise ValueError("masks use a point anchor; pick center or a corner")
        return v


class CalibrationModel(StrictModel):
    image_px: list[Point] = Field(
        min_length=4, description="Image points in pixels of frame_size (4 or more)"
    )
    floor_mm: list[Point] = Field(
        min_length=4, description="The same points on the floor, in millimetres"
    )
    max_rms_mm: float = Field(
        50.0, gt=0.0, description="Largest accepted reprojection error (catches typos)"
    )

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if len(self.image_px) != len(self.floor_mm):
            raise ValueError(
                f"{len(self.image_px)} image points but {len(self.floor_mm)} floor points; "
                "give one floor point per image point"
            )
        try:
            h = floor.fit_homography(self.image_px, self.floor_mm)
            rms = floor.reprojection_rms(h, self.image_px, self.floor_mm)
        except ValueError as exc:
            raise ValueError(
                f"{exc}; use 4+ points spread over the floor, no 3 in a line"
            ) from None
        if rms > self.max_rms_mm:
            raise ValueError(
                f"points disagree: reprojection error {rms:.0f} mm > max_rms_mm; "
                "check each pair for a typo"
            )
        return self

    def homography(self) -> floor.Array:
        """Image pixels -> floor mm."""
        return floor.fit_homography(self.image_px, self.floor_mm)

    def worst_error_mm(self) -> float:
        """The largest distance between a floor point and where the fit puts its image point
        (0 for an exact 4-point fit: survey error then belongs in the safety supplement)."""
        mapped = floor.apply(self.homography(), self.image_px)
        err = np.linalg.norm(mapped - np.asarray(self.floor_mm, np.float64), axis=1)
        return float(err.max())


class ZoneFileModel(StrictModel):
    version: Literal[1] = Field(description="Zone file format version")
    camera: str = Field(min_length=1, description="Camera id these zones belong to")
    units: Units = Field(description="normalized (0..1), pixels (of frame_size) or floor_mm")
    frame_size: tuple[int, int] | None = Field(
        None, description="[width, height] in px the pixel coordinates refer to"
    )
    calibration: CalibrationModel | None = Field(
        None, description="Image-to-floor point pairs (needed for floor_mm and distances)"
    )
    hazard_mm: list[Point] | None = Field(
        None, description="Hazard point [[x, y]] or polygon (3+ points) on the floor, mm"
    )
    zones: list[ZoneModel] = Field(min_length=1, description="Stop and warning zones")
    masks: list[MaskModel] = Field(default_factory=list, description="Ignored regions")

    @field_validator("frame_size")
    @classmethod
    def _positive_size(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] <= 0 or v[1] <= 0):
            raise ValueError("frame_size must be two positive integers [width, height]")
        return v

    @field_validator("hazard_mm")
    @classmethod
    def _hazard_shape(cls, v: list[Point] | None) -> list[Point] | None:
        if v is not None and len(v) != 1:
            check_polygon(v)
        return v
