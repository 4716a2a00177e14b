"""Ground truth for stop zones, from the scene's own geometry: where each worker's feet are.

The judge shares no code with what it judges (DESIGN "Proof rules"): nothing here imports
plantvision.zones or plantvision.guard. The zone FILE is read as plain YAML and its stop polygons
placed on the scene's frame here (normalised, pixel or floor-mm units; floor mm through a
homography fitted here from the file's own calibration points). A worker is inside a zone when
its feet (the scene's `WorkerTrack`, the point it walks on, not any box drawn or detected) lie
inside the polygon. So a product bug in anchors, box scaling, filters or polygon loading makes
the box disagree with this truth instead of moving the truth along with it.

The scene is sampled every `step_ms` and each change is refined by bisection to `resolution_ms`;
an entry shorter than one step can be missed, so scenes keep workers in a zone far longer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from plantvision.errors import ConfigError
from simulators.scene.figures import WorkerTrack
from simulators.scene.scenario import SceneScenario
from simulators.verify.analysis import Span

Occupancy = Callable[[float], frozenset[str]]
F64 = npt.NDArray[np.float64]


def _points(raw: Any, path: Path, field: str) -> F64:
    pts = np.asarray(raw, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ConfigError(str(path), field, "needs 3 or more [x, y] points", "fix the polygon")
    return pts


def homography(src: F64, dst: F64) -> F64:
    """3x3 H with dst ~ H @ src (direct linear transform, least squares over 4+ point pairs)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows, np.float64))
    h: F64 = vt[-1].reshape(3, 3) / vt[-1][8]
    return h


def _apply(h: F64, pts: F64) -> F64:
    p = np.c_[pts, np.ones(len(pts))] @ h.T
    out: F64 = p[:, :2] / p[:, 2:3]
    return out


def stop_polygons_px(zone_file: Path, width_px: int, height_px: int) -> dict[str, F64]:
    """Each stop zone of `zone_file` as a polygon in pixels of a width x height frame."""
    data = yaml.safe_load(zone_file.read_text(encoding="utf-8"))
    units = data.get("units")
    fw, fh = data.get("frame_size") or (width_px, height_px)
    to_frame = np.array([width_px / fw, height_px / fh])
    if units == "floor_mm":
        cal = data.get("calibration") or {}
        img = _points(cal.get("image_px"), zone_file, "calibration.image_px") * to_frame
        h = homography(_points(cal.get("floor_mm"), zone_file, "calibration.floor_mm"), img)
    out: dict[str, F64] = {}
    for i, z in enumerate(data.get("zones") or []):
        if z.get("kind") != "stop":
            continue
        poly = _points(z.get("polygon"), zone_file, f"zones[{i}].polygon")
        if units == "normalized":
            poly = poly * (width_px, height_px)
        elif units == "pixels":
            poly = poly * to_frame
        elif units == "floor_mm":
            poly = _apply(h, poly)
        else:
            raise ConfigError(str(zone_file), "units", f"unknown units {units!r}",
                              "use normalized, pixels or floor_mm")  # fmt: skip
        out[str(z["id"])] = poly
    return out


def inside(poly: F64, x: float, y: float) -> bool:
    """Point in polygon by the even-odd rule (a point exactly on an edge may fall either way)."""
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return int(np.count_nonzero(crosses & (x < x_at))) % 2 == 1


def feet_occupancy(scene: SceneScenario, polygons: dict[str, F64]) -> Occupancy:
    """t_s -> the stop zones some worker's feet lie in at scene time t_s."""
    tracks = [WorkerTrack(w, scene.width_px, scene.height_px) for w in scene.workers]

    def at(t_s: float) -> frozenset[str]:
        feet = [pose.feet_xy for tr in tracks if (pose := tr.pose(t_s)) is not None]
        return frozenset(z for z, poly in polygons.items() if any(inside(poly, *f) for f in feet))

    return at


def occupancy_spans(
    occupancy: Occupancy,
    zone_ids: tuple[str, ...],
    duration_s: float,
    step_ms: float = 20.0,
    resolution_ms: float = 1.0,
) -> dict[str, list[tuple[float, float]]]:
    """Per zone, the (start_s, end_s) spans occupied within [0, duration_s]."""
    times = np.arange(0.0, duration_s + step_ms / 1000, step_ms / 1000)
    states = [occupancy(float(t)) for t in times]
    spans: dict[str, list[tuple[float, float]]] = {z: [] for z in zone_ids}
    opened: dict[str, float] = {}
    for i, state in enumerate(states):
        for z in zone_ids:
            inside_now = z in state
            if inside_now and z not in opened:
                opened[z] = 0.0 if i == 0 else _edge(occupancy, z, times[i - 1], times[i], True,
                                                     resolution_ms)  # fmt: skip
            elif not inside_now and z in opened:
                end = _edge(occupancy, z, times[i - 1], times[i], False, resolution_ms)
                spans[z].append((opened.pop(z), end))
    for z, start in opened.items():
        spans[z].append((start, float(times[-1])))
    return spans


def _edge(
    occupancy: Occupancy, zone: str, lo: float, hi: float, entering: bool, resolution_ms: float
) -> float:
    """The first time in (lo, hi] at which `zone` is occupied (entering) or clear (leaving)."""
    while (hi - lo) * 1000 > resolution_ms:
        mid = (lo + hi) / 2
        if (zone in occupancy(mid)) == entering:
            hi = mid
        else:
            lo = mid
    return hi


def scene_truth(
    scene: SceneScenario, zone_file: Path, duration_s: float, step_ms: float = 20.0
) -> dict[str, list[tuple[float, float]]]:
    """Per stop zone of `zone_file`, the scene-second spans a worker's feet are inside."""
    polygons = stop_polygons_px(zone_file, scene.width_px, scene.height_px)
    return occupancy_spans(feet_occupancy(scene, polygons), tuple(polygons), duration_s, step_ms)


def to_spans(spans_s: dict[str, list[tuple[float, float]]], epoch_ns: int) -> dict[str, list[Span]]:
    """Scene-second spans placed on the monotonic clock of a run that started at `epoch_ns`."""
    return {
        z: [Span(epoch_ns + round(a * 1e9), epoch_ns + round(b * 1e9)) for a, b in v]
        for z, v in spans_s.items()
    }
