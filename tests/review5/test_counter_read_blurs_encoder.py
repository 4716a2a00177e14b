"""Review 5 hole: mapping the per-ejector bin counters (the recommended confirmation) makes every
encoder reading look "blurred" on a PLC that answers in a few milliseconds, so the belt never
gets a position: every frame is `belt_position_unknown`, no defective item is ever scheduled,
and none is counted missed.

PlcLink.read_inputs (plc/link.py) stamps the encoder at the middle of its own request
(`t_encoder_ns`) but stamps `t_read_ns` after *all* reads of the poll, and since the bin counters
came in (f13dbdc) that includes one more request after the encoder, `_read_counters`.
RejectRuntime._feed_one (conveyor/runtime.py) takes `t_read_ns - t_encoder_ns` as the reading's
blur (meant: half the encoder read's round trip) and drops every reading blurred past
MAX_HALF_RTT_NS = 3 ms, whatever the gap since the last one. With counters mapped that "blur" is
half an encoder round trip plus a whole counter round trip: a PLC answering each request in
2.5 ms (fast for a PLC; many Modbus servers answer at their scan, 5-20 ms) yields ~5 ms on
loopback, and every reading is dropped, for ever. The same PLC without counters mapped (control
below) is fine.

Consequence: the belt is never `ready`; RejectScheduler.observe counts `frames_unplaced` and logs
a warning per frame, but no reject, no miss, no alarm and no belt stop follow: defective items
pass the ejector (the "blind segment" rule, "never passed as good", is not applied to it).

Real PlcLink over loopback TCP to the real PLC simulator (every response delayed 2.5 ms), its
PlcInputs fed to the real RejectRuntime the way the controller's input poller and camera cycle do
(`offer`, `feed`, `observe`, `step`).
"""

from __future__ import annotations

import time

import numpy as np
import structlog

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig, SignalMap, SignalModel
from plantvision.plc.link import PlcLink
from plantvision.types import Frame
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from tests.conveyor.helpers import encoder_cfg, frame
from tests.waiting import wait_for

COUNTERS = (
    SignalModel(type="input_register", address=8),
    SignalModel(type="input_register", address=9),
)
PLC_ANSWER_MS = 2.5


def _run(counters: bool) -> tuple[bool, dict[str, int], list[float]]:
    signals = DEFAULT_SIGNAL_MAP
    if counters:
        signals = SignalMap.model_validate(
            DEFAULT_SIGNAL_MAP.model_dump() | {"reject_confirm_counters": COUNTERS}
        )
    conv = ConveyorSimConfig(ejectors=(EjectorSite(x_mm=500.0), EjectorSite(x_mm=800.0)))
    sim = PlcSimulator(SimConfig(conveyor=conv, signals=signals, watchdog_ms=60000))
    port = sim.start()
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",), signals=signals)
    link = PlcLink(cfg, structlog.get_logger())
    rt = RejectRuntime(
        encoder_cfg(timing_mode="box", confirm_window_ms=300),
        {"ej1": 0},
        structlog.get_logger(),
        counted=counters,
    )
    blurs: list[float] = []
    try:
        link.start()
        assert wait_for(lambda: link.healthy)
        sim.set_delay_ms(PLC_ANSWER_MS)
        for _ in range(30):  # 30 input polls, 20 ms apart, as the controller's poller
            inputs = link.read_inputs()
            assert inputs is not None
            blurs.append((inputs.t_read_ns - inputs.t_encoder_ns) / 1e6)
            rt.offer(inputs)
            rt.feed(inputs)
            time.sleep(0.02)
        now = time.monotonic_ns()
        image = np.random.default_rng(0).integers(60, 200, (480, 640, 3), dtype=np.uint8)
        rt.observe(now, Frame(image, 1, now), frame([(100.0, 240.0, "defect")]))
        rt.step(now, 0, False)
        return rt.scheduler.belt.ready, rt.counters, blurs
    finally:
        link.stop()
        sim.stop()


def test_control_without_counters_the_belt_is_placed() -> None:
    ready, counters, blurs = _run(counters=False)
    assert ready, (counters, blurs)
    assert counters["defective"] == 1


def test_with_bin_counters_mapped_the_belt_is_still_placed() -> None:
    ready, counters, blurs = _run(counters=True)
    assert ready, (
        f"no encoder reading ever reached the belt (median 'blur' {sorted(blurs)[15]:.2f} ms, "
        f"PLC answering in {PLC_ANSWER_MS} ms): a defective item went unscheduled and unmissed: "
        f"{counters}"
    )
