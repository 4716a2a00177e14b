"""A belt that starts from standstill, through the loop's real cycle and input poller, stepped by
hand (no threads, no sockets): the box must follow the start fast enough to place its frames and
time its rejects.

The flaky end-to-end run (`test_reject_e2e.py[1000.0-box]`, "reject_missed item 4, late by 46
ms") was this: a defective item in view 103 mm before its fire point when the belt stepped to
1 m/s. The loop fed the reject runtime one encoder reading per camera cycle (the newest one, and
none when that one was blurred by a slow round trip), so the belt's speed, averaged over a 50 ms
window, lagged the start by up to ~100 ms: frames were placed 30-50 mm short (a second track for
an item already tracked, whose pulse then came early at an empty spot) and the fire time came out
late (the reject was decided after it passed). Two causes, one test each: the loop now offers
every reading to the runtime, and the belt measures the speed after a start from the first
reading that moved instead of averaging the standstill in.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.loop.build import build_cameras
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.plc.values import PlcInputs
from plantvision.types import Detections, Frame, ImageArray, StageTimes
from tests.conveyor.helpers import FRAME_H, FRAME_W, frame
from tests.fakes.plc import FakePlcLink
from tests.reject.test_reject_runtime import deployment

MS = 1_000_000
IMAGE = np.random.default_rng(0).integers(60, 200, (FRAME_H, FRAME_W, 3), dtype=np.uint8)
START_MS = 500  # the belt steps from standstill to 1 m/s here
SPEED_MM_PER_MS = 1.0
ITEM_X_MM = 592.0  # the defect, in view at standstill; fire point at 700 - 5 mm (actuator)


class ScriptedLink(FakePlcLink):
    """Answers the poller from a script; stops the poller after the last reading."""

    def __init__(self) -> None:
        super().__init__()
        self.script: deque[PlcInputs] = deque()
        self.ctl: Controller | None = None

    def read_inputs(self) -> PlcInputs | None:
        inputs = self.script.popleft()
        if not self.script and self.ctl is not None:
            self.ctl.stop_event.set()
        return inputs


class FixedDetector:
    def __init__(self) -> None:
        self.next = Detections.empty(("item", "defect", "person"))

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        return self.next


def _defect_plan(event: dict[str, object]) -> bool:
    """The defect's plans; the start-up pushes over the blind belt between the view's judging
    line and the ejector (negative ids, reject unless proven good) are not it."""
    item = event.get("item_id")
    return event["event"] == "reject_scheduled" and isinstance(item, int) and item >= 0


def travel_mm(t_ms: float) -> float:
    return max(0.0, t_ms - START_MS) * SPEED_MM_PER_MS


def reading(t_ms: float, half_rtt_ms: float = 0.1) -> PlcInputs:
    """The encoder as the PLC sampled it at `t_ms` (10 counts/mm), read back `half_rtt_ms` later."""
    count = round(travel_mm(t_ms) * 10)
    t_ns, back_ns = int(t_ms * MS), int((t_ms + half_rtt_ms) * MS)
    return PlcInputs(False, encoder=count, t_read_ns=back_ns, t_encoder_ns=t_ns)


def build(
    tmp_path: Path,
) -> tuple[Controller, CameraRuntime, ScriptedLink, FixedDetector, list[int]]:
    ejector = {"id": "kicker", "position_mm": 700.0, "actuator_response_ms": 5.0, "pulse_ms": 30}
    conveyor = {
        "belt": {"encoder": {"signal": "encoder", "counts_per_mm": 10}},
        "mapping": {"mm_per_px": 1.0},
        "gate_mm": 30,
        "ejectors": [ejector | {"output": 0}],
        "timing_mode": "box",
        "longest_item_mm": 40.0,  # frame()'s boxes: 40 px at 1 mm/px
    }
    path = deployment(tmp_path, conveyor)
    det = FixedDetector()
    cams = build_cameras(
        load_deployment(path), path, log=structlog.get_logger(),
        simulated=lambda *_: None, detectors={"belt": det},  # type: ignore[arg-type,return-value,dict-item]
    )  # fmt: skip
    link = ScriptedLink()
    now = [0]
    ctl = Controller(
        cams, link, clock_ns=lambda: now[0], log=structlog.get_logger(), input_poll_ms=0.001
    )
    link.ctl = ctl
    return ctl, cams[0], link, det, now


def test_a_start_from_standstill_reaches_the_belt_model_within_one_poll(tmp_path: Path) -> None:
    """Readings every 10 ms, frames every 50 ms; the reading right before the second cycle after
    the start is blurred (a slow round trip, as under load). The defect in view 103 mm before its
    fire point is armed for its true fire time and never missed; no item gets a second track."""
    ctl, cam, link, det, now = build(tmp_path)
    assert cam.reject is not None
    fire_ms = START_MS + (700.0 - 5.0 - ITEM_X_MM) / SPEED_MM_PER_MS  # the true fire time
    with capture_logs() as logs:
        for cycle_ms in range(37, 800, 50):
            # The poller's readings since the last cycle, every 10 ms (at 4, 14, 24, ... ms).
            first = max(0, cycle_ms - 50)
            for t_ms in range(first + (4 - first) % 10, cycle_ms, 10):
                blurred = t_ms == 584  # the newest reading at the cycle of 587 ms
                link.script.append(reading(t_ms, 2.5 if blurred else 0.1))
            ctl._poll_inputs()
            ctl.stop_event.clear()
            capture_ms = cycle_ms - 3
            x = ITEM_X_MM + travel_mm(capture_ms)
            det.next = frame([(x, 240.0, "defect")] if x < FRAME_W - 25 else [])
            now[0] = cycle_ms * MS
            ctl.cycle(cam, Frame(IMAGE, cycle_ms, capture_ms * MS))
    assert [e for e in logs if e["event"] == "reject_missed"] == []
    counters = cam.reject.counters
    assert (counters["seen"], counters["scheduled"], counters["missed"]) == (1, 1, 0)
    # The last plan (re-timed as readings came in) aims within 5 ms of the true fire time.
    plans = [e["fire_at_ns"] / MS for e in logs if _defect_plan(e)]
    assert abs(plans[-1] - fire_ms) < 5.0, (plans, fire_ms)


@pytest.mark.parametrize("after_start_ms", [37, 20])
def test_a_plan_armed_after_the_start_is_not_dropped_by_the_next_cycle(
    tmp_path: Path, after_start_ms: int
) -> None:
    """The e2e failure with every reading in: the cycle 37 ms after the start armed the defect
    for the speed averaged over a 50 ms window reaching back before the start (0.68 m/s for 1),
    13 ms late; the next cycle, 1 ms after the true fire time (a busy machine), found the plan
    overdue and dropped it as a missed reject. (20 ms after the start, the averaged speed put the
    fire time past the 100 ms horizon: not armed at all, then late.) Measured from the first
    reading that moved, the speed is right at the first cycle and the plan fires on time."""
    ctl, cam, link, det, now = build(tmp_path)
    assert cam.reject is not None
    fire_ms = START_MS + (700.0 - 5.0 - ITEM_X_MM) / SPEED_MM_PER_MS
    # 604: the next cycle comes late, after the fire time
    cycles = [*range(37, 488, 50), START_MS + after_start_ms, 604, 654, 704]
    with capture_logs() as logs:
        previous = 0
        for cycle_ms in cycles:
            for t_ms in range(previous + (4 - previous) % 10, cycle_ms, 10):
                link.script.append(reading(t_ms))
            previous = cycle_ms
            ctl._poll_inputs()
            ctl.stop_event.clear()
            x = ITEM_X_MM + travel_mm(cycle_ms - 3)
            det.next = frame([(x, 240.0, "defect")] if x < FRAME_W - 25 else [])
            now[0] = cycle_ms * MS
            ctl.cycle(cam, Frame(IMAGE, cycle_ms, (cycle_ms - 3) * MS))
    assert [e for e in logs if e["event"] == "reject_missed"] == []
    plans = [e["fire_at_ns"] / MS for e in logs if _defect_plan(e)]
    assert abs(plans[-1] - fire_ms) < 2.0, (plans, fire_ms)
