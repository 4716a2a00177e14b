"""Render speed on one core: median / p99 / max ms per frame and frames per second.

python -m simulators.scene.bench simulators/scene/scenarios/cell.yaml --frames 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from simulators.scene.render import SceneRenderer
from simulators.scene.scenario import load_scenario


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path, help="scenario YAML")
    ap.add_argument("--frames", type=int, default=300, help="frames to render")
    a = ap.parse_args(argv)
    cv2.setNumThreads(1)  # one core: the figure the brief asks for
    sc = load_scenario(a.scenario)
    renderer = SceneRenderer(sc)
    times_ms = []
    for i in range(a.frames):
        t0 = time.perf_counter_ns()
        renderer.render(i / sc.fps)
        times_ms.append((time.perf_counter_ns() - t0) / 1e6)
    ms = np.array(times_ms)
    print(
        f"{a.scenario.name} {sc.width_px}x{sc.height_px}: median {np.median(ms):.2f} ms, "
        f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms, "
        f"{1000 / np.median(ms):.0f} fps (median)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
