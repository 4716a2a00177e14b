"""A frame whose date may be too old (a camera-dated frame above its clock's anchor, which a
slower path and a camera clock stepping back both cause) places its items upstream of where they
were by up to that spread at belt speed: the push comes early. Beyond half the ejector's reach
the conveyor takes no verdict from it: undecided, its belt stays unproven (a blind segment,
reject unless proven good). The guard keeps the older date: the safe side for a stop."""

from __future__ import annotations

import numpy as np
import structlog

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.types import Frame
from tests.conveyor.helpers import MS, frame, make_cfg

IMAGE = np.zeros((480, 640, 3), np.uint8)
EJECTOR = {"id": "ej1", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0,
           "reach_mm": 10.0}  # fmt: skip


def _seen(spread_ms: float, speed_mm_s: float = 500.0) -> int:
    cfg = make_cfg(ejectors=[EJECTOR], belt={"speed_mm_s": speed_mm_s})
    rt = RejectRuntime(cfg, {"ej1": 0}, structlog.get_logger())
    spread = int(spread_ms * MS)
    rt.observe(10 * MS, Frame(IMAGE, 0, 10 * MS, "belt", spread), frame([(100, 240, "defect")]))
    return rt.scheduler.counters.seen


def test_a_frame_dated_within_half_the_reach_is_decided() -> None:
    assert _seen(0.0) == 1
    assert _seen(9.0) == 1  # 4.5 mm at 0.5 m/s: within 5 mm


def test_a_frame_whose_date_may_be_older_than_half_the_reach_allows_is_undecided() -> None:
    assert _seen(11.0) == 0  # 5.5 mm at 0.5 m/s
    assert _seen(6.0, speed_mm_s=1000.0) == 0  # 6 mm at 1 m/s
