"""Fault injectors at the product's own seams: the grabber, the detector, the PLC simulator.

Each injector holds a schedule of (kind, start, end) in scene seconds and a clock, so the same
fault file drives every run identically. The camera and model wrappers sit exactly where a real
camera or model would misbehave; PLC faults act on the simulator (PlcSimulator's own hooks).
A camera or model fault with `camera:` strikes that camera only (two-camera scenarios).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from plantvision.errors import MediaError
from plantvision.loop.camera import DetectorLike
from plantvision.types import Detections, ImageArray, StageTimes
from simulators.verify.scenario import CAMERA_FAULTS, MODEL_FAULTS, FaultModel


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    start_s: float
    end_s: float
    value_ms: float = 0.0

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


def windows(
    faults: Sequence[FaultModel], kinds: tuple[str, ...], camera: str | None = None
) -> tuple[Window, ...]:
    """The faults of `kinds` as windows; plc_exception carries its code in `value_ms`. With
    `camera`, only the faults that strike it (those naming no camera strike every one)."""
    return tuple(
        Window(
            f.kind,
            f.at_s,
            f.at_s + f.duration_s,
            float(f.exception_code) if f.kind == "plc_exception" else f.value_ms,
        )
        for f in faults
        if f.kind in kinds and (camera is None or f.camera in (None, camera))
    )


class SceneClock:
    """Scene seconds since `start()`: shared by the scene camera, the injectors, the runner."""

    def __init__(self, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock_ns = clock_ns
        self.epoch_ns: int | None = None

    def start(self) -> None:
        if self.epoch_ns is None:
            self.epoch_ns = self.clock_ns()

    def now_s(self) -> float:
        return 0.0 if self.epoch_ns is None else (self.clock_ns() - self.epoch_ns) / 1e9


class FaultyGrabber:
    """A scene camera with scheduled faults. stall: grab blocks; freeze: the same picture again;
    black: a dark frame; disconnect: reads fail and reopening fails until the window ends;
    slow: frames only every `value_ms` (on the scene clock's multiples of it, so a scenario can
    time an event against the frames: 333 ms is a stream degraded to 3 fps).

    The scene keeps its own clock across reconnects (a real cell does not rewind).
    """

    def __init__(
        self,
        render: Callable[[float], ImageArray],
        fps: float,
        clock: SceneClock,
        faults: tuple[Window, ...],
        source_id: str,
    ) -> None:
        self._render, self._clock, self._faults = render, clock, faults
        self.source_id, self.live = source_id, True
        self.nominal_fps: float | None = fps
        self._last: ImageArray | None = None
        self._released = threading.Event()

    def _active(self, kind: str) -> Window | None:
        t = self._clock.now_s()
        return next((w for w in self._faults if w.kind == kind and w.active(t)), None)

    def open(self) -> None:
        self._clock.start()
        if self._active("camera_disconnect"):
            raise MediaError(f"{self.source_id}: simulated camera disconnected")

    def grab(self) -> ImageArray | None:
        stall = self._active("camera_stall")
        if stall is not None:
            # A driver stuck in read(): returns only when the stall ends (or the run is over).
            self._released.wait(max(0.0, stall.end_s - self._clock.now_s()))
        slow = self._active("camera_slow")
        if slow is not None and slow.value_ms > 0:
            period_s = slow.value_ms / 1000
            t = self._clock.now_s()
            self._released.wait(max(0.0, math.ceil(t / period_s - 1e-9) * period_s - t))
        if self._active("camera_disconnect"):
            return None
        if self._active("camera_freeze") and self._last is not None:
            return self._last
        t_s = self._clock.now_s()
        if self._active("camera_black"):
            return np.zeros_like(self._last if self._last is not None else self._render(t_s))
        self._last = self._render(t_s)
        return self._last

    def close(self) -> None:
        pass

    def release(self) -> None:
        """End any stall now (the run is over)."""
        self._released.set()


class FaultyDetector:
    """The real detector with scheduled faults and optional processing jitter.

    slowdown: sleep `value_ms` before detecting; error: raise; hang: block (a model stuck in
    its runtime) until the window ends or the run is over; blind: detect, then report nothing
    (a model that misses everything, e.g. a flicker of the detector); jitter: sleep a uniform
    random 0..jitter_ms each call (Monte-Carlo over processing time), drawn from `seed`.
    """

    def __init__(
        self,
        inner: DetectorLike,
        clock: SceneClock,
        faults: tuple[Window, ...],
        jitter_ms: float = 0.0,
        seed: int = 0,
    ) -> None:
        self._inner, self._clock, self._faults = inner, clock, faults
        self._jitter_ms, self._rng = jitter_ms, np.random.default_rng(seed)
        self._released = threading.Event()

    def release(self) -> None:
        """End any hang now (the run is over)."""
        self._released.set()

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        t = self._clock.now_s()
        delay_ms = sum(
            w.value_ms for w in self._faults if w.kind == "model_slowdown" and w.active(t)
        )
        if self._jitter_ms > 0:
            delay_ms += float(self._rng.uniform(0.0, self._jitter_ms))
        if delay_ms > 0:
            time.sleep(delay_ms / 1000)
        if any(w.kind == "model_error" and w.active(t) for w in self._faults):
            raise RuntimeError("simulated model failure (injected)")
        hang = next((w for w in self._faults if w.kind == "model_hang" and w.active(t)), None)
        if hang is not None:
            self._released.wait(max(0.0, hang.end_s - self._clock.now_s()))
        found = self._inner.detect(image, times)
        if any(w.kind == "model_blind" and w.active(t) for w in self._faults):
            return Detections.empty(found.class_names)
        return found


__all__ = ["CAMERA_FAULTS", "MODEL_FAULTS", "FaultyDetector", "FaultyGrabber", "SceneClock"]
