"""The capture-latency command's encoder probe, over real loopback TCP against the PLC simulator:
it reads the count the PLC holds and writes nothing (the cell it measures keeps running)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plantvision.plc.config import PlcConfig
from plantvision.plc.probe import EncoderProbe, PlcUnreachableError
from simulators.plc import ConveyorSimConfig, PlcSimulator, SimConfig
from tests.reject.running_belt import running_link

CPM = 10.0


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(conveyor=ConveyorSimConfig(counts_per_mm=CPM)))
    s.start()
    yield s
    s.stop()


def _cfg(port: int) -> PlcConfig:
    return PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",))


def test_the_probe_reads_the_encoder_and_writes_nothing(sim: PlcSimulator) -> None:
    """Its readings are the simulator's count, stamped inside their round trip; the PLC sees no
    write at all (PlcLink would have written the permit off on connecting)."""
    probe = EncoderProbe(_cfg(sim.port), "site.yaml")
    probe.open()
    try:
        readings = [probe.read() for _ in range(20)]
    finally:
        probe.close()
    assert all(r.count == 0 for r in readings)  # power-up: the belt has not moved
    assert all(0 <= r.half_rtt_ns < 1_000_000_000 for r in readings)
    assert [r.t_ns for r in readings] == sorted(r.t_ns for r in readings)
    assert sim.write_log == []
    assert probe.width == 32


def test_each_reading_is_stamped_when_the_plc_held_that_count() -> None:
    """On a belt running at 1 m/s (1 count per 0.1 ms), the count is the belt's true travel at
    the reading's stamp, within the stamp's own blur (half the round trip) and one count."""
    sim = PlcSimulator(SimConfig(conveyor=ConveyorSimConfig(counts_per_mm=CPM,
                                                            belt_speed_mm_s=1000.0)))  # fmt: skip
    running = running_link(sim)
    next(running)
    probe = EncoderProbe(_cfg(sim.port), "site.yaml")
    probe.open()
    try:
        readings = [probe.read() for _ in range(50)]
    finally:
        probe.close()
        next(running, None)
    counts_per_ns = 1000.0 * CPM / 1e9
    for r in readings:
        truth = sim.machine.position_counts_at(r.t_ns)
        assert abs(r.count - truth) <= r.half_rtt_ns * counts_per_ns + 1, r


def test_an_unreachable_plc_is_a_clear_error_naming_host_and_port() -> None:
    probe = EncoderProbe(_cfg(1), "site.yaml")
    with pytest.raises(PlcUnreachableError, match=r"127\.0\.0\.1:1 \(plc\.host, plc\.port\)"):
        probe.open()
