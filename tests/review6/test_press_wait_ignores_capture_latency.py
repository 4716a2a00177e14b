"""Review 6 hole: the review-5 fix "a press is judged on a frame captured after its release"
compares the frame's *stamp* (when the grab returned) with the release, but a frame shows the
scene `source.capture_latency_ms` before its stamp (RTSP ~80 ms, README "Latencies"). With a
configured capture latency, a press is still judged on a picture of the scene before its release:
the review-5 hole is open again for every camera with a capture latency.

Controller._take_reset waits while `cam.last_verdict_ns <= resets.released_ns`;
`last_verdict_ns` is `frame.t_capture_ns`, the grab stamp. `capture_latency_ms` is given to the
reject runtime only (build.py) and to `check`'s T; the CameraRuntime, and so the guard path, never
sees it.

Sequence (deployment with `source.capture_latency_ms: 100`, built by build_cameras; real
Controller, Guard, OutputImage; FakePlcLink; injected clock; budget 200 ms, clear_hold 500 ms):
1. running, trip on a person in the stop zone, zone clear for 825 ms;
2. a person walks into the stop zone; 50 ms later the operator releases a good reset press;
3. 20 ms after the release a frame is grabbed (stamp after the release): it was exposed 100 ms
   before its stamp, 30 ms before the person entered: it shows the zone clear;
4. that cycle accepts the press: permit ON with the person in the stop zone; the next frame
   trips again.
Consequence: the permit rises (a fresh OFF->ON that arms the PLC's start) with a person in the
stop zone, on a press released while the zone was occupied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import structlog
import yaml

from plantvision.loop.build import build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.types import Frame
from tests.fakes.plc import FakePlcLink
from tests.loop.rig import INSIDE, OUTSIDE, ZONES, ScriptedDetector

CAPTURE_LATENCY_MS = 100.0
MS = 1_000_000


def _deployment(tmp_path: Path) -> Path:
    (tmp_path / "model.onnx").touch()
    (tmp_path / "zones.yaml").write_text(ZONES)
    camera = {
        "id": "cam0",
        "source": {"kind": "simulated", "scenario": "zones.yaml",
                   "capture_latency_ms": CAPTURE_LATENCY_MS},
        "model": {"path": "model.onnx"},
        "zones": "zones.yaml",
        "budget_ms": 200,
        "stall_ms": 500,
    }  # fmt: skip
    dep = {
        "name": "t",
        "cameras": [camera],
        "plc": {"host": "127.0.0.1", "allowed_hosts": ["127.0.0.1"]},
        "guard": {"clear_hold_ms": 500, "min_off_ms": 80},
    }
    path = tmp_path / "dep.yaml"
    path.write_text(yaml.safe_dump(dep))
    return path


def test_a_press_is_judged_on_a_frame_exposed_after_its_release(tmp_path: Path) -> None:
    path = _deployment(tmp_path)
    dep = load_deployment(path)
    assert dep.cameras[0].source.capture_latency_ms == CAPTURE_LATENCY_MS
    det = ScriptedDetector()
    cams = build_cameras(
        dep, path, log=structlog.get_logger(),
        simulated=lambda *_: None, detectors={"cam0": det},  # type: ignore[arg-type,return-value,dict-item]
    )  # fmt: skip
    cam = cams[0]
    now = [1_000_000_000]
    ctl = Controller(cams, FakePlcLink(), clock_ns=lambda: now[0], log=structlog.get_logger())
    rng = np.random.default_rng(0)
    seq = [0]

    def step(boxes: list[list[float]], dt_ms: float = 33.0) -> bool:
        now[0] += int(dt_ms * MS)
        det.boxes = boxes
        seq[0] += 1
        image = rng.integers(40, 200, (480, 640, 3), dtype=np.uint8)
        return ctl.cycle(cam, Frame(image, seq[0], now[0], "cam0")).permit

    for _ in range(20):
        step([OUTSIDE])
    ctl.resets.press(now[0])
    assert step([OUTSIDE])  # running
    assert not step([INSIDE])  # trip
    for _ in range(25):  # 825 ms clear
        assert not step([OUTSIDE])
    t_enter = now[0] + 10 * MS  # a person walks into the stop zone
    t_release = t_enter + 50 * MS  # the operator releases a 400 ms press
    now[0] = t_release
    ctl.resets.press(t_release - 400 * MS, t_release)
    # Grabbed 20 ms after the release, exposed 100 ms before that: 30 ms before the entry.
    t_exposed = t_release + 20 * MS - int(CAPTURE_LATENCY_MS * MS)
    assert t_exposed < t_enter
    permit = step([OUTSIDE], dt_ms=20)  # the frame shows the scene at t_exposed: clear
    person_in_zone = now[0] >= t_enter
    step([INSIDE])  # the next frame shows the person
    assert not (permit and person_in_zone), (
        f"permit raised on a frame exposed {(t_release - t_exposed) / 1e6:.0f} ms before the "
        f"release (stamped 20 ms after it; capture_latency_ms {CAPTURE_LATENCY_MS:g}), with a "
        f"person in the stop zone since {(t_release - t_enter) / 1e6:.0f} ms before the release"
    )
