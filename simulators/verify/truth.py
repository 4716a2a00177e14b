"""Ground truth for stop zones: when a worker's anchor is truly inside, from the scene's truth.

Truth boxes (the visible pixels of every person) go through the same zone evaluation the box
uses (plantvision.zones.geometry, as perfect Detections), so truth means "what a perfect detector would
report". The scene is sampled every `step_ms` and each change is refined by bisection to
`resolution_ms`, so edges are exact to 1 ms without rendering every millisecond; an entry
shorter than one step can be missed, so scenes keep workers in a zone far longer than that.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plantvision.zones.geometry import CompiledZones
from simulators.scene.render import SceneRenderer
from simulators.scene.truth import PERSON
from simulators.verify.analysis import Span

Occupancy = Callable[[float], frozenset[str]]


def zone_occupancy(renderer: SceneRenderer, zones: CompiledZones) -> Occupancy:
    """t_s -> the stop zones a worker's anchor truly lies in at scene time t_s."""
    h, w = renderer.size

    def at(t_s: float) -> frozenset[str]:
        _, truth = renderer.render(t_s)
        det = truth.to_detections().select(truth.class_id == PERSON)
        return frozenset(zones.evaluate(det, w, h).stop_occupied)

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
            inside = z in state
            if inside and z not in opened:
                opened[z] = 0.0 if i == 0 else _edge(occupancy, z, times[i - 1], times[i], True,
                                                     resolution_ms)  # fmt: skip
            elif not inside and z in opened:
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


def to_spans(spans_s: dict[str, list[tuple[float, float]]], epoch_ns: int) -> dict[str, list[Span]]:
    """Scene-second spans placed on the monotonic clock of a run that started at `epoch_ns`."""
    return {
        z: [Span(epoch_ns + round(a * 1e9), epoch_ns + round(b * 1e9)) for a, b in v]
        for z, v in spans_s.items()
    }
