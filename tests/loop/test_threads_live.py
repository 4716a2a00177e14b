"""Long-lived threads survive what they can and are watched for what they cannot: against the
PLC simulator over TCP, a heartbeat whose log raises keeps beating, and a service thread that
dies drops the permit at the PLC with its own cause and stops the heartbeat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig
from plantvision.plc.link import PlcLink
from simulators.plc import PlcSimulator, SimConfig
from tests.loop.test_expiry_live import heartbeat_frozen, run_until_permit
from tests.loop.twocams import ThreadDeath, TwoCameraCell
from tests.waiting import wait_for


class FullDiskLog:
    """A logger whose first `plc_restored` line fails like a full disk (OSError 28)."""

    def __init__(self) -> None:
        self.failed = False
        self.events: list[str] = []

    def bind(self, **_: Any) -> FullDiskLog:
        return self

    def _line(self, event: str, **_: Any) -> None:
        self.events.append(event)
        if event == "plc_restored" and not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")

    info = warning = error = _line


def test_the_heartbeat_survives_an_exception_in_its_thread() -> None:
    """The heartbeat thread's log raising (ENOSPC) while it heals the link neither kills it
    nor stops the beats: the link comes up and the PLC sees the heartbeat advance."""
    sim = PlcSimulator(SimConfig(watchdog_ms=1000))
    port = sim.start()
    sim.go_down()
    cfg = PlcConfig(
        host="127.0.0.1",
        port=port,
        allowed_hosts=["127.0.0.1"],
        request_timeout_ms=100,
        retries=0,
        heartbeat_period_ms=20,
        reconnect_backoff_ms=(20, 50),
        signals=DEFAULT_SIGNAL_MAP,
    )
    log = FullDiskLog()
    link = PlcLink(cfg, log)
    try:
        link.start()
        sim.come_back()
        assert wait_for(lambda: log.failed, 5)
        beats = lambda: sum("heartbeat" in e["signals"] for e in sim.write_log)  # noqa: E731
        assert wait_for(lambda: beats() >= 5, 5), "the heartbeat died with its log"
        assert link.alive
    finally:
        link.stop()
        sim.stop()


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[TwoCameraCell]:
    with TwoCameraCell(tmp_path) as c:
        yield c


def _kill_heartbeat(cell: TwoCameraCell) -> None:
    def dying() -> bool:
        raise ThreadDeath("heartbeat thread killed by the test")

    cell.link.liveness = dying


def _kill_input_poller(cell: TwoCameraCell) -> None:
    def dying() -> None:
        raise ThreadDeath("input poller killed by the test")

    cell.link.read_inputs = dying  # type: ignore[method-assign]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("kill", "thread"),
    [(_kill_heartbeat, "plc-heartbeat"), (_kill_input_poller, "plc-inputs")],
)
def test_a_dead_service_thread_drops_the_permit_with_its_cause(
    cell: TwoCameraCell, kill: Callable[[TwoCameraCell], None], thread: str
) -> None:
    """A service thread that dies (past every guard) is seen by the supervisor: permit OFF at
    the PLC with thread_stopped, the event names the thread, the heartbeat stops, and both
    cameras keep cycling."""
    run_until_permit(cell)
    with capture_logs() as logs:
        kill(cell)
        assert wait_for(lambda: not cell.permit_at_plc(), 5), f"permit stayed ON, {thread} dead"
        assert wait_for(lambda: any(e["event"] == "thread_dead" for e in logs), 2)
    assert wait_for(lambda: cell.fault_code_at_plc() == FAULT_CODES["thread_stopped"], 2)
    assert [e["thread"] for e in logs if e["event"] == "thread_dead"] == [thread]
    assert wait_for(lambda: heartbeat_frozen(cell, 300), 5), "heartbeat kept advancing"
    calls = {k: d.calls for k, d in cell.det.items()}
    assert wait_for(lambda: all(d.calls > calls[k] + 5 for k, d in cell.det.items()), 5)
    assert not cell.permit_at_plc()
