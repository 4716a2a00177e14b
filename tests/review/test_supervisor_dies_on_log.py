"""Review hole (fault not ending safe at the box): a log call that raises kills the supervisor,
and the permit then rises and stays ON with nobody watching the threads.

`_supervise_thread` catches an exception from `supervise()` and logs it with `self.log.error`,
unwrapped; `supervise()` itself logs `thread_stuck` unwrapped after its write. A logger that
raises (the OSError 28 the project's own tests use for a full disk) raises in both: the thread
dies. The heartbeat then freezes (liveness), but nothing writes permit OFF: the camera guards
still raise and hold the permit coil ON, and any later thread death is never written as a trip.

Real threads and TCP against the PLC simulator; the logger is swapped after start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.review.cells import ReviewCell, press_until_permit
from tests.waiting import wait_for


class DiskFullOnErrors:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def error(self, event: str, **kw: Any) -> None:
        raise OSError(28, "No space left on device")


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[ReviewCell]:
    c = ReviewCell(tmp_path)
    with c:
        yield c


def test_a_log_that_raises_never_kills_the_supervisor(cell: ReviewCell) -> None:
    """With every error log raising (a full disk), a stuck camera is still seen, written as
    permit OFF, and the supervisor lives on to watch the next fault."""
    assert press_until_permit(cell), "the cell never started"
    cell.ctl.log = DiskFullOnErrors(cell.ctl.log)
    cell.det["a"].hang.set()  # a stuck camera: the supervisor logs thread_stuck
    assert cell.det["a"].hanging.wait(5)
    assert wait_for(lambda: not cell.permit_at_plc(), 5), "the stuck camera held the permit"
    sup = cell.ctl._supervisor
    assert sup is not None
    assert sup.is_alive(), "a failing log call killed the supervisor"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_permit_does_not_rise_once_the_supervisor_is_dead(cell: ReviewCell) -> None:
    """A supervisor thread that died (anything an `except Exception` cannot hold) leaves every
    camera tripped: no reset raises a permit that nobody supervises."""

    def die() -> None:
        raise SystemExit("supervisor killed")

    cell.ctl.supervise = die  # type: ignore[method-assign]
    sup = cell.ctl._supervisor
    assert sup is not None
    assert wait_for(lambda: not sup.is_alive(), 5)
    cell.sim.press_reset()
    assert not wait_for(cell.permit_at_plc, 2.0), "permit ON at the PLC with the supervisor dead"
    # The fault stays active, so no guard is even ready for a reset.
    assert all(c.last_output is not None and c.last_output.state == "tripped"
               for c in cell.cameras)  # fmt: skip
