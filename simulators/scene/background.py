"""The static part of a frame: floor, markings, machine, belt bed, drawn once per renderer."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from simulators.scene.items import Belt
from simulators.scene.scenario import SceneScenario

FLOORS = ((120, 125, 118), (95, 105, 100), (140, 140, 135), (90, 110, 120), (105, 120, 95))
MACHINES = ((60, 90, 150), (150, 140, 120), (70, 130, 70), (170, 170, 170), (40, 60, 200))
SLAT_PITCH_MM = 25.0


def _rect(img: npt.NDArray[np.uint8], box: tuple[float, ...], c: tuple[int, ...]) -> None:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (round(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), tuple(int(v) for v in c), -1)


def static_background(sc: SceneScenario) -> npt.NDArray[np.uint8]:
    """Floor with a light gradient and tiles, hazard markings, clutter and the machine body."""
    rng = np.random.default_rng([sc.seed, 1])
    w, h = sc.width_px, sc.height_px
    floor = np.array(FLOORS[int(rng.integers(len(FLOORS)))], np.float32)
    floor = floor * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.0, 0.5) * h
    light = 1.1 - 0.35 * np.hypot((xx - cx) / w, (yy - cy) / h)
    img = np.clip(floor[None, None, :] * light[..., None], 0, 255).astype(np.uint8)
    tile = int(rng.integers(40, 90)) * w // 640
    for x in range(int(rng.integers(0, tile)), w, tile):
        cv2.line(img, (x, 0), (x, h - 1), (70, 72, 70), 1)
    for y in range(int(rng.integers(0, tile)), h, tile):
        cv2.line(img, (0, y), (w - 1, y), (70, 72, 70), 1)
    for _ in range(int(rng.integers(1, 4))):  # clutter: cabinets, pallets, floor patches
        x0, y0 = rng.uniform(0, 0.9), rng.uniform(0, 0.8)
        box = (x0, y0, x0 + rng.uniform(0.04, 0.15), y0 + rng.uniform(0.04, 0.18))
        _rect(img, box, tuple(int(v) for v in rng.integers(40, 200, 3)))
    if sc.machine_box is not None:
        x0, y0, x1, y1 = sc.machine_box
        base = MACHINES[int(rng.integers(len(MACHINES)))]
        pad = 0.03
        _rect(img, (x0 - pad, y0 - pad, x1 + pad, y1 + pad), (40, 200, 230))  # yellow floor line
        _rect(
            img, (x0 - pad / 2, y0 - pad / 2, x1 + pad / 2, y1 + pad / 2), tuple(floor.astype(int))
        )
        _rect(img, sc.machine_box, base)
        _rect(img, (x0 + 0.1 * (x1 - x0), y0 + 0.1 * (y1 - y0), x0 + 0.45 * (x1 - x0),
                    y0 + 0.5 * (y1 - y0)), (30, 30, 30))  # fmt: skip
        _rect(img, (x0 + 0.6 * (x1 - x0), y0 + 0.15 * (y1 - y0), x0 + 0.7 * (x1 - x0),
                    y0 + 0.25 * (y1 - y0)), (30, 30, 220))  # fmt: skip
    if sc.conveyor is not None:
        top, bottom = sc.conveyor.y_band
        _rect(img, (0, top - 0.015, 1, bottom + 0.015), (150, 150, 150))  # side rails
        _rect(img, (0, top, 1, bottom), (62, 60, 58))
    out: npt.NDArray[np.uint8] = img.astype(np.uint8)
    return out


def draw_slats(img: npt.NDArray[np.uint8], belt: Belt, travel_mm: float) -> None:
    """Belt joints that move with the belt, so the belt itself visibly travels."""
    pitch_px = SLAT_PITCH_MM / belt.mm_per_px
    offset = (travel_mm / belt.mm_per_px) % pitch_px
    y0, y1 = round(belt.y0_px), round(belt.y1_px) - 1
    for x in np.arange(offset, belt.width_px, pitch_px):
        xi = int(x)
        cv2.line(img, (xi, y0), (xi, y1), (48, 47, 46), 1)
