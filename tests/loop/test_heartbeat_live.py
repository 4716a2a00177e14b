"""The heartbeat proves the loop is deciding, and the box is the permit's only writer: two real
cameras on real threads against the PLC simulator over TCP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from pyModbusTCP.client import ModbusClient
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from tests.loop.test_expiry_live import run_until_permit
from tests.loop.twocams import TwoCameraCell
from tests.waiting import wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[TwoCameraCell]:
    c = TwoCameraCell(tmp_path, heartbeat_period_ms=20)
    with c:
        try:
            yield c
        finally:
            for d in c.det.values():
                d.release.set()


def test_the_heartbeat_stops_with_the_first_hung_decision(cell: TwoCameraCell) -> None:
    """A beat goes out only after every camera has decided since the last beat: once camera a's
    cycle hangs, at most one more beat (for the round it completed before) reaches the PLC,
    not a free-running beat until the supervisor notices the stuck camera (its expiry bound,
    250 ms here: a dozen beats at 20 ms)."""
    run_until_permit(cell)
    assert wait_for(lambda: len(cell.heartbeat_writes()) > 3, 5)
    cell.det["a"].hang.set()
    assert cell.det["a"].hanging.wait(5)
    hung_ns = cell.det["a"].hung_at_ns
    # The supervisor expires camera a: permit OFF at the PLC (decision_expired). By then a
    # free-running heartbeat would have beaten a dozen times since the hang.
    assert wait_for(lambda: not cell.permit_at_plc(), 5)
    assert wait_for(lambda: cell.fault_code_at_plc() == FAULT_CODES["decision_expired"], 2)
    after = [t for t in cell.heartbeat_writes() if t > hung_ns]
    assert len(after) <= 1, f"{len(after)} beats after the loop hung"


def test_the_heartbeat_counts_plus_one_per_beat(cell: TwoCameraCell) -> None:
    """Every heartbeat write the PLC receives is the previous one + 1 (mod 2**16)."""
    run_until_permit(cell)
    assert wait_for(lambda: len(cell.heartbeat_writes()) > 10, 5)
    values = [e["signals"]["heartbeat"] for e in cell.sim.write_log if "heartbeat" in e["signals"]]
    assert all(b == (a + 1) % 65536 for a, b in pairwise(values))
    assert cell.sim.machine.sequence_errors == 0


def test_another_writer_of_the_permit_is_found_by_the_readback(cell: TwoCameraCell) -> None:
    """A second Modbus client that keeps writing the permit coil ON while the box holds it OFF
    (tripped at power-up) is found by the box's readback: a `permit_mismatch` event naming what
    the box wrote and what the PLC holds, and the box writes its OFF again."""
    assert wait_for(lambda: len(cell.heartbeat_writes()) > 1, 5)
    other = ModbusClient(host="127.0.0.1", port=cell.sim.port, unit_id=1, timeout=2.0)
    stop = threading.Event()

    def rogue() -> None:
        while not stop.wait(0.005):
            other.write_single_coil(0, True)

    with capture_logs() as logs:
        t = threading.Thread(target=rogue, daemon=True)
        t.start()
        try:
            found = wait_for(lambda: any(e["event"] == "permit_mismatch" for e in logs), 5)
        finally:
            stop.set()
            t.join()
    other.close()
    assert found, "another writer of the permit went unnoticed"
    event = next(e for e in logs if e["event"] == "permit_mismatch")
    assert (event["written"], event["read_back"]) == (False, True)
    assert wait_for(lambda: not cell.permit_at_plc(), 2)
