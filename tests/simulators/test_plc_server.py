"""The simulator speaks standard Modbus TCP: an independent client sees what the link wrote."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from pyModbusTCP.client import ModbusClient

from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink, PlcOutputs
from plantvision.plc.values import words_to_u32
from simulators.plc import PlcSimulator, SimConfig
from simulators.plc.__main__ import main as sim_main


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=60_000, stopping_ms=0, log_path=tmp_path / "w.jsonl"))
    s.start()
    yield s
    s.stop()


def _link(port: int) -> PlcLink:
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",))
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    return link


def test_independent_client_reads_the_outputs_the_link_wrote(sim: PlcSimulator) -> None:
    """pyModbusTCP (not pymodbus) reads permit, warning, ejectors, fault code and heartbeat."""
    link = _link(sim.port)
    try:
        assert link.write(PlcOutputs(permit=True, warning=False, fault_code=513))
        assert link.write_ejector(1, True)
        other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=2.0)
        assert other.read_coils(0, 4) == [True, False, False, True]
        heartbeat, fault = other.read_holding_registers(0, 2)
        assert fault == 513
        deadline = time.monotonic() + 3
        while other.read_holding_registers(0, 1)[0] == heartbeat and time.monotonic() < deadline:
            time.sleep(0.02)
        assert other.read_holding_registers(0, 1)[0] != heartbeat
        other.close()
    finally:
        link.stop()


def test_independent_client_drives_the_machine_and_reads_the_encoder(sim: PlcSimulator) -> None:
    """Writes from pyModbusTCP reach the machine model; its 32-bit encoder reads big-endian."""
    other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=2.0)
    assert sim.press_reset()
    assert other.read_discrete_inputs(0, 1) == [True]
    assert other.write_single_register(0, 1)
    assert other.write_single_coil(0, True)
    assert not sim.machine_running  # a reset never starts the machine
    assert sim.press_start()
    deadline = time.monotonic() + 3
    counts = 0
    while counts == 0 and time.monotonic() < deadline:
        hi, lo = other.read_input_registers(0, 2)
        counts = words_to_u32([hi, lo], "big")
    assert counts > 0
    assert other.write_single_coil(0, False)
    assert not sim.machine_running
    other.close()


def test_exception_code_reaches_an_independent_client(sim: PlcSimulator) -> None:
    """An injected exception code is a proper Modbus exception on the wire."""
    other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=2.0)
    sim.set_exception(2)
    assert other.read_coils(0, 1) is None
    assert other.last_except == 2
    sim.set_exception(None)
    assert other.read_coils(0, 1) == [False]
    other.close()


def test_a_held_signal_holds_a_multi_coil_write_that_reaches_it(sim: PlcSimulator) -> None:
    """hold_writes("ejectors") holds a write_coils from the permit up to the ejectors (pymodbus
    counts the coils of such a request as one register; the hold once missed it), and leaves a
    write of the permit alone."""
    other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=0.3)
    sim.hold_writes("ejectors")
    try:
        assert other.write_multiple_coils(0, [True, False]) is True
        assert other.write_multiple_coils(0, [True, False, True, False]) is False  # timed out
        assert sim.writes_held == 1
    finally:
        sim.release_writes("ejectors")
        other.close()


def test_every_write_is_logged_as_a_json_line(sim: PlcSimulator, tmp_path: Path) -> None:
    """Each write carries monotonic ns, wall time and the decoded signals."""
    other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=2.0)
    other.write_multiple_coils(0, [True, True])
    other.write_single_register(1, 42)
    other.close()
    lines = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]
    assert [entry["signals"] for entry in lines] == [
        {"permit": 1, "warning": 1},
        {"fault_code": 42},
    ]
    assert all(isinstance(e["t_mono_ns"], int) and e["t_wall"] > 1e9 for e in lines)


def test_bench_prints_median_p99_and_max(capsys: pytest.CaptureFixture[str]) -> None:
    """The bench command prints both figures with median, p99 and max."""
    assert sim_main(["bench", "-n", "20"]) == 0
    out = capsys.readouterr().out
    assert "write() round trip" in out
    assert "permit off requested -> server holds permit off" in out
    assert out.count("median") == 2
    assert out.count("p99") == 2


def test_a_replayed_heartbeat_write_trips_the_running_machine(sim: PlcSimulator) -> None:
    """The simulator's watchdog checks the sequence: a second client replaying the last
    heartbeat value (not +1) trips the running machine; so does a skip."""
    other = ModbusClient(host="127.0.0.1", port=sim.port, unit_id=1, timeout=2.0)
    assert other.write_single_register(0, 41)
    assert sim.press_reset()
    assert other.write_single_coil(0, True)
    assert other.write_single_register(0, 42)
    assert sim.press_start()
    assert other.write_single_register(0, 42)  # replayed
    assert not sim.machine_running
    assert sim.machine.trip_cause == "heartbeat_sequence"
    other.close()
