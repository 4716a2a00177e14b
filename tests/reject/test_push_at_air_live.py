"""A belt the PLC stops after a box-timed plan is armed, over real loopback TCP (issue 15).

The reject runtime with its real ejector timer thread drives the PLC simulator's coil through
the real PlcLink; the encoder comes from the simulator's belt through the same link. A defect is
seen 200 mm before the ejector line on a 500 mm/s belt (its push due ~400 ms later); then the
permit drops and the PLC stops the belt (the stale-verdict stop while the camera hangs). The
truth is the simulator's: its item model and its paddle's reach say whether a push binned the
item.

- Camera hung and nothing else re-timing: the timer pushes at the planned time, at air. The
  product must count a missed reject (`fired_short`), never a fire.
- Plans re-timed on each encoder reading (as the controller's input poller does): the plan is
  withdrawn before it fires; after reset and start the item is pushed into the bin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.conveyor import ConveyorConfig
from plantvision.conveyor.runtime import RejectRuntime
from plantvision.plc.link import PlcLink, PlcOutputs
from plantvision.types import Frame
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from tests.conveyor.helpers import FRAME_H, FRAME_W, frame
from tests.reject.running_belt import running_link
from tests.waiting import wait_for

EJECTOR_MM = 300.0  # the ejector line, from the camera's reference line (1 px = 1 mm)
LEAD_MM = 200.0  # the defect is seen this far before the line
REACH_MM = 10.0
IMAGE = np.random.default_rng(0).integers(60, 200, (FRAME_H, FRAME_W, 3), dtype=np.uint8)


@dataclass
class OneDefect:
    """Item truth: one defective item, `LEAD_MM` before the ejector line when the belt had
    travelled `seen_mm` (set when the camera sees it)."""

    seen_mm: float | None = None

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        if self.seen_mm is None:
            return None
        return 7, EJECTOR_MM - LEAD_MM + travel_mm - self.seen_mm, True


@pytest.fixture
def cell() -> Iterator[tuple[PlcSimulator, PlcLink, OneDefect]]:
    truth = OneDefect()
    site = EjectorSite(x_mm=EJECTOR_MM, response_ms=5.0, reach_mm=REACH_MM)
    conv = ConveyorSimConfig(counts_per_mm=10.0, belt_speed_mm_s=500.0, ejectors=(site,))
    sim = PlcSimulator(SimConfig(conveyor=conv, watchdog_ms=5000, stopping_ms=0, item_truth=truth))
    for sim_, link in running_link(sim):
        yield sim_, link, truth


def runtime(link: PlcLink) -> RejectRuntime:
    cfg = ConveyorConfig.model_validate({
        "belt": {"encoder": {"signal": "encoder", "counts_per_mm": 10.0}},
        "mapping": {"axis": "x", "mm_per_px": 1.0},
        "ejectors": [{"id": "ej1", "position_mm": EJECTOR_MM, "actuator_response_ms": 5.0,
                      "pulse_ms": 30.0, "reach_mm": REACH_MM}],
        "timing_mode": "box",
        "horizon_ms": 600.0,
    })  # fmt: skip
    rt = RejectRuntime(cfg, {"ej1": 0}, structlog.get_logger())
    rt.start(link.write_ejector, link.write_verdicts)
    return rt


def arm_then_stop(sim: PlcSimulator, link: PlcLink, truth: OneDefect, rt: RejectRuntime) -> None:
    """The camera sees the defect (the belt read on both sides of the frame), a step arms its
    plan, and the permit drops: the PLC stops the belt at once."""
    poll, belt = poller(link, rt), rt.scheduler.belt
    # Readings blurred by a slow round trip are left out (a loaded machine): read until the
    # belt has a speed, and again until a reading after the frame is in.
    assert wait_for(lambda: (poll(), rt.feed(), belt.speed_mm_per_ns() is not None)[-1])
    t0, truth.seen_mm = sim.belt.read()  # type: ignore[union-attr]
    assert wait_for(lambda: (poll(), rt.feed(), belt.read_at(t0) is not None)[-1])
    rt.observe(t0, Frame(IMAGE, 0, t0), frame([(EJECTOR_MM - LEAD_MM, 240.0, "defect")]))
    rt.step(time.monotonic_ns(), 0, False)
    assert rt.counters["scheduled"] == 1, rt.counters
    link.write(PlcOutputs(permit=False))
    assert wait_for(lambda: not sim.machine_running)


def poller(link: PlcLink, rt: RejectRuntime) -> Callable[[], None]:
    def poll() -> None:
        rt.offer(link.read_inputs())

    return poll


def test_a_push_at_air_on_a_belt_the_plc_stopped_is_counted_missed_not_fired(
    cell: tuple[PlcSimulator, PlcLink, OneDefect],
) -> None:
    sim, link, truth = cell
    rt = runtime(link)
    try:
        arm_then_stop(sim, link, truth, rt)
        timer = rt.timer
        assert timer is not None
        assert wait_for(lambda: len(timer.on_errors_ns) > 0), "the timer never switched on"
        poll = poller(link, rt)

        def judged() -> bool:  # camera cycles resume; the poller reads the standing belt
            poll()
            rt.step(time.monotonic_ns(), 0, False)
            return rt.counters["missed"] + rt.counters["fired"] > 0

        with capture_logs() as logs:
            assert wait_for(judged), "the switch-on was never judged"
    finally:
        rt.close()
    (pulse,) = sim.belt.pulses()  # type: ignore[union-attr]
    assert pulse["binned"] is False
    assert pulse["offset_mm"] < -REACH_MM  # the truth: the item stood short of the paddle
    assert (rt.counters["fired"], rt.counters["missed"]) == (0, 1)
    assert [e["reason"] for e in logs if e["event"] == "reject_missed"] == ["fired_short"]


def test_plans_re_timed_on_each_reading_are_withdrawn_and_the_item_binned_after_restart(
    cell: tuple[PlcSimulator, PlcLink, OneDefect],
) -> None:
    sim, link, truth = cell
    rt = runtime(link)
    poll = poller(link, rt)

    def poll_and_retime() -> None:
        poll()
        rt.retime(time.monotonic_ns())

    try:
        with capture_logs() as logs:
            arm_then_stop(sim, link, truth, rt)
            withdrawn = wait_for(
                lambda: (poll_and_retime(), any(e["event"] == "reject_unarmed" for e in logs))[1]
            )
        assert withdrawn, "the plan was not withdrawn on the standing belt"
        assert sim.belt.pulses() == []  # type: ignore[union-attr]
        sim.press_reset()
        link.write(PlcOutputs(permit=True))
        assert wait_for(sim.press_start)

        def fired() -> bool:  # the camera cycles again, the poller reads and re-times
            poll_and_retime()
            rt.step(time.monotonic_ns(), 0, False)
            return rt.counters["missed"] + rt.counters["fired"] > 0

        assert wait_for(fired, 5.0), "the reject never fired after the restart"
    finally:
        rt.close()
    (pulse,) = sim.belt.pulses()  # type: ignore[union-attr]
    assert (pulse["item"], pulse["binned"]) == (7, True), pulse
    assert (rt.counters["fired"], rt.counters["missed"]) == (1, 0)
