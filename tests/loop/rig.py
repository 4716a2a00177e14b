"""Builders for loop tests: an in-memory camera runtime with a scripted detector and clock."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from plantvision import log as pvlog
from plantvision.frames.health import FrozenDetector
from plantvision.frames.source import FrameSource
from plantvision.guard.latch import Guard, GuardConfig
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.types import Detections, Frame, ImageArray, StageTimes
from plantvision.zones.config import load_zone_file
from tests.fakes.plc import FakePlcLink

ZONES = """
version: 1
camera: cam0
units: pixels
frame_size: [640, 480]
zones:
  - {id: press, kind: stop, polygon: [[300, 200], [500, 200], [500, 400], [300, 400]]}
  - {id: aisle, kind: warn, polygon: [[200, 100], [600, 100], [600, 470], [200, 470]]}
"""

INSIDE = [380.0, 250.0, 420.0, 350.0]  # bottom-centre (400, 350) is inside the stop zone
WARN_ONLY = [220.0, 300.0, 260.0, 450.0]  # bottom-centre (240, 450): aisle only
OUTSIDE = [10.0, 10.0, 50.0, 90.0]


class ScriptedDetector:
    """Returns the boxes it is told to; raises when told to; takes no time."""

    def __init__(self) -> None:
        self.boxes: list[list[float]] = []
        self.error: Exception | None = None

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        if self.error is not None:
            raise self.error
        n = len(self.boxes)
        return Detections.from_arrays(self.boxes, [0.9] * n, [0] * n, ("person",))


class Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance_ms(self, ms: float) -> None:
        self.ns += int(ms * 1e6)


class Rig:
    """A controller with one camera whose frames, detections, clock and PLC the test drives."""

    def __init__(self, tmp_path: Path, budget_ms: float = 200.0) -> None:
        (tmp_path / "zones.yaml").write_text(ZONES)
        zones = load_zone_file(tmp_path / "zones.yaml")
        self.clock = Clock()
        self.detector = ScriptedDetector()
        self.link = FakePlcLink()
        self.seq = 0
        self.rng = np.random.default_rng(0)
        cfg = GuardConfig(clear_hold_ms=500, min_off_ms=80, warn_hold_ms=300)
        self.cam = CameraRuntime(
            id="cam0",
            source=FrameSource(_NoGrabber()),
            detector=self.detector,
            zones=zones,
            guard=Guard(cfg, zones.sha256),
            budget_ns=int(budget_ms * 1e6),
            overrun_trips=True,
            stall_ns=500_000_000,
            frozen=FrozenDetector(150.0),  # 5 repeats at the rig's 33 ms steps
            dark_max_mean=12.0,
            dark_max_std=4.0,
            last_frame_ns=self.clock.ns,
        )
        self.ctl = Controller([self.cam], self.link, clock_ns=self.clock, log=pvlog.get())

    def frame(self, image: ImageArray | None = None, age_ms: float = 0.0) -> Frame:
        """A fresh noisy frame (so it is never frozen) captured `age_ms` ago."""
        if image is None:
            image = self.rng.integers(40, 200, (480, 640, 3), dtype=np.uint8)
        self.seq += 1
        return Frame(image, self.seq, self.clock.ns - int(age_ms * 1e6), "cam0")

    def step(
        self,
        boxes: list[list[float]] | None = None,
        dt_ms: float = 33.0,
        image: ImageArray | None = None,
        age_ms: float = 0.0,
        no_frame: bool = False,
    ) -> bool:
        """Advance the clock, run one cycle on a new frame captured `age_ms` ago (or on none),
        and return the permit the PLC was sent."""
        self.clock.advance_ms(dt_ms)
        if boxes is not None:
            self.detector.boxes = boxes
        f = None if no_frame else self.frame(image, age_ms)
        return self.ctl.cycle(self.cam, f).permit

    def press_reset(self) -> None:
        """An accepted press that began after now's sample (after any trip so far)."""
        self.ctl.resets.press(self.clock.ns)

    def start_running(self) -> None:
        """Clear frames long enough, then a reset: the permit comes on."""
        for _ in range(20):
            self.step([OUTSIDE])
        self.press_reset()
        assert self.step([OUTSIDE])


class _NoGrabber:
    source_id, nominal_fps, live = "cam0", None, False

    def open(self) -> None: ...

    def grab(self) -> None:
        return None

    def close(self) -> None: ...


def write_frames(folder: Path, n: int = 3) -> None:
    """`n` noise pictures of the zone file's 640 x 480 for a folder source (check reads them)."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (480, 640, 3), np.uint8))
