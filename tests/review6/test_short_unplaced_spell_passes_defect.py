"""Review 6 hole: a defect seen only while the belt is unplaced, in a spell shorter than
`encoder.stale_ms`, passes the ejector with no push, no missed reject, no alarm and no stop.

RejectScheduler.observe (conveyor/scheduler.py) drops every item of a frame the belt cannot place
(`_unplaced`: frames_unplaced += 1 and a `belt_position_unknown` warning, nothing else); the fault
`belt_unplaced` comes only once frames *stay* unplaced for `stale_ms` (250 ms by default) while
showing items. The belt is placed by projection for `stale_ms` past its newest usable reading,
so an encoder that gives no usable reading for just under 2 x stale_ms (readings blurred by a
busy network or a slow PLC scan, MAX_HALF_RTT_NS 3 ms; a frozen counter register) yields an
unplaced spell of just under stale_ms, and the spell ends -- silently -- with the first usable
reading. A defect that was in view only during that spell (an item whose defect the model
found only in its last frames, or a fast belt) is never tracked: the items of unplaced frames
are not kept for later placement, not booked as a blind segment, not missed.

Sequence (real Controller, build_cameras, RejectRuntime, Guard, OutputImage; FakePlcLink;
belt 500 mm/s, ejector 1000 mm downstream, missed_action stop_belt, stale_ms 250):
1. the cell runs, belt placed by sharp encoder readings every 10 ms;
2. from 100 ms, every reading is blurred (encoder request returns 8 ms after the sample):
   projected until 350 ms, unplaced from 360 ms;
3. 360..590 ms: a defective item is in view (x 530..600 px, inside the frame);
4. 600 ms: readings are sharp again; the item has left the view;
5. the run goes on to 3 s (the item passed the ejector at ~ 1.4 s).
Consequence: counters: missed 0, belt_unplaced 0, scheduled 0; the warning light never lit and
the permit never dropped: the defect passed as good ("blind segment ... never passed as good",
"a reject ... never silently dropped"). Only per-frame warnings, which no alarm escalates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame
from tests.reject.test_reject_runtime import (
    _ejector,
    belt_loop,
    conveyor_section,
    deployment,
)


def _run(tmp_path: Path, blur: bool) -> tuple[dict[str, int], bool, bool]:
    path = deployment(tmp_path, conveyor_section(ejectors=[_ejector(1000.0) | {"output": 1}]))
    ctl, cam, det, now = belt_loop(path)
    rt = cam.reject
    assert rt is not None
    rng = np.random.default_rng(0)

    def cycle(t_ms: int, x_px: float | None = None, press: bool = False) -> Any:
        now[0] = t_ms * MS
        blurred = blur and 100 < t_ms < 600
        back = now[0] + (8 * MS if blurred else 0)
        ctl.latest_inputs = PlcInputs(
            False, encoder=t_ms * 5, t_read_ns=back, t_encoder_ns=now[0], t_encoder_back_ns=back
        )
        if press:
            ctl.resets.press(now[0])
        det.next = frame([] if x_px is None else [(x_px, 240.0, "item"), (x_px, 240.0, "defect")])
        image = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)
        return ctl.cycle(cam, Frame(image, t_ms, now[0]))

    cycle(0)
    assert cycle(10, press=True).permit
    warned = permit_dropped = False
    for t in range(20, 3000, 10):
        x = 530.0 + 0.5 * (t - 360) if 360 <= t <= 590 else None  # 500 mm/s, 1 mm/px
        out = cycle(t, x)
        warned = warned or out.warning
        permit_dropped = permit_dropped or not out.permit
    return rt.counters, warned, permit_dropped


def test_control_with_sharp_readings_the_defect_is_scheduled(tmp_path: Path) -> None:
    c, _, _ = _run(tmp_path, blur=False)
    assert c["frames_unplaced"] == 0
    assert c["scheduled"] == 1


def test_a_defect_seen_only_in_a_short_unplaced_spell_is_not_passed_silently(
    tmp_path: Path,
) -> None:
    c, warned, permit_dropped = _run(tmp_path, blur=True)
    assert c["frames_unplaced"] > 0  # the spell happened, with the defect in its frames
    assert c["missed"] > 0 or c["belt_unplaced"] > 0 or c["fired"] > 0 or warned, (
        f"a defect in view for 230 ms of unplaced frames passed the ejector: {c}, warning "
        f"light {warned}, permit dropped {permit_dropped} -- no push, no miss, no alarm"
    )
