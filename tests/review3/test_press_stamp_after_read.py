"""Review 3 hole: `pressed_before_trip` is judged against the time the poller *finished* reading
the last released sample, not when the PLC sampled it, so on a slow link a press that began
before the trip is accepted as its reset.

Controller._poll_once (controller.py:301) feeds the reset button `self.clock_ns()` taken after
read_inputs returned (the bits request, then the permit readback and the encoder/echo request),
although PlcInputs carries `t_sample_ns` (the bits were sampled after it). The button's
`began_after_ns` (the last released sample) is therefore late by the rest of the read; a trip
that falls between the PLC's sample and that stamp looks older than a press that in fact began
before it, and Guard._try_reset (latch.py:237) accepts the press.

Real threads, PlcLink over TCP, the real simulator, whose replies to the readback and encoder
reads take 150 ms (a congested PLC; request_timeout_ms 250 allows it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from simulators.plc import PlcSimulator
from tests.review3.cell import OneCell, wait_for


class SlowReadSim(PlcSimulator):
    """Coil and input-register reads (readback, encoder) answer 150 ms late while `slow`; on the
    first discrete-input read (the sample of the reset bit) after `on_sample` is set, call it."""

    slow = False
    on_sample: Any = None

    async def _action(self, fc: int, start: int, address: int, count: int, registers: list[int],
                      values: Any) -> Any:  # fmt: skip
        if self.slow and fc in (1, 4):
            await asyncio.sleep(0.15)
        result = await super()._action(fc, start, address, count, registers, values)
        hook = self.on_sample
        if fc == 2 and hook is not None:
            self.on_sample = None
            hook()
        return result


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[OneCell]:
    c = OneCell(tmp_path, sim_cls=SlowReadSim, plc={"request_timeout_ms": 250})
    with c:
        yield c


def test_a_press_that_began_before_the_trip_is_refused(cell: OneCell) -> None:
    sim = cell.sim
    assert isinstance(sim, SlowReadSim)
    cell.press_until_permit()
    sim.slow = True
    time.sleep(0.8)
    marks: dict[str, int] = {}

    def just_after_a_released_sample() -> None:
        def press() -> None:
            marks["press"] = time.monotonic_ns()
            sim.press_reset(1000)  # held 1 s: inside the window at this poll rate

        def trip() -> None:
            cell.detector.error = RuntimeError("one bad inference")
            assert wait_for(lambda: cell.cam.last_output is not None
                            and not cell.cam.last_output.permit, 1)  # fmt: skip
            marks["trip"] = cell.cam.guard._off_since_ns or 0  # the guard's own trip time
            cell.detector.error = None

        threading.Timer(0.01, press).start()
        threading.Timer(0.04, trip).start()

    with capture_logs() as logs:
        sim.on_sample = just_after_a_released_sample
        assert wait_for(lambda: any(e["event"] == "reset_press_accepted" for e in logs), 5)
        assert wait_for(lambda: any(e["event"] in ("reset", "reset_refused") for e in logs), 2)
    assert marks["press"] < marks["trip"]  # the press was down before the guard tripped
    verdicts = [(e["event"], e.get("reason")) for e in logs if e["event"].startswith("reset")]
    # Refused as begun before the trip, or (the PLC latched on the box's own OFF, and a press
    # held across it cannot have cleared that latch) as plc_latched: never a reset.
    refused = {("reset_refused", "pressed_before_trip"), ("reset_refused", "plc_latched")}
    assert refused & set(verdicts), (
        f"a press that began {(marks['trip'] - marks['press']) / 1e6:.0f} ms before the trip "
        f"reset it: {verdicts}; permit at PLC: {sim.permit_seen}"
    )
