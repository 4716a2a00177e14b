"""The input poller re-times box-timed plans on each reading (Controller._retime_plans); a
failure there is a fault like a failed camera cycle: logged, and the camera trips."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from tests.reject.test_reject_runtime import belt_loop, conveyor_section, deployment


class BrokenRetime:
    """A reject runtime whose re-timing raises (a bug in the scheduler)."""

    def retime(self, now_ns: int) -> None:
        raise RuntimeError("retime bug")


def test_a_failing_re_time_in_the_poller_trips_the_camera(tmp_path: Path) -> None:
    ctl, cam, _det, _now = belt_loop(deployment(tmp_path, conveyor_section(timing_mode="box")))
    real = cam.reject
    cam.reject = BrokenRetime()  # type: ignore[assignment]
    with capture_logs() as logs:
        ctl._retime_plans()
    cam.reject = real
    assert [e["error"] for e in logs if e["event"] == "reject_retime_error"] == [
        "RuntimeError('retime bug')"
    ]
    assert cam.internal_error  # the camera's next cycle trips on it (tests/loop/test_cycle.py)
