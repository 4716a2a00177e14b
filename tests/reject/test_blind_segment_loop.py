"""A blind segment in the loop (Controller, guard, reject runtime; FakePlcLink, the clock by
hand): frames dropped for less than the budget (no stale verdict, the permit stays on) leave a
stretch of belt no frame proved; with `no_decision_action: stop_belt` the permit drops with fault
code blind_segment, a reset press is refused while the camera is still blind, and accepted once
a frame has proven the belt again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.link import PlcOutputs
from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame
from tests.reject.test_reject_runtime import (
    _ejector,
    belt_loop,
    conveyor_section,
    deployment,
    encoder_at,
)


def test_a_gap_between_frames_stops_the_belt_until_a_frame_proves_it_again(
    tmp_path: Path,
) -> None:
    """1 m/s, items up to 500 mm in a 640 mm view: a frame proves 136 mm. No frame from 300 to
    510 ms (less than the 200 ms budget between two verdicts until the last): the belt 136 mm
    behind the last proof is judged blind at 450 ms: permit off, code 24; the press at 480 ms
    (still blind) is refused; frames from 510 ms prove the belt again, and the press at 570 ms
    brings the permit back."""
    conveyor = conveyor_section(longest_item_mm=500.0, no_decision_action="stop_belt",
                                ejectors=[_ejector(1000.0) | {"output": 1}])  # fmt: skip
    ctl, cam, det, now = belt_loop(deployment(tmp_path, conveyor))
    rng = np.random.default_rng(0)

    def cycle(t_ms: int, seen: bool = True, press: bool = False) -> PlcOutputs:
        now[0] = t_ms * MS
        ctl.latest_inputs = encoder_at(now[0], t_ms * 10)  # 1 m/s, 10 counts/mm
        if press:
            ctl.resets.press(now[0])
        det.next = frame([])
        image = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)  # never frozen
        return ctl.cycle(cam, Frame(image, t_ms, now[0]) if seen else None)

    cycle(0)
    assert cycle(10, press=True).permit  # the start-up segment, judged and closed: pressed
    out: dict[int, Any] = {}
    with capture_logs() as logs:
        for t in range(30, 660, 30):
            out[t] = cycle(t, seen=not 300 < t < 510, press=t in (480, 570))
    assert all(out[t].permit for t in range(30, 450, 30))
    assert (out[450].permit, out[450].fault_code) == (False, FAULT_CODES["blind_segment"])
    assert not out[480].permit  # pressed while blind: refused
    assert not out[540].permit
    assert out[570].permit
    (seg,) = [e for e in logs if e["event"] == "blind_segment"]
    assert (seg["cause"], seg["action"]) == ("no_decided_frame", "stop_belt")
    (closed,) = [e for e in logs if e["event"] == "blind_segment_closed"]
    # The proof of the frame at 300 ms ends 136 mm behind the judging line; the frame at
    # 510 ms proves again from its own line: 74 mm of belt in between.
    assert closed["length_mm"] == 74.0
    assert cam.reject is not None
    assert cam.reject.counters["blind_segments"] == 2
