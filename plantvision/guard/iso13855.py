"""ISO 13855 minimum distance S = K * T + C, and whether each stop zone keeps it.

Pure. T is the whole stopping performance: the vision part (waiting for and deciding on frames,
processing, the Modbus write) plus the PLC scan and the machine's own stopping time. Approaches:
- `body` (whole body, detection capability d > 40 mm): K = 1600 mm/s, C = 850 mm;
- `hand` (hand/arm, d <= 40 mm): S = 2000 * T + 8(d - 14), at least 100 mm; if that exceeds
  500 mm, S = 1600 * T + 8(d - 14), at least 500 mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import shapely

K_BODY_MM_S = 1600.0
C_BODY_MM = 850.0
K_HAND_MM_S = 2000.0
HAND_MAX_D_MM = 40.0


class Approach(StrEnum):
    BODY = "body"
    HAND = "hand"


@dataclass(frozen=True, slots=True)
class ResponseTimeParts:
    """The parts of T, in milliseconds.

    `frames_to_decide` counts frame periods from a person's entry to the frame that trips:
    up to one period until the next capture, plus the frames the decision needs (1 for a
    single-frame trip), hence the default 2.
    """

    frame_period_ms: float
    frames_to_decide: int = 2
    processing_p99_ms: float = 0.0
    modbus_write_ms: float = 0.0
    plc_scan_ms: float = 0.0
    stopping_time_ms: float = 0.0

    def __post_init__(self) -> None:
        values = (
            self.frame_period_ms,
            self.processing_p99_ms,
            self.modbus_write_ms,
            self.plc_scan_ms,
            self.stopping_time_ms,
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
        )


def min_distance_mm(t_ms: float, approach: Approach | str, d_mm: float | None = None) -> float:
    """ISO 13855 minimum distance S in mm for response time `t_ms` (see module docstring)."""
    if not np.isfinite(t_ms) or t_ms < 0:
        raise ValueError(f"response time must be finite and >= 0, got {t_ms}")
    t_s = t_ms / 1000.0
    if Approach(approach) is Approach.BODY:
        return K_BODY_MM_S * t_s + C_BODY_MM
    if d_mm is None or not 0 < d_mm <= HAND_MAX_D_MM:
        raise ValueError(
            f"hand approach needs the detection capability d in (0, 40] mm, got {d_mm}; "
            "for coarser detection use the body approach"
        )
    # Below 14 mm the formula's C would be negative (finger detection); never credit that.
    c_mm = max(0.0, 8.0 * (d_mm - 14.0))
    s_mm = max(100.0, K_HAND_MM_S * t_s + c_mm)
    if s_mm > 500.0:
        s_mm = max(500.0, K_BODY_MM_S * t_s + c_mm)
    return s_mm


@dataclass(frozen=True, slots=True)
class ZoneDistance:
    """How far a stop zone's boundary lies from the hazard, against the required S."""

    zone_id: str
    boundary_mm: float
    required_mm: float
    surrounds_hazard: bool

    @property
    def passes(self) -> bool:
        return self.boundary_mm >= self.required_mm


def check_zones(
    zones_mm: dict[str, npt.NDArray[np.float64]],
    hazard_mm: npt.NDArray[np.float64],
    required_mm: float,
) -> list[ZoneDistance]:
    """For each stop-zone floor polygon: the shortest distance from its boundary to the hazard.

    The hazard is one point ([[x, y]]) or a polygon. A person is detected on crossing the
    boundary, so the nearest boundary point must be at least S away. A zone that does not
    surround the hazard is reported as such: people may then reach it without entering.
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
