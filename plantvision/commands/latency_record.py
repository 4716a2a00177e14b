"""Recording a belt start for `plantvision capture-latency`: encoder readings and frame marks.

The camera is built as `run` builds it (plantvision.loop.build: its source, its detector), so
the frames are stamped by the product's own capture thread. A poller thread reads the encoder
through the read-only probe (plantvision.plc.probe) and keeps each reading the product's `Belt`
takes (the count unwrapped, dated back by `encoder.latency_ms`; readings blurred by a round trip
longer than the runtime accepts are left out, and a jump refuses the recording). The calling
thread takes the newest frame, runs the detector and keeps its marks. Once the belt has stood
with items in view for `STANDING_FRAMES` frames the integrator is told to start it
(`on_standing`); the recording ends when the belt has carried every standing item out of the
view (its length plus the travel in the longest latency allowed), or after `seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plantvision import log
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.latency import Limits, Track
from plantvision.conveyor.latency_align import Marks, marks_of
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.conveyor.runtime import MAX_HALF_RTT_NS
from plantvision.loop.build import SimulatedGrabber, build_cameras
from plantvision.loop.camera import DetectorLike
from plantvision.loop.deployment import DeploymentModel
from plantvision.plc.probe import EncoderProbe, PlcUnreachableError
from plantvision.types import Frame

POLL_S = 0.002  # an encoder reading every ~2 ms: a 500 mm/s belt moves 1 mm between two
STANDING_FRAMES = 10  # frames with items in view before the belt may start
SPEED_SPAN_NS = 50_000_000  # the belt's speed for the end of the recording: over 50 ms


@dataclass(frozen=True)
class Recording:
    """What a belt start gave: the encoder track, each frame's marks, readings left out."""

    track: Track
    frames: list[Marks]
    blurred: int


class _Poller:
    """Reads the encoder on its own thread into a Belt; keeps every reading the Belt took."""

    def __init__(self, probe: EncoderProbe, cfg: ConveyorConfig) -> None:
        self._probe, self._belt = probe, Belt(cfg.belt, probe.width)
        self._lock = threading.Lock()
        self._t: list[int] = []
        self._mm: list[float] = []
        self.blurred = 0
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="encoder-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Track:
        self._stop.set()
        self._thread.join(2.0)
        with self._lock:
            return Track(np.array(self._t, np.int64), np.array(self._mm, np.float64))

    def travel(self) -> tuple[float, float] | None:
        """(travel since the first reading, mm; speed over the last 50 ms, mm/s); None before
        two readings. Raises what stopped the poller."""
        if self.error is not None:
            raise self.error
        with self._lock:
            if len(self._t) < 2:
                return None
            t, mm = self._t[-1], self._mm[-1]
            i = max(0, int(np.searchsorted(self._t, t - SPEED_SPAN_NS)) - 1)
            span_s = max((t - self._t[i]) / 1e9, 1e-9)
            return mm - self._mm[0], (mm - self._mm[i]) / span_s

    def _run(self) -> None:
        try:
            while not self._stop.wait(POLL_S):
                self._take()
        except (PlcUnreachableError, ValueError) as exc:
            self.error = exc

    def _take(self) -> None:
        got = self._probe.read()
        if got.half_rtt_ns > MAX_HALF_RTT_NS:
            self.blurred += 1
            return
        self._belt.sample(got.t_ns, got.count)
        if self._belt.discontinuities:
            raise ValueError(
                "the encoder count jumped (a PLC restart or preset): start the measurement again"
            )
        newest = self._belt.newest()
        with self._lock:
            if newest is not None and (not self._t or newest[0] > self._t[-1]):
                self._t.append(newest[0])
                self._mm.append(newest[1])


def record(
    frames_in: Callable[[float], Frame | None],
    detector: DetectorLike,
    cfg: ConveyorConfig,
    probe: EncoderProbe,
    *,
    seconds: float,
    limits: Limits,
    on_standing: Callable[[int], None],
    clock_ns: Callable[[], int] = time.monotonic_ns,
) -> Recording:
    """Record until the belt has carried the standing items out of view, or `seconds`
    (see the module docstring); `frames_in(timeout_s)`: the newest frame, or None."""
    poller = _Poller(probe, cfg)
    mapping, classes = ImageToBelt(cfg.mapping), (cfg.item_class, cfg.defect_class)
    frames: list[Marks] = []
    told, view_mm = False, 0.0
    poller.start()
    try:
        deadline = clock_ns() + int(seconds * 1e9)
        while clock_ns() < deadline:
            frame = frames_in(0.5)
            belt = poller.travel()
            if frame is None or belt is None:
                continue
            lo, hi = mapping.view_mm(frame.width, frame.height)
            view_mm = hi - lo
            dets = detector.detect(frame.image)
            frames.append(marks_of(frame.t_capture_ns, dets, frame.width, frame.height,
                                   mapping, classes))  # fmt: skip
            travel_mm, speed_mm_s = belt
            if travel_mm < limits.still_mm:
                seen = [len(f) for f in frames if len(f)]
                if not told and len(seen) >= STANDING_FRAMES:
                    on_standing(int(np.median(seen)))
                    told = True
            elif travel_mm > view_mm + speed_mm_s * limits.max_latency_ms / 1000:
                break
    finally:
        track = poller.stop()
    return Recording(track, frames, poller.blurred)


def measure_camera(
    dep: DeploymentModel,
    dep_file: Path,
    index: int,
    *,
    seconds: float,
    limits: Limits,
    on_standing: Callable[[int], None],
    simulated: SimulatedGrabber | None = None,
    logger: Any = None,
) -> Recording:
    """Build camera `index` as `run` does (`simulated`: the grabber of a simulated source),
    open the probe, and record a belt start."""
    cam = dep.cameras[index]
    assert cam.conveyor is not None
    logger = logger if logger is not None else log.get(command="capture-latency")
    probe = EncoderProbe(dep.plc, str(dep_file))
    built = build_cameras(dep.model_copy(update={"cameras": [cam]}), dep_file, log=logger,
                          simulated=simulated)[0]  # fmt: skip
    probe.open()
    try:
        built.source.start()
        try:
            return record(built.source.read, built.detector, cam.conveyor, probe,
                          seconds=seconds, limits=limits, on_standing=on_standing)  # fmt: skip
        finally:
            built.source.stop()
    finally:
        probe.close()
