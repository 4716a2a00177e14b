"""Random scenarios for training and held-out evaluation: one seed, one varied scene."""

from __future__ import annotations

import numpy as np

from simulators.scene.scenario import Appearance, Conveyor, SceneScenario, WorkerPath


def _workers(rng: np.random.Generator, n: int, y_lo: float) -> list[WorkerPath]:
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 5))
        pts = np.column_stack([rng.uniform(-0.05, 1.05, k), rng.uniform(y_lo, 1.08, k)])
        out.append(
            WorkerPath(
                waypoints=[(float(x), float(y)) for x, y in pts],
                speed_per_s=float(rng.uniform(0.03, 0.2)),
                start_s=float(rng.uniform(0, 3)),
                pause_s=float(rng.uniform(0, 3)),
                height=float(rng.uniform(0.2, 0.6)),
                clothing="any",
            )
        )
    return out


def _conveyor(rng: np.random.Generator, height_px: int) -> Conveyor:
    mm_per_px = float(rng.uniform(0.6, 1.6))
    size_px = float(rng.uniform(40, 110))
    top = float(rng.uniform(0.2, 0.6))
    band = min(0.38, size_px * float(rng.uniform(1.35, 2.2)) / height_px)
    jitter = float(rng.uniform(0, 0.2))
    size_mm = size_px * mm_per_px
    return Conveyor(
        y_band=(top, top + band),
        belt_speed_mm_s=float(rng.uniform(50, 600)),
        mm_per_px=mm_per_px,
        item_size_mm=size_mm,
        item_pitch_mm=size_mm * float(rng.uniform(1.3, 3.0)) / (1 - 2 * jitter),
        defect_rate=float(rng.uniform(0.3, 0.6)),
        pitch_jitter=jitter,
    )


def random_scenario(seed: int, width_px: int = 640, height_px: int = 480) -> SceneScenario:
    """A cell, a conveyor, or both, with random workers, look and camera effects."""
    rng = np.random.default_rng([seed, 77])
    kind = rng.choice(["cell", "conveyor", "both"], p=[0.4, 0.35, 0.25])
    conveyor = _conveyor(rng, height_px) if kind != "cell" else None
    n_workers = int(rng.integers(1, 5)) if kind == "cell" else int(rng.integers(0, 3))
    x0, y0 = rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.4)
    machine = (float(x0), float(y0), float(x0 + rng.uniform(0.15, 0.35)),
               float(y0 + rng.uniform(0.15, 0.3)))  # fmt: skip
    lo = float(rng.uniform(0.3, 0.9))
    occluders = []
    for _ in range(int(rng.integers(0, 3))):
        ox, oy = rng.uniform(0, 0.9), rng.uniform(0.3, 0.9)
        occluders.append((float(ox), float(oy), float(ox + rng.uniform(0.03, 0.12)),
                          float(oy + rng.uniform(0.05, 0.2))))  # fmt: skip
    return SceneScenario(
        seed=seed,
        width_px=width_px,
        height_px=height_px,
        duration_s=30.0,
        machine_box=machine if rng.random() < 0.7 else None,
        workers=_workers(rng, n_workers, 0.15),
        conveyor=conveyor,
        appearance=Appearance(
            noise_sigma=float(rng.uniform(0, 8)),
            blur_px=int(rng.integers(0, 3)),
            light_min=lo,
            light_max=float(min(1.6, lo + rng.uniform(0.05, 0.5))),
            light_period_s=float(rng.uniform(5, 30)),
            perspective=float(rng.uniform(0.4, 1.0)),
            occluders=occluders,
        ),
    )
