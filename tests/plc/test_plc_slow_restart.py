"""A PLC slower than the request timeout, over real loopback TCP: late-applied writes never restart.

The box's requests time out, yet the PLC simulator applies them later (as a real PLC may). The
box trips on plc_lost while a permit ON and heartbeats are still in flight; an operator keeps
pressing reset through the fault. The machine must not run again until the box itself resets.
Waits are bounded polls on conditions; no assert on durations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import structlog

from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink, PlcOutputs
from simulators.plc import PlcSimulator, SimConfig
from simulators.verify.plcside import RecordingMachine, install_recorder
from tests.waiting import wait_for

REQUEST_TIMEOUT_MS = 100
DELAY_MS = 3 * REQUEST_TIMEOUT_MS  # past timeout x (1 + retries): every request fails


class Box:
    """The loop's policy, reduced to the PLC side: a lost link trips and latches the permit off;
    only `reset()` (a press seen by the box) raises it again."""

    def __init__(self, link: PlcLink) -> None:
        self.link = link
        self.tripped_ns: int | None = None
        self.reset_ns: int | None = None
        self._permit = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-box", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self.reset_ns, self.tripped_ns, self._permit = time.monotonic_ns(), None, True

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            if self._permit and not self.link.healthy:
                self._permit, self.tripped_ns = False, time.monotonic_ns()
            self.link.write(PlcOutputs(permit=self._permit))


@pytest.fixture
def rig() -> Iterator[tuple[PlcSimulator, RecordingMachine, PlcLink, Box]]:
    sim = PlcSimulator(SimConfig(watchdog_ms=150, stopping_ms=20, reset_pulse_ms=40))
    machine = install_recorder(sim, time.monotonic_ns)
    sim.start()
    cfg = PlcConfig(
        host="127.0.0.1",
        port=sim.port,
        allowed_hosts=("127.0.0.1",),
        connect_timeout_ms=100,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        retries=1,
        heartbeat_period_ms=20,
        reconnect_backoff_ms=(20, 100),
    )
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    box = Box(link)
    box.start()
    yield sim, machine, link, box
    box.stop()
    sim.set_delay_ms(0)
    link.stop()
    sim.stop()


def press_through(sim: PlcSimulator, seconds: float) -> int:
    """An operator pressing reset every 50 ms (the machine coasts 20 ms); presses that cleared."""
    cleared, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        cleared += sim.press_reset()
        time.sleep(0.05)
    return cleared


def test_slow_plc_with_resets_never_runs_while_the_box_is_tripped(
    rig: tuple[PlcSimulator, RecordingMachine, PlcLink, Box],
) -> None:
    """Delay > request timeout: the box trips on plc_lost; resets pressed during the fault and
    after it, with late permit-ON writes and beats landing, never start the machine until the
    box resets and raises its permit again (then it does start: the rule costs no restart)."""
    sim, machine, link, box = rig
    assert wait_for(lambda: link.healthy, 5.0)
    assert sim.press_reset()  # the start-up sequence: a press, then the box raises its permit
    box.reset()
    assert wait_for(sim.press_start, 5.0)  # then the operator's separate start

    sim.set_delay_ms(DELAY_MS)
    assert wait_for(lambda: box.tripped_ns is not None, 5.0)
    tripped_ns = box.tripped_ns
    assert tripped_ns is not None
    cleared_during = press_through(sim, 1.0)
    sim.set_delay_ms(0)
    assert wait_for(lambda: link.healthy, 5.0)
    cleared_after = press_through(sim, 0.5)  # the late writes have all landed by now

    starts = [e for e in machine.events if e.running and e.t_ns >= tripped_ns]
    assert cleared_during > 0, "no reset press found the machine at rest: the test proves nothing"
    assert cleared_after > 0
    assert starts == [], f"restarted while the box was tripped: {starts}"
    assert machine.trips >= 1
    assert not sim.machine_running

    assert sim.press_reset()  # the box sees this press and resets its guard
    box.reset()
    assert wait_for(sim.press_start, 5.0)
