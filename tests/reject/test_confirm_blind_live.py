"""A blind push's item in the bin never confirms a real reject, over real loopback TCP: the
product's reject runtime (its ejector timer thread switching the coil through the real PlcLink,
the bin counter read with the encoder) against the PLC simulator, whose belt runs at 500 mm/s
and whose item truth decides what each push bins.

The camera (the simulator's belt read with its time, as the rig's camera does) shows a defect D
at u = 250 mm in every frame and a good item G at u = 300 mm in the first frame only: with
`min_views` 2, G is a blind point the ejector pushes at its centre, 100 ms before D's push. The
truth holds G alone: D's push meets air (its item is not under the paddle: a jammed paddle or a
mapping error, all the same to the bin), G's push bins G, whose bin pulse comes 120 ms later,
while both windows are open. Before blind pushes opened windows, that pulse confirmed D."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, SignalMap, SignalModel
from plantvision.plc.link import PlcLink
from plantvision.types import Frame
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, encoder_cfg, frame
from tests.reject.running_belt import running_link

D_U_MM, G_U_MM = 250.0, 300.0
SIGNALS = SignalMap.model_validate(
    DEFAULT_SIGNAL_MAP.model_dump()
    | {"ejectors": (SignalModel(type="coil", address=2),),
       "reject_confirm_counters": (SignalModel(type="input_register", address=8),)}
)  # fmt: skip
IMAGE = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)  # only its size matters to the runtime


class OnlyG:
    """Item truth: G alone, at u = 300 mm on the simulator's belt."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        return 1, G_U_MM + travel_mm, False


@pytest.fixture
def cell() -> Iterator[tuple[PlcSimulator, PlcLink]]:
    """The simulator (its paddle's reach 40 mm: a timer late by up to 80 ms still bins G; the
    bin sensor 120 ms after the push) and the box's link, the belt started."""
    conv = ConveyorSimConfig(
        ejectors=(EjectorSite(x_mm=1000.0, response_ms=20.0, reach_mm=40.0),),
        bin_delay_ms=120.0,
    )
    sim = PlcSimulator(SimConfig(conveyor=conv, signals=SIGNALS, item_truth=OnlyG(),
                                 watchdog_ms=60000))  # fmt: skip
    yield from running_link(sim, SIGNALS)


def test_a_blind_push_binning_an_item_does_not_confirm_a_real_reject_that_missed(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """The simulator's log shows G binned by the blind push and D's push binning nothing; the
    box takes G's counter pulse for the blind push, and D is unconfirmed (the belt stops),
    cause ambiguous_with_blind_push."""
    sim, link = cell
    assert sim.belt is not None
    cfg = encoder_cfg(longest_item_mm=40.0, min_views=2, confirm_window_ms=200.0,
                      ejectors=[{"id": "ej1", "position_mm": 1000.0, "pulse_ms": 30.0,
                                 "actuator_response_ms": 20.0, "reach_mm": 20.0}])  # fmt: skip
    rt = RejectRuntime(cfg, {"ej1": 0}, structlog.get_logger(), counted=True)
    rt.start(link.write_ejector, link.write_verdicts)
    try:
        with capture_logs() as logs:
            status = drive(rt, sim, link)
    finally:
        rt.close()
    pushes = [p for p in sim.belt.pulses() if p["mode"] == "box"]
    assert [p["item"] for p in pushes if p.get("binned")] == [1], pushes  # the truth: G only
    (d_id,) = [i for i, _, _ in rt.fire_log if i >= 0]
    assert [e for e in logs if e["event"] == "reject_confirmed"] == []
    assert status == "reject_unconfirmed"
    (unconfirmed,) = [e for e in logs if e["event"] == "reject_unconfirmed"]
    assert (unconfirmed["item_id"], unconfirmed["cause"]) == (d_id, "ambiguous_with_blind_push")
    (blind,) = [e for e in logs if e["event"] == "reject_confirm_blind"]
    assert blind["ambiguous_ids"] == [d_id]


def drive(rt: RejectRuntime, sim: PlcSimulator, link: PlcLink) -> str | None:
    """The camera thread's part for 2.4 s: inputs read every 10 ms and offered, a frame every
    50 ms from the belt as it is (D in each while in view, G in the first), a step every
    cycle. Returns the belt stop's cause."""
    assert sim.belt is not None
    t0_ns, _ = sim.belt.read()
    seq, cause = 0, None
    while (now_ns := time.monotonic_ns()) < t0_ns + 2400 * MS:
        rt.offer(link.read_inputs())
        if now_ns >= t0_ns + seq * 50 * MS:
            t_ns, travel_mm = sim.belt.read()
            x_d = D_U_MM + travel_mm  # where the truth's u puts it (the belt started at 0)
            boxes = [(x_d, 240, "item"), (x_d, 240, "defect")] if x_d < 600 else []
            boxes += [(G_U_MM + travel_mm, 240, "item")] if seq == 0 else []
            rt.observe(t_ns, Frame(IMAGE, seq, t_ns), frame(boxes))
            seq += 1
        cause = rt.step(time.monotonic_ns(), 0, False).fault
        time.sleep(0.01)
    return cause
