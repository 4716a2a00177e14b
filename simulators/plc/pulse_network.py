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

The plant (PLC simulator, belt truth, camera, witness) runs in a process of its own by default
(simulators.plc.plant_process); with more than one of `plants` ("process", "thread": in the
box's process) every run is made once per plant, taking turns, and each row adds the pulse
timing error at the simulator (coil on minus the plan's fire time) and the ejector child's own
switch-on error, with the load average before and after.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from plantvision.types import ImageArray
from simulators.plc.pulse_figures import stats
from simulators.plc.rig import RigResult, RigSpec, run_rig
from simulators.plc.rig_spec import PlantWhere, Stamps
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
    speeds_mm_s: Sequence[float],
    belt_s: float,
    fps: float,
    rounds: int,
    model: Path | None,
    plants: Sequence[PlantWhere] = ("process",),
) -> list[str]:
    """Per speed and told latency (and plant, with more than one): pushes of defects, good
    pushes, push error stats."""
    ways: tuple[Stamps, ...] = ("arrival", "camera")
    told: dict[str, float] = {}
    lines = [
        f"network camera: MJPEG over HTTP on loopback at {fps:g} fps, read by the box's stream "
        f"source; detector {model or CELL_MODEL}",
    ]
    if len(plants) > 1:
        lines.append(f"load average before: {_load()}")
    for way in ways:
        lat = capture_latency_ms(fps, way)
        told[way] = round(float(np.median(lat)), 1)
        lines.append("  " + stats(f"frame_stamps {way}: capture latency (exposure to stamp)", lat))
    pooled: dict[tuple[float, Stamps, PlantWhere], list[RigResult]] = {}
    for _ in range(rounds):
        for speed in speeds_mm_s:
            for way in ways:
                for plant in plants:  # taking turns: each sees the same load
                    spec = RigSpec(
                        speed, "box", belt_s=belt_s, fps=fps, model=model or CELL_MODEL,
                        defect_rate=0.5, network=True, capture_ms=told[way], told=True,
                        stamps=way, plant=plant,
                    )  # fmt: skip
                    pooled.setdefault((speed, way, plant), []).append(_run(spec))
    for (speed, how, plant), results in pooled.items():
        head = f"{speed / 1000:.1f} m/s, frame_stamps {how}, capture_latency_ms {told[how]:g}"
        lines += _rows(head, results, plant if len(plants) > 1 else None)
    if len(plants) > 1:
        lines.append(f"load average after: {_load()}")
        for plant in plants:
            notes = {r.plant for (_, _, p), rs in pooled.items() if p == plant for r in rs}
            lines.append(f"plant {plant}: {'; '.join(sorted(notes))}")
    return lines


def _rows(head: str, results: list[RigResult], plant: str | None) -> list[str]:
    """One speed and way's figures; `plant`: named when plants are compared, and the row then
    adds the pulse timing at the simulator and the ejector child's switch-on."""
    defective = sum(len(r.defective_passed) for r in results)
    pushed = sum(len(r.defective_passed & r.binned) for r in results)
    good = sum(len(r.good_rejected) for r in results)
    errors = [e for r in results for e in r.position_errors_ms()]
    where = "" if plant is None else f", plant {plant}"
    lines = [
        f"{head}{where}: defects pushed {pushed} of {defective}, good items pushed {good}",
        "  " + stats("push error against the true arrival", errors),
    ]
    if plant is not None:
        timing = [e for r in results for e in r.timing_errors_ms()]
        switch_on = [e / 1e6 for r in results for e in r.timer_errors_ns]
        lines += [
            "  " + stats("pulse timing error at the simulator (coil on - plan)", timing),
            "  " + stats("ejector timer switch-on error", switch_on),
        ]
    return lines


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())
