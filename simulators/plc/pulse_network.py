"""Box-timed rejection behind a network camera: push error against the belt's true arrival.

The rig's network mode (an MJPEG-over-HTTP camera exposing the simulator's belt, read through the
box's own `stream` source, the real ONNX detector). Two ways to date a frame, side by side:
`frame_stamps: arrival` (OpenCV's reader, the frame stamped when the box has it) and
`frame_stamps: camera` (the box's MJPEG reader, the frame dated by the capture time its part
carries, on the camera's own clock). For each, the capture latency is first measured frame by
frame through that reader (simulators.scene.mjpeg), as an integrator measures it on site; then
each speed runs with `source.capture_latency_ms` set to that median, the two ways interleaved
per round.
Each push is judged by the simulator against the item's true position (`error_ms`: the item's
offset from the ejector at the push, as ms at belt speed, positive late).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from plantvision.types import ImageArray
from simulators.plc.pulse_figures import stats
from simulators.plc.rig import RigResult, RigSpec, run_rig
from simulators.plc.rig_spec import Stamps
from simulators.scene import SceneRenderer, load_scenario
from simulators.scene.mjpeg import MjpegCamera, measure_latency_ms

CELL_MODEL = Path(__file__).parents[2] / "plantvision" / "models" / "cell_detector.onnx"
SCENARIO = Path(__file__).parents[1] / "scene" / "scenarios" / "conveyor.yaml"


def capture_latency_ms(fps: float, stamps: Stamps, seconds: float = 5.0) -> list[float]:
    """Exposure to the box reader's stamp, per frame, for a network camera over a belt moving
    at 1 m/s (what an integrator measures on site with a marked frame)."""
    renderer = SceneRenderer(load_scenario(SCENARIO))

    def render(t_s: float, travel_mm: float) -> ImageArray:
        image: ImageArray = renderer.render(t_s, travel_mm)[0]
        return image

    camera = MjpegCamera(render, fps)
    t0 = time.monotonic_ns()

    def read_belt() -> tuple[int, float]:
        now = time.monotonic_ns()
        return now, (now - t0) / 1e6

    camera.start(read_belt)
    try:
        return measure_latency_ms(camera, seconds, stamps=stamps)
    finally:
        camera.stop()


def _run(spec: RigSpec) -> RigResult:
    with tempfile.TemporaryDirectory() as folder:
        return run_rig(spec, Path(folder))


def network_figures(
    speeds_mm_s: Sequence[float], belt_s: float, fps: float, rounds: int, model: Path | None
) -> list[str]:
    """Per speed and told latency: pushes of defects, good pushes, push error stats."""
    ways: tuple[Stamps, ...] = ("arrival", "camera")
    told: dict[str, float] = {}
    lines = [
        f"network camera: MJPEG over HTTP on loopback at {fps:g} fps, read by the box's stream "
        f"source; detector {model or CELL_MODEL}",
    ]
    for way in ways:
        lat = capture_latency_ms(fps, way)
        told[way] = round(float(np.median(lat)), 1)
        lines.append("  " + stats(f"frame_stamps {way}: capture latency (exposure to stamp)", lat))
    pooled: dict[tuple[float, Stamps], list[RigResult]] = {}
    for _ in range(rounds):
        for speed in speeds_mm_s:
            for way in ways:
                spec = RigSpec(
                    speed, "box", belt_s=belt_s, fps=fps, model=model or CELL_MODEL,
                    defect_rate=0.5, network=True, capture_ms=told[way], told=True,
                    stamps=way,
                )  # fmt: skip
                pooled.setdefault((speed, way), []).append(_run(spec))
    for (speed, how), results in pooled.items():
        defective = sum(len(r.defective_passed) for r in results)
        pushed = sum(len(r.defective_passed & r.binned) for r in results)
        good = sum(len(r.good_rejected) for r in results)
        errors = [e for r in results for e in r.position_errors_ms()]
        lines += [
            f"{speed / 1000:.1f} m/s, frame_stamps {how}, capture_latency_ms {told[how]:g}: "
            f"defects pushed {pushed} of {defective}, good items pushed {good}",
            "  " + stats("push error against the true arrival", errors),
        ]
    return lines
