"""Two real cameras (image folders at 25 fps) on real threads against the PLC simulator over
TCP, with detectors the test controls: one can hang on an Event or kill its thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from plantvision.types import Detections, ImageArray, StageTimes
from tests.loop.live import LiveCell

ZONES = """
version: 1
camera: {cam}
units: pixels
frame_size: [320, 240]
zones:
  - {{id: press, kind: stop, polygon: [[100, 100], [220, 100], [220, 200], [100, 200]]}}
"""
INSIDE = [150.0, 120.0, 170.0, 180.0]  # bottom-centre (160, 180) is inside the stop zone


class ThreadDeath(BaseException):
    """Not an Exception: nothing that guards against errors catches it, so the thread dies."""


class ControlledDetector:
    """A detector that takes no time and sees nobody, until told to hang, die or see a person."""

    def __init__(self) -> None:
        self.calls = 0
        self.hang = threading.Event()  # set: the next detect blocks until `release` is set
        self.release = threading.Event()
        self.hanging = threading.Event()  # set once a detect call is blocked
        self.hung_at_ns = 0  # when it blocked (time.monotonic_ns, the simulator's clock too)
        self.die = False
        self.boxes: list[list[float]] = []

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        self.calls += 1
        if self.die:
            raise ThreadDeath("camera thread killed by the test")
        if self.hang.is_set():
            self.hung_at_ns = time.monotonic_ns()
            self.hanging.set()
            self.release.wait()
        n = len(self.boxes)
        return Detections.from_arrays(self.boxes, [0.9] * n, [0] * n, ("person",))


def two_camera_deployment(tmp_path: Path, **plc: Any) -> Path:
    """cams a and b, each on its own folder of noise images at 25 fps, looped."""
    rng = np.random.default_rng(0)
    model = tmp_path / "unused.onnx"  # the detectors are injected; the file must only exist
    model.write_bytes(b"")
    cameras = []
    for cam in ("a", "b"):
        folder = tmp_path / f"frames_{cam}"
        folder.mkdir()
        for i in range(8):
            image = rng.integers(40, 200, (240, 320, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{i:03d}.png"), image)
        (tmp_path / f"zones_{cam}.yaml").write_text(ZONES.format(cam=cam))
        cameras.append(
            {
                "id": cam,
                "source": {"kind": "folder", "uri": str(folder), "fps": 25, "loop": True},
                "model": {"path": str(model), "family": "yolox"},
                "zones": str(tmp_path / f"zones_{cam}.yaml"),
                "budget_ms": 200,
                "stall_ms": 500,
            }
        )
    data = {
        "name": "two-cameras",
        "cameras": cameras,
        "plc": {
            "host": "127.0.0.1",
            "port": 5020,
            "allowed_hosts": ["127.0.0.1"],
            "request_timeout_ms": 150,
            "retries": 1,
            "heartbeat_period_ms": 50,
            **plc,
        },
        "guard": {"clear_hold_ms": 200, "min_off_ms": 80, "warn_hold_ms": 200},
    }
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class TwoCameraCell(LiveCell):
    """A LiveCell whose cameras a and b use ControlledDetectors."""

    def __init__(self, tmp_path: Path, **plc: Any) -> None:
        self.det = {"a": ControlledDetector(), "b": ControlledDetector()}
        super().__init__(two_camera_deployment(tmp_path, **plc), detectors=self.det)

    def heartbeat_writes(self) -> list[int]:
        """t_mono_ns of every heartbeat write the simulator received."""
        return [e["t_mono_ns"] for e in self.sim.write_log if "heartbeat" in e["signals"]]

    def fault_code_at_plc(self) -> int:
        return int(self.sim.values.get("fault_code", 0))
