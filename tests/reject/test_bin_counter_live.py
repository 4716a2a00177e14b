"""The bin counter over real loopback TCP: the PLC simulator counts each bin-sensor pulse per
ejector, and the box, polling every 20 ms, confirms every 10 ms pulse through the counter while
the level input (the old way) misses about half of them."""

from __future__ import annotations

import threading

import structlog

from plantvision.conveyor.confirm import BinCounter
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig, SignalMap, SignalModel
from plantvision.plc.link import PlcLink
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from tests.waiting import wait_for

PULSES = 40
POLL_S = 0.020  # the controller's input poll
PULSE_GAP_S = 0.047  # not a multiple of the poll: the pulses fall at every phase of it

COUNTERS = (
    SignalModel(type="input_register", address=8),
    SignalModel(type="input_register", address=9),
)


class AlwaysThere:
    """Item truth: an item's centre sits at every ejector whenever it pushes."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        return 1, x_mm, True


def test_every_10ms_bin_pulse_is_confirmed_through_the_counter() -> None:
    """40 pushes of ejector 0, each binned with a 10 ms bin-sensor pulse: the counter of
    ejector 0 yields 40 of 40, ejector 1's counter none; the level poll sees fewer."""
    conv = ConveyorSimConfig(
        ejectors=(EjectorSite(x_mm=500.0), EjectorSite(x_mm=800.0)),
        bin_delay_ms=5.0,
        confirm_pulse_ms=10.0,
    )
    signals = SignalMap.model_validate(
        DEFAULT_SIGNAL_MAP.model_dump() | {"reject_confirm_counters": COUNTERS}
    )
    sim = PlcSimulator(
        SimConfig(conveyor=conv, signals=signals, item_truth=AlwaysThere(), watchdog_ms=60000)
    )
    port = sim.start()
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",), signals=signals)
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    counters, level_edges, last_level = [BinCounter(), BinCounter()], 0, True
    confirmed = [0, 0]
    done, anchored = threading.Event(), threading.Event()

    def poll() -> None:  # the controller's input poller, reduced to the bin sensor
        nonlocal level_edges, last_level
        while not done.wait(POLL_S):
            inputs = link.read_inputs()
            if inputs is None or inputs.confirm_counts is None:
                continue
            for i, raw in enumerate(inputs.confirm_counts):
                confirmed[i] += counters[i].update(raw).pulses
            anchored.set()
            level = bool(inputs.reject_confirm)
            level_edges += level and not last_level
            last_level = level

    try:
        assert wait_for(lambda: link.healthy)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert anchored.wait(3.0)  # the first reading anchors the counters
        for _ in range(PULSES):
            link.write_ejector(0, True)
            link.write_ejector(0, False)
            done.wait(PULSE_GAP_S)
        assert sim.belt is not None
        assert len(sim.belt.pulses()) == PULSES
        assert wait_for(lambda: confirmed[0] == PULSES), (confirmed, level_edges)
        done.set()
        poller.join()
    finally:
        done.set()
        link.stop()
        sim.stop()
    assert confirmed == [PULSES, 0]
    assert level_edges <= PULSES
    print(f"bin pulses 10 ms, poll 20 ms: counter {confirmed[0]}/{PULSES}, "
          f"level {level_edges}/{PULSES}")  # fmt: skip
