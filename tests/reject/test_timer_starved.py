"""A starved ejector timer in the real runtime: its late switch-on is a missed reject.

The end-to-end rig at 1 m/s (tests/reject/test_reject_e2e.py) passed a defect silently: on a
machine with every core taken, every thread of the box was runnable and not run for 100-300 ms
(their /proc schedstat run-queue wait), the timer switched the coil on 24-103 ms after its plan,
the paddle met the belt behind the item, and the runtime booked a fire. Here the test starves
the timer thread the same way, by holding the interpreter past the fire time (a long switch
interval and a busy loop), with the real timer thread and the real clock.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from structlog.testing import capture_logs

from tests.fakes.plc import FakePlcLink
from tests.reject.test_reject_runtime import (
    _ejector,
    armed_runtime,
    conveyor_section,
    deployment,
    encoder_at,
)
from tests.waiting import wait_for

MS = 1_000_000


def _hold_the_interpreter_until(t_ns: int) -> None:
    """No other Python thread runs until `t_ns`: what a starved process looks like to them."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        while time.monotonic_ns() < t_ns:
            pass
    finally:
        sys.setswitchinterval(interval)


def test_a_switch_on_the_starved_timer_made_beyond_the_reach_is_a_missed_reject(
    tmp_path: Path,
) -> None:
    """The plan fires 50 ms after it is armed; the timer thread gets no turn until 150 ms, so
    the coil goes on ~100 ms late: 50 mm past the line at 500 mm/s, far beyond the 10 mm
    reach. The next step counts a missed reject (`fired_late`), not a fire."""
    ejector = _ejector(300.0) | {"output": 1, "reach_mm": 10.0}
    path = deployment(tmp_path, conveyor_section(timing_mode="box", ejectors=[ejector]))
    with armed_runtime(path, FakePlcLink()) as (rt, t0):
        rt.step(t0, 0, False)
        assert rt.counters["scheduled"] == 1
        _hold_the_interpreter_until(t0 + 150 * MS)
        timer = rt.timer
        assert timer is not None
        assert wait_for(lambda: len(timer.on_errors_ns) > 0, 5.0)  # the timer has switched
        assert timer.on_errors_ns[0] > 50 * MS  # it really was starved past the reach
        now = time.monotonic_ns() + 30 * MS  # a reading past the push (20 ms actuator)
        rt.feed(encoder_at(now, (now - t0) // MS * 5 + 50))
        with capture_logs() as logs:
            status = rt.step(now, 0, False)
    assert (rt.counters["missed"], rt.counters["fired"]) == (1, 0)
    assert (status.fault, status.alarm) == ("reject_missed", True)
    assert [e["reason"] for e in logs if e["event"] == "reject_missed"] == ["fired_late"]
