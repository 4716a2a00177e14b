"""ISO 13855 minimum distance S = K * T + C + Z, and whether each stop zone keeps it.

Pure. T is the whole stopping performance: the vision part (waiting for and deciding on frames,
processing, the Modbus write) plus the PLC scan and the machine's own stopping time. Cases:
- `floor` (the default): a detection zone parallel to the approach at floor level, H = 0, which
  is what a floor zone watched by the feet anchor is. K = 1600 mm/s, C = 1200 mm: ISO 13855:2010
  gives C = 1200 - 0.4 H for a parallel approach (H = 0 on the floor), the 2024 edition a flat
  1200 mm, and its pressure-mat clause S = 1600 T + 1200. Scanner makers apply the same case to
  a horizontal protective field: SICK microScan3 operating instructions (hazardous area
  protection: C = 1200 mm, or 1200 - 0.4 H_D), Keyence SZ safety-distance guide
  (S = K x T + C + A, C = 1200 - 0.4 H).
- `body` (vertical detection plane, whole body, d > 40 mm): K = 1600 mm/s, C = 850 mm. For
  zones that act like a vertical field (image-space zones); never for a floor zone.
- `hand` (vertical plane, hand/arm, d <= 40 mm): S = 2000 * T + 8(d - 14), at least 100 mm; if
  that exceeds 500 mm, S = 1600 * T + 8(d - 14), at least 500 mm.
Z, the position tolerance supplement (like a scanner's measurement-error supplement), is added
to S in every case: the floor calibration's worst point error, how far the leading foot can be
ahead of the zone's anchor point, and any further tolerance the integrator declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import shapely

from plantvision.zones.geometry import POINT_ANCHORS, CompiledZones, ZoneKind

K_BODY_MM_S = 1600.0
C_BODY_MM = 850.0
C_FLOOR_MM = 1200.0
K_HAND_MM_S = 2000.0
HAND_MAX_D_MM = 40.0


class Approach(StrEnum):
    FLOOR = "floor"
    BODY = "body"
    HAND = "hand"


_CASE_NAMES = {
    Approach.FLOOR: "floor (approach parallel to the detection zone, H = 0)",
    Approach.BODY: "body (vertical detection plane, d > 40 mm)",
    Approach.HAND: "hand (vertical detection plane, d <= 40 mm)",
}


@dataclass(frozen=True, slots=True)
class ResponseTimeParts:
    """The parts of T, in milliseconds.

    `frames_to_decide` counts frame periods from a person's entry to the frame that trips:
    up to one period until the next capture, plus the frames the decision needs (1 for a
    single-frame trip), hence the default 2. `capture_latency_ms`: a frame shows the scene that
    long before its stamp (source.capture_latency_ms), which the measured stages cannot see.
    """

    frame_period_ms: float
    frames_to_decide: int = 2
    processing_p99_ms: float = 0.0
    modbus_write_ms: float = 0.0
    plc_scan_ms: float = 0.0
    stopping_time_ms: float = 0.0
    capture_latency_ms: float = 0.0

    def __post_init__(self) -> None:
        values = (
            self.frame_period_ms,
            self.processing_p99_ms,
            self.modbus_write_ms,
            self.plc_scan_ms,
            self.stopping_time_ms,
            self.capture_latency_ms,
        )
        if not all(np.isfinite(v) and v >= 0 for v in values) or self.frames_to_decide < 1:
            raise ValueError("response time parts must be finite, >= 0, frames_to_decide >= 1")

    @property
    def total_ms(self) -> float:
        return (
            self.frame_period_ms * self.frames_to_decide
            + self.processing_p99_ms
            + self.modbus_write_ms
            + self.plc_scan_ms
            + self.stopping_time_ms
            + self.capture_latency_ms
        )


@dataclass(frozen=True, slots=True)
class Supplement:
    """The position tolerance Z added to S, in mm, term by term."""

    calibration_mm: float = 0.0
    anchor_offset_mm: float = 0.0
    other_mm: float = 0.0

    def __post_init__(self) -> None:
        terms = (self.calibration_mm, self.anchor_offset_mm, self.other_mm)
        if not all(np.isfinite(v) and v >= 0 for v in terms):
            raise ValueError(f"supplement terms must be finite and >= 0, got {terms}")

    @property
    def total_mm(self) -> float:
        return self.calibration_mm + self.anchor_offset_mm + self.other_mm

    def describe(self) -> str:
        return (
            f"{self.calibration_mm:.0f} mm calibration + {self.anchor_offset_mm:.0f} mm anchor "
            f"offset + {self.other_mm:.0f} mm other"
        )


@dataclass(frozen=True, slots=True)
class MinDistance:
    """S and the terms it came from: S = max(floor, K * T + C) + Z."""

    approach: Approach
    t_ms: float
    k_mm_s: float
    c_mm: float
    z: Supplement
    s_mm: float
    note: str = ""

    def describe(self) -> str:
        """One line naming the case and every term, e.g. for `check` and `simulate`."""
        note = f" ({self.note})" if self.note else ""
        return (
            f"ISO 13855 {_CASE_NAMES[self.approach]}: S = K*T + C + Z = "
            f"{self.k_mm_s:.0f} mm/s x {self.t_ms:.1f} ms + {self.c_mm:.0f} mm{note} + "
            f"Z {self.z.total_mm:.0f} mm ({self.z.describe()}) = {self.s_mm:.0f} mm"
        )


def min_distance(
    t_ms: float,
    approach: Approach | str = Approach.FLOOR,
    d_mm: float | None = None,
    z: Supplement = Supplement(),
) -> MinDistance:
    """ISO 13855 minimum distance for response time `t_ms` (see module docstring)."""
    if not np.isfinite(t_ms) or t_ms < 0:
        raise ValueError(f"response time must be finite and >= 0, got {t_ms}")
    try:
        case = Approach(approach)
    except ValueError:
        raise ValueError(
            f"unknown approach {approach!r}: use floor, body (vertical) or hand (vertical)"
        ) from None
    t_s = t_ms / 1000.0
    if case is Approach.FLOOR:
        return MinDistance(
            case, t_ms, K_BODY_MM_S, C_FLOOR_MM, z, K_BODY_MM_S * t_s + C_FLOOR_MM + z.total_mm
        )
    if case is Approach.BODY:
        return MinDistance(
            case, t_ms, K_BODY_MM_S, C_BODY_MM, z, K_BODY_MM_S * t_s + C_BODY_MM + z.total_mm
        )
    return _hand(t_ms, d_mm, z)


def _hand(t_ms: float, d_mm: float | None, z: Supplement) -> MinDistance:
    if d_mm is None or not 0 < d_mm <= HAND_MAX_D_MM:
        raise ValueError(
            f"hand approach needs the detection capability d in (0, 40] mm, got {d_mm}; "
            "for coarser detection use the body approach"
        )
    t_s = t_ms / 1000.0
    # Below 14 mm the formula's C would be negative (finger detection); never credit that.
    c_mm = max(0.0, 8.0 * (d_mm - 14.0))
    k, note = K_HAND_MM_S, ""
    s_mm = K_HAND_MM_S * t_s + c_mm
    if s_mm < 100.0:
        s_mm, note = 100.0, "raised to the 100 mm minimum"
    elif s_mm > 500.0:
        k = K_BODY_MM_S
        s_mm = K_BODY_MM_S * t_s + c_mm
        if s_mm < 500.0:
            s_mm, note = 500.0, "raised to the 500 mm minimum"
    return MinDistance(Approach.HAND, t_ms, k, c_mm, z, s_mm + z.total_mm, note)


def min_distance_mm(t_ms: float, approach: Approach | str, d_mm: float | None = None) -> float:
    """S = K * T + C in mm, without a supplement (see `min_distance`)."""
    return min_distance(t_ms, approach, d_mm).s_mm


def floor_point_zones(zones: CompiledZones) -> list[str]:
    """Ids of the stop zones that are floor zones watched at a point (the feet): the file has a
    floor calibration and the zone a point anchor. Only the floor case fits them."""
    if zones.image_to_floor_mm is None:
        return []
    return [z.id for z in zones.zones if z.kind is ZoneKind.STOP and z.anchor in POINT_ANCHORS]


def case_problem(approach: Approach | str, zones: CompiledZones) -> str | None:
    """Why `approach` does not fit these zones, or None when it does."""
    case = Approach(approach)
    floor_zones = floor_point_zones(zones)
    if case is Approach.FLOOR or not floor_zones:
        return None
    return (
        f"approach {case.value!r} is a vertical-field case, but stop zone "
        f"{', '.join(floor_zones)} of {zones.source} is a floor zone watched at a point: a "
        "person's feet enter it, an approach parallel to the floor (ISO 13855: S = 1600 T + "
        "1200)"
    )


@dataclass(frozen=True, slots=True)
class ZoneDistance:
    """How far a stop zone's boundary lies from the hazard, against the required S."""

    zone_id: str
    boundary_mm: float
    required_mm: float
    surrounds_hazard: bool

    @property
    def passes(self) -> bool:
        """Far enough, and around the hazard: otherwise people reach it without entering."""
        return self.surrounds_hazard and self.boundary_mm >= self.required_mm

    @property
    def reason(self) -> str:
        """Why the zone fails, or '' when it passes."""
        if not self.surrounds_hazard:
            return "does not surround the hazard: people reach it without entering the zone"
        if self.boundary_mm < self.required_mm:
            return f"closer than S by {self.required_mm - self.boundary_mm:.0f} mm"
        return ""

    def describe(self) -> str:
        """'ok   stop zone x: ...' or 'FAIL stop zone x: ... (reason)'."""
        verdict = "ok  " if self.passes else "FAIL"
        why = f": {self.reason}" if self.reason else ""
        return (
            f"{verdict} stop zone {self.zone_id}: boundary {self.boundary_mm:.0f} mm from the "
            f"hazard, S = {self.required_mm:.0f} mm{why}"
        )


def check_zones(
    zones_mm: dict[str, npt.NDArray[np.float64]],
    hazard_mm: npt.NDArray[np.float64],
    required_mm: float,
) -> list[ZoneDistance]:
    """For each stop-zone floor polygon: the shortest distance from its boundary to the hazard.

    The hazard is one point ([[x, y]]) or a polygon. A person is detected on crossing the
    boundary, so the nearest boundary point must be at least S away. A zone that does not
    surround the hazard fails: people may then reach it without entering.
    """
    h = np.asarray(hazard_mm, np.float64).reshape(-1, 2)
    hazard = shapely.Point(h[0]) if len(h) == 1 else shapely.Polygon(h)
    out = []
    for zid, poly in zones_mm.items():
        zone = shapely.Polygon(poly)
        out.append(
            ZoneDistance(
                zid,
                float(shapely.distance(zone.exterior, hazard)),
                required_mm,
                bool(zone.covers(hazard)),
            )
        )
    return out
