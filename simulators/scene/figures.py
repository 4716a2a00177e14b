"""Workers: where each one is at time t, and an articulated figure drawn there.

A worker walks its waypoints forward, pauses, walks back, pauses, and repeats. The walking
phase follows the distance walked, so legs and arms swing in step with the ground speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulators.scene.paint import Colour, Painter
from simulators.scene.scenario import WorkerPath

TOPS: tuple[Colour, ...] = (
    (140, 80, 40), (90, 90, 95), (60, 110, 60), (50, 50, 160), (130, 120, 110), (40, 40, 45),
    (160, 150, 60), (200, 200, 200),
)  # fmt: skip
TROUSERS: tuple[Colour, ...] = ((70, 40, 20), (50, 50, 55), (90, 110, 120), (30, 30, 30))
VESTS: tuple[Colour, ...] = ((40, 230, 220), (30, 140, 250), (60, 240, 170))
SKINS: tuple[Colour, ...] = ((150, 180, 225), (120, 150, 200), (80, 110, 160), (50, 70, 110))
HATS: tuple[Colour, ...] = ((240, 240, 240), (30, 210, 240), (200, 120, 30), (40, 90, 230))


@dataclass(frozen=True, slots=True)
class Look:
    """A worker's fixed appearance, drawn from the seed once."""

    top: Colour
    trousers: Colour
    skin: Colour
    vest: Colour | None
    hat: Colour | None
    hair: Colour
    build: float  # torso width factor, 0.85..1.15


def make_look(rng: np.random.Generator, clothing: str) -> Look:
    hivis = rng.random() < 0.5 if clothing == "any" else clothing == "hivis"

    def pick(options: tuple[Colour, ...]) -> Colour:
        return options[int(rng.integers(len(options)))]

    hair = (int(rng.integers(10, 60)), int(rng.integers(20, 70)), int(rng.integers(30, 90)))
    return Look(
        top=pick(TOPS),
        trousers=pick(TROUSERS),
        skin=pick(SKINS),
        vest=pick(VESTS) if hivis else None,
        hat=pick(HATS) if rng.random() < 0.6 else None,
        hair=hair,
        build=float(rng.uniform(0.85, 1.15)),
    )


@dataclass(frozen=True, slots=True)
class Pose:
    """Where a worker stands at one instant (pixels) and how far along its stride it is."""

    feet_xy: tuple[float, float]
    phase_rad: float
    moving: bool
    heading_x: float  # -1..1: share of motion that is sideways (sign = direction)


class WorkerTrack:
    """Kinematics of one scripted path on a frame of width x height pixels."""

    def __init__(self, path: WorkerPath, width_px: int, height_px: int) -> None:
        pts = np.array(path.waypoints, np.float64) * (width_px, height_px)
        seg = np.diff(pts, axis=0)
        self.points = pts
        self.seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        self.length_px = float(self.cum[-1])
        self.speed_px_s = path.speed_per_s * width_px
        self.start_s = path.start_s
        self.pause_s = path.pause_s
        self.walk_s = self.length_px / self.speed_px_s if self.length_px > 0 else 0.0

    def pose(self, t_s: float) -> Pose | None:
        """The pose at `t_s`, or None before the worker's start time."""
        tau = t_s - self.start_s
        if tau < 0:
            return None
        cycle = 2 * (self.walk_s + self.pause_s)
        k, r = divmod(tau, cycle) if cycle > 0 else (0.0, 0.0)
        half = self.walk_s + self.pause_s
        forward = r < half
        r_leg = r if forward else r - half
        moving = r_leg < self.walk_s
        d = min(r_leg, self.walk_s) * self.speed_px_s
        s = d if forward else self.length_px - d
        i = int(np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.seg_len) - 1))
        frac = (s - self.cum[i]) / self.seg_len[i] if self.seg_len[i] > 0 else 0.0
        p = self.points[i] + frac * (self.points[i + 1] - self.points[i])
        direction = (self.points[i + 1] - self.points[i]) * (1 if forward else -1)
        norm = float(np.hypot(*direction)) or 1.0
        walked = (k * 2 + (0 if forward else 1)) * self.length_px + d
        return Pose((float(p[0]), float(p[1])), walked / 40.0, moving, direction[0] / norm)


def _shade(c: Colour, f: float) -> Colour:
    return (min(255, int(c[0] * f)), min(255, int(c[1] * f)), min(255, int(c[2] * f)))


@dataclass(frozen=True, slots=True)
class _Body:
    """Figure geometry for one frame: feet, size, facing and the joint heights (pixels)."""

    h: float
    fx: float
    fy: float
    side: float  # 0 = facing the camera, 1 = in profile
    sx: float  # +1 walking right, -1 walking left
    swing: float  # leg swing angle, rad
    hip_w: float
    sh_w: float

    @property
    def hip_y(self) -> float:
        return self.fy - 0.5 * self.h

    @property
    def sh_y(self) -> float:
        return self.fy - 0.8 * self.h

    def limb(
        self, root: tuple[float, float], ang: float, l1: float, l2: float, bend: float
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """(joint, end) of a two-segment limb; angle 0 points down, positive swings forward."""
        sx, fore = self.sx, 0.3 + 0.7 * self.side
        j = (root[0] + sx * l1 * math.sin(ang) * fore, root[1] + l1 * math.cos(ang))
        a2 = ang + bend
        return j, (j[0] + sx * l2 * math.sin(a2) * fore, j[1] + l2 * math.cos(a2))


def _legs(p: Painter, b: _Body, look: Look) -> None:
    dark = _shade(look.trousers, 0.75)
    leg_t = 0.085 * b.h
    for k, (offset, ang) in enumerate([(-1.0, b.swing), (1.0, -b.swing)]):
        hip = (b.fx + offset * b.hip_w, b.hip_y)
        knee, foot = b.limb(hip, ang, 0.25 * b.h, 0.25 * b.h, -0.35 * max(0.0, -ang) * 2)
        colour = dark if k == 0 else look.trousers
        p.line(hip, knee, leg_t, colour)
        p.line(knee, foot, leg_t * 0.9, colour)
        toe = (foot[0] + b.sx * 0.06 * b.h * (0.3 + 0.7 * b.side), foot[1])
        p.line(foot, toe, leg_t * 0.7, (25, 25, 30))


def _torso(p: Painter, b: _Body, look: Look) -> None:
    h, fx, sh_y, hip_y = b.h, b.fx, b.sh_y, b.hip_y
    torso = np.array(
        [
            (fx - b.sh_w, sh_y),
            (fx + b.sh_w, sh_y),
            (fx + b.hip_w * 1.3, hip_y + 0.04 * h),
            (fx - b.hip_w * 1.3, hip_y + 0.04 * h),
        ]
    )
    p.poly(torso, look.top)
    if look.vest is not None:
        vest = torso.copy()
        vest[:, 1] = np.clip(vest[:, 1], sh_y + 0.02 * h, hip_y - 0.02 * h)
        vest[:2, 0] = (fx - b.sh_w * 0.85, fx + b.sh_w * 0.85)
        p.poly(vest, look.vest)
        for yy in (0.62, 0.7):  # reflective bands
            band = [(fx - b.sh_w * 0.9, b.fy - yy * h), (fx + b.sh_w * 0.9, b.fy - yy * h)]
            p.line(band[0], band[1], max(1.0, 0.018 * h), (200, 205, 205))


def _arms(p: Painter, b: _Body, look: Look) -> None:
    arm_t = 0.06 * b.h
    for k, (offset, ang) in enumerate([(-1.0, -0.8 * b.swing), (1.0, 0.8 * b.swing)]):
        sh = (b.fx + offset * b.sh_w * 0.85, b.sh_y + 0.02 * b.h)
        elbow, hand = b.limb(sh, ang, 0.17 * b.h, 0.16 * b.h, 0.5 + 0.3 * abs(ang))
        sleeve = _shade(look.top, 0.8) if k == 0 else look.top
        p.line(sh, elbow, arm_t, sleeve)
        p.line(elbow, hand, arm_t * 0.85, sleeve)
        p.circle(hand, arm_t * 0.55, look.skin)


def _head(p: Painter, b: _Body, look: Look) -> None:
    h, sx, side = b.h, b.sx, b.side
    neck = (b.fx + sx * 0.01 * h * side, b.sh_y - 0.03 * h)
    p.line((b.fx, b.sh_y), neck, 0.06 * h, look.skin)
    head = (neck[0] + sx * 0.015 * h * side, b.sh_y - 0.105 * h)
    p.circle(head, 0.068 * h, look.skin)
    if look.hat is not None:
        hat = np.array(
            [(head[0] - 0.085 * h, head[1] - 0.005 * h), (head[0] + 0.085 * h, head[1] - 0.005 * h)]
        )
        cap = [(head[0] + 0.075 * h * math.cos(a), head[1] - 0.075 * h * math.sin(a))
               for a in np.linspace(0, math.pi, 7)]  # fmt: skip
        p.poly(np.vstack([hat[1:], np.array(cap[1:-1]), hat[:1]]), look.hat)
        p.line(tuple(hat[0]), tuple(hat[1]), max(1.0, 0.02 * h), look.hat)
    else:
        p.ellipse(
            (head[0] - sx * 0.01 * h, head[1] - 0.035 * h), (0.06 * h, 0.035 * h), 0, look.hair
        )


def draw_worker(p: Painter, pose: Pose, look: Look, height_px: float) -> None:
    """An articulated figure whose feet touch `pose.feet_xy`, `height_px` tall."""
    h = height_px
    side = abs(pose.heading_x)
    swing = 0.45 * math.sin(pose.phase_rad * (h / 40.0) ** -0.5 * 2.0) if pose.moving else 0.0
    body = _Body(
        h=h,
        fx=pose.feet_xy[0],
        fy=pose.feet_xy[1],
        side=side,
        sx=1.0 if pose.heading_x >= 0 else -1.0,
        swing=swing,
        hip_w=(0.07 * (1 - side) + 0.015) * h * look.build,
        sh_w=(0.12 * (1 - side) + 0.04) * h * look.build,
    )
    # far limbs first, then torso, then near limbs: a crude painter's order
    _legs(p, body, look)
    _torso(p, body, look)
    _arms(p, body, look)
    _head(p, body, look)
