"""A PLC simulator's belt behind a running machine, and the box's real link to it over TCP."""

from __future__ import annotations

from collections.abc import Iterator

import structlog

from plantvision.plc.config import DEFAULT_SIGNAL_MAP, PlcConfig, SignalMap
from plantvision.plc.link import PlcLink, PlcOutputs
from simulators.plc import PlcSimulator
from tests.waiting import wait_for


def running_link(
    sim: PlcSimulator, signals: SignalMap = DEFAULT_SIGNAL_MAP
) -> Iterator[tuple[PlcSimulator, PlcLink]]:
    """Start `sim`, link the box to it (`signals`: the simulator's map too), and start the
    machine (a monitored restart: the permit rises after the reset press); stop both after the
    test."""
    port = sim.start()
    cfg = PlcConfig(
        host="127.0.0.1",
        port=port,
        allowed_hosts=("127.0.0.1",),
        heartbeat_period_ms=20,
        signals=signals,
    )
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    assert wait_for(lambda: sim.values.get("heartbeat", 0) > 0)
    sim.press_reset()
    link.write(PlcOutputs(permit=True))
    assert wait_for(sim.press_start), (sim.machine.trip_cause, sim.values)
    yield sim, link
    link.stop()
    sim.stop()
