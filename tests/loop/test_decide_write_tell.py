"""Decide, write, then tell: a cycle logs its events only after its output write, and a logger
that fails cannot stop a trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from tests.loop.rig import INSIDE, OUTSIDE, Rig


class OrderLog:
    """A logger that notes, at each call, the writes the PLC had received by then."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self.calls: list[tuple[str, int, bool]] = []

    def bind(self, **_: Any) -> OrderLog:
        return self

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **_: Any) -> None:
            writes = self._rig.link.writes
            self.calls.append((event, len(writes), writes[-1].permit))

        return log


class FailingLog:
    """A logger whose every call fails as a full disk does."""

    def bind(self, **_: Any) -> FailingLog:
        return self

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **_: Any) -> None:
            raise OSError(28, "No space left on device")

        return log


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_a_trip_is_logged_only_after_its_permit_off_write(rig: Rig) -> None:
    """zone_entered, trip and permit_off are told after the write that dropped the permit."""
    rig.start_running()
    log = OrderLog(rig)
    rig.ctl.log = log
    before = len(rig.link.writes)
    assert not rig.step([INSIDE])
    assert {"zone_entered", "trip", "permit_off"} <= {c[0] for c in log.calls}
    assert all(c[1:] == (before + 1, False) for c in log.calls), log.calls


def test_model_error_is_logged_after_the_write_that_trips_on_it(rig: Rig) -> None:
    """A detector failure is told after the permit-off write it caused."""
    rig.start_running()
    log = OrderLog(rig)
    rig.ctl.log = log
    rig.detector.error = RuntimeError("onnx exploded")
    before = len(rig.link.writes)
    assert not rig.step()
    assert log.calls[0] == ("model_error", before + 1, False)


def test_a_failing_logger_cannot_stop_a_trip_or_the_next_cycles(rig: Rig) -> None:
    """With every log call raising ENOSPC the permit still drops in the cycle that sees the
    person, the cycles go on, and the latch holds until a reset."""
    rig.start_running()
    rig.ctl.log = FailingLog()
    assert not rig.step([INSIDE])
    assert rig.link.writes[-1].fault_code == FAULT_CODES["stop_zone"]
    assert not any(rig.step([OUTSIDE]) for _ in range(30))
    rig.press_reset()
    assert rig.step([OUTSIDE]), "a reset must still work with the log stream failing"


def test_the_crash_handler_writes_the_safe_image_before_it_logs(rig: Rig) -> None:
    """A bug inside a cycle ends with the permit off at the PLC, and only then a loop_error."""
    rig.start_running()
    log = OrderLog(rig)
    rig.ctl.log = log
    rig.cam.zones = None  # type: ignore[assignment]  # the next evaluation raises
    before = len(rig.link.writes)
    with capture_logs():
        rig.ctl._run_cycle_safely(rig.cam, rig.frame())
    assert ("loop_error", before + 1, False) in log.calls
    assert rig.link.writes[-1].fault_code == FAULT_CODES["internal_error"]
