"""Review 6 hole: a reset press acknowledges `belt_unplaced` while the belt is still unplaced, and
the fault is never raised again for that spell: the belt runs on with `missed_action: stop_belt`
and every defective item passes the ejector unjudged, with no push, no missed reject, no alarm.

RejectScheduler._unplaced (conveyor/scheduler.py) raises `belt_unplaced` "once per spell"
(`_unplaced_told`), and the spell ends only when a frame is placed again. The controller's
reset path (`_reject_step` sets the latched cause aside on a press; `reject.acknowledge()` clears
`_stop_cause` once the guard accepted it) does not ask whether the cause is still present. A
PLC whose every encoder reading is blurred past MAX_HALF_RTT_NS (a PLC answering at its 8 ms scan
on a busy network: the encoder's own request returns 8 ms after it was sampled) never places the
belt: the condition is permanent, not an event.

Sequence (real Controller, build_cameras, RejectRuntime, Guard and OutputImage; FakePlcLink;
encoder readings fed every cycle through `latest_inputs`, each blurred 8 ms; missed_action
stop_belt, encoder.stale_ms 250):
1. the belt runs, the box is permitted (reset press);
2. frames show items and defects; after 250 ms unplaced, belt_unplaced: permit OFF, code 23;
3. the operator presses reset (nothing about the PLC's answer time changed);
4. the permit comes back ON and stays ON for 3 s of frames full of defects: counters
   belt_unplaced 1, missed 0, no alarm, no stop.
Consequence: "reject unless proven good" / "blind segment ... never passed as good" is broken
after the first reset: defects pass with neither a push nor a counted miss or alarm (only the
per-frame `belt_position_unknown` warning, which the belt_unplaced fault exists to escalate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame
from tests.reject.test_reject_runtime import belt_loop, conveyor_section, deployment

SLOW_MS = 8  # the encoder request's round trip half: > MAX_HALF_RTT_NS (3 ms)


def test_belt_unplaced_is_not_acknowledged_while_the_belt_stays_unplaced(tmp_path: Path) -> None:
    ctl, cam, det, now = belt_loop(deployment(tmp_path, conveyor_section()))
    rt = cam.reject
    rng = np.random.default_rng(0)
    assert rt is not None

    def cycle(t_ms: int, defects: bool = True, press: bool = False) -> Any:
        now[0] = t_ms * MS
        t_enc = now[0] - SLOW_MS * MS  # sampled 8 ms before its request came back
        ctl.latest_inputs = PlcInputs(
            False, encoder=t_ms * 5, t_read_ns=now[0], t_encoder_ns=t_enc, t_encoder_back_ns=now[0]
        )
        if press:
            ctl.resets.press(now[0])
        det.next = frame([(200.0, 240.0, "item"), (200.0, 240.0, "defect")] if defects else [])
        image = rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)  # never frozen
        return ctl.cycle(cam, Frame(image, t_ms, now[0]))

    cycle(0, defects=False)
    assert cycle(10, defects=False, press=True).permit
    t = 10
    out = None
    while t < 600:  # defects in view, the belt never placed
        t += 30
        out = cycle(t)
    assert out is not None
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["belt_unplaced"])
    t += 30
    back = cycle(t, press=True)  # the operator resets; the PLC still answers as slowly
    permits_on, warnings_on = int(back.permit), int(back.warning)
    for _ in range(100):  # 3 s of frames with defects, belt still unplaced
        t += 30
        o = cycle(t)
        permits_on += int(o.permit)
        warnings_on += int(o.warning)
    counters = rt.counters
    assert permits_on == 0, (
        f"permit ON for {permits_on} of 101 cycles (3 s) after a reset with the belt still "
        f"unplaced and a defect in every frame: frames_unplaced {counters['frames_unplaced']}, "
        f"belt_unplaced {counters['belt_unplaced']}, missed {counters['missed']}, warning light "
        f"on in {warnings_on} cycles -- defects "
        "pass with no push, no miss, no alarm"
    )
