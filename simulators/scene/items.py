"""Conveyor items: which items are in view at time t, where, and how each looks.

Item k's leading edge is at belt position `P - k*pitch - jitter_k` mm, measured from the
frame's left edge, where P is the belt travel (`v*t` at the scenario's fixed speed, or given by a
caller that drives the belt, e.g. the PLC simulator); k runs over all integers, so the belt is
already full at t = 0. Every item's look and defect come from a generator seeded by
(scene seed, k): any item, any time, same result.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators.scene.paint import Colour, Painter
from simulators.scene.scenario import Conveyor

DEFECT_KINDS = ("spots", "crack", "corner", "dent")
ITEM_COLOURS: tuple[Colour, ...] = (
    (120, 170, 200),
    (200, 200, 195),
    (90, 140, 170),
    (150, 190, 160),
)
BELT: Colour = (62, 60, 58)


@dataclass(frozen=True, slots=True)
class ItemLook:
    colour: Colour
    angle_rad: float
    y_offset: float  # share of the free band height, -1..1
    jitter_mm: float
    defect: str | None
    detail: npt.NDArray[np.float64]  # defect geometry in item units (-0.5..0.5), kind-specific


def item_look(seed: int, k: int, conv: Conveyor) -> ItemLook:
    rng = np.random.default_rng([seed, 9173, k & 0xFFFFFFFF])
    defective = bool(rng.random() < conv.defect_rate)
    kind = DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))] if defective else None
    detail = rng.uniform(-1, 1, size=(4, 3))
    return ItemLook(
        colour=ITEM_COLOURS[int(rng.integers(len(ITEM_COLOURS)))],
        angle_rad=float(rng.uniform(-0.25, 0.25)),
        y_offset=float(rng.uniform(-1, 1)),
        jitter_mm=float(rng.uniform(-1, 1) * conv.pitch_jitter * conv.item_pitch_mm),
        defect=kind,
        detail=detail,
    )


class Belt:
    """Item placement for one conveyor on a frame of width x height pixels."""

    def __init__(self, conv: Conveyor, seed: int, width_px: int, height_px: int) -> None:
        self.conv = conv
        self.seed = seed
        self.mm_per_px = conv.mm_per_px * 640.0 / width_px
        self.width_px = width_px
        self.y0_px, self.y1_px = conv.y_band[0] * height_px, conv.y_band[1] * height_px
        self.size_px = conv.item_size_mm / self.mm_per_px
        self._looks: dict[int, ItemLook] = {}

    def look(self, k: int) -> ItemLook:
        if k not in self._looks:
            if len(self._looks) > 4096:  # a bounded cache: frames may be rendered in any order
                self._looks.clear()
            self._looks[k] = item_look(self.seed, k, self.conv)
        return self._looks[k]

    def travel_mm(self, t_s: float) -> float:
        """Belt travel at scene time `t_s` at the scenario's fixed speed."""
        return self.conv.belt_speed_mm_s * t_s

    def centre_mm(self, k: int, travel_mm: float) -> float:
        """Item k's centre, mm from the frame's left edge, at belt travel `travel_mm`."""
        c = self.conv
        return travel_mm - k * c.item_pitch_mm - self.look(k).jitter_mm - c.item_size_mm / 2

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        """(k, centre mm, defective) of the item whose centre is nearest `x_mm`."""
        c = self.conv
        k0 = round((travel_mm - x_mm - c.item_size_mm / 2) / c.item_pitch_mm)
        # Jitter moves an item less than half a pitch: the nearest is within two of k0.
        k = min(range(k0 - 2, k0 + 3), key=lambda j: abs(self.centre_mm(j, travel_mm) - x_mm))
        return k, self.centre_mm(k, travel_mm), self.look(k).defect is not None

    def in_view(self, travel: float) -> list[tuple[int, float, float, ItemLook]]:
        """(k, centre x px, centre y px, look) of every item overlapping the frame at belt
        travel `travel` (mm)."""
        c = self.conv
        span_mm = self.width_px * self.mm_per_px + 2 * c.item_size_mm
        k_hi = math.floor((travel + c.item_size_mm) / c.item_pitch_mm) + 1
        k_lo = math.ceil((travel - span_mm) / c.item_pitch_mm) - 1
        free = max(0.0, (self.y1_px - self.y0_px) - self.size_px * 1.2) / 2
        out = []
        for k in range(k_lo, k_hi + 1):
            lk = self.look(k)
            lead_mm = travel - k * c.item_pitch_mm - lk.jitter_mm
            cx = (lead_mm - c.item_size_mm / 2) / self.mm_per_px
            if -self.size_px < cx < self.width_px + self.size_px:
                cy = (self.y0_px + self.y1_px) / 2 + lk.y_offset * free
                out.append((k, cx, cy, lk))
        return out


def _square(cx: float, cy: float, half: float, ang: float) -> npt.NDArray[np.float64]:
    ca, sa = math.cos(ang), math.sin(ang)
    unit = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], np.float64) * half
    pts: npt.NDArray[np.float64] = unit @ np.array([[ca, sa], [-sa, ca]]) + (cx, cy)
    return pts


def draw_item(p: Painter, cx: float, cy: float, size_px: float, lk: ItemLook) -> None:
    """The item and its defect; a missing corner is cut back to the background (and label)."""
    half = size_px / 2
    sq = _square(cx, cy, half, lk.angle_rad)
    p.poly(sq, lk.colour)
    p.poly(_square(cx, cy, half * 0.7, lk.angle_rad), tuple(int(v * 0.93) for v in lk.colour))  # type: ignore[arg-type]
    d = lk.detail
    ca, sa = math.cos(lk.angle_rad), math.sin(lk.angle_rad)

    def at(u: float, v: float) -> tuple[float, float]:
        return (cx + (u * ca - v * sa) * size_px, cy + (u * sa + v * ca) * size_px)

    dark: Colour = (30, 35, 40)
    if lk.defect == "spots":
        for i in range(1 + int(abs(d[3, 0]) * 2.99)):
            p.circle(
                at(d[i, 0] * 0.28, d[i, 1] * 0.28), size_px * (0.08 + 0.04 * abs(d[i, 2])), dark
            )
    elif lk.defect == "crack":
        pts = [at(-0.45, d[0, 0] * 0.3)] + [
            at(-0.15 + 0.3 * i, d[i + 1, 1] * 0.3) for i in range(2)
        ]
        pts.append(at(0.45, d[3, 1] * 0.3))
        for a, b in itertools.pairwise(pts):
            p.line(a, b, max(2.0, size_px * 0.05), dark)
    elif lk.defect == "corner":
        corner = int(abs(d[0, 0]) * 3.99)
        cut = 0.35 + 0.15 * abs(d[0, 1])
        tip, centre = sq[corner], np.array([cx, cy])
        prev, nxt = sq[corner - 1], sq[(corner + 1) % 4]
        out = tip + (tip - centre) * 0.1  # past the tip so no sliver of corner survives
        p.erase(np.array([out, tip + (prev - tip) * cut, tip + (nxt - tip) * cut]))
    elif lk.defect == "dent":
        c = at(d[0, 0] * 0.15, d[0, 1] * 0.15)
        axes = (size_px * (0.18 + 0.06 * abs(d[1, 0])), size_px * (0.12 + 0.05 * abs(d[1, 1])))
        p.ellipse(c, axes, math.degrees(d[2, 0]), tuple(int(v * 0.55) for v in lk.colour))  # type: ignore[arg-type]
        hl = (c[0] - axes[0] * 0.35, c[1] - axes[1] * 0.35)
        p.ellipse(hl, (axes[0] * 0.4, axes[1] * 0.3), math.degrees(d[2, 0]), (235, 240, 245))
