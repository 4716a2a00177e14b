"""Every camera's contribution expires: with two real cameras against the PLC simulator over
TCP, one camera whose detector hangs (or whose thread dies) drops the permit at the PLC while
the other keeps cycling, and the heartbeat at the PLC stops changing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plantvision.loop.outputs import FAULT_CODES
from tests.loop.twocams import TwoCameraCell
from tests.waiting import wait_for


@pytest.fixture
def cell(tmp_path: Path) -> Iterator[TwoCameraCell]:
    c = TwoCameraCell(tmp_path)
    with c:
        try:
            yield c
        finally:
            for d in c.det.values():
                d.release.set()


def run_until_permit(cell: TwoCameraCell) -> None:
    """Press reset like a patient operator once every tripped guard would accept it (a camera
    whose own guard never tripped keeps permitting: the other's trip was not its own)."""
    states = {"ready_to_reset", "running"}
    for _ in range(5):
        assert wait_for(
            lambda: (
                all(
                    c.last_output is not None and c.last_output.state in states
                    for c in cell.cameras
                )
                and not cell.permit_at_plc()
            ),
            10,
        )
        cell.sim.press_reset()  # counted on its release, reset_pulse_ms later
        if wait_for(cell.permit_at_plc, 3.0):
            return
    raise AssertionError("permit never reached the PLC")


def heartbeat_frozen(cell: TwoCameraCell, quiet_ms: float) -> bool:
    """No heartbeat write reached the simulator for `quiet_ms` (now, by its clock)."""
    beats = cell.heartbeat_writes()
    return bool(beats) and time.monotonic_ns() - beats[-1] > quiet_ms * 1e6


def test_a_hung_camera_drops_the_permit_while_the_other_keeps_cycling(
    cell: TwoCameraCell,
) -> None:
    """Camera a's detector blocks; camera b keeps writing. The PLC sees permit OFF with a's
    own fault code, and the heartbeat stops, though b's thread is alive and writing."""
    run_until_permit(cell)
    cell.det["a"].hang.set()
    assert cell.det["a"].hanging.wait(5)
    assert wait_for(lambda: not cell.permit_at_plc(), 5), "permit stayed ON with a hung camera"
    # The fault code register is written just after the coils: wait for it too.
    assert wait_for(lambda: cell.fault_code_at_plc() == FAULT_CODES["decision_expired"], 2)
    b_calls = cell.det["b"].calls
    assert wait_for(lambda: cell.det["b"].calls > b_calls + 5, 5), "camera b stopped cycling"
    # The heartbeat stops changing at the PLC although b still writes images.
    assert wait_for(lambda: heartbeat_frozen(cell, 300), 5), "heartbeat kept advancing"
    beats = len(cell.heartbeat_writes())
    assert not wait_for(lambda: len(cell.heartbeat_writes()) > beats, 1.0)
    assert not cell.permit_at_plc()
    # Back from the hang: the permit returns only through a reset, and the heartbeat resumes.
    cell.det["a"].hang.clear()
    cell.det["a"].release.set()
    assert not wait_for(cell.permit_at_plc, 1.0), "permit came back without a reset"
    run_until_permit(cell)
    beats = len(cell.heartbeat_writes())
    assert wait_for(lambda: len(cell.heartbeat_writes()) > beats, 3)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_camera_thread_drops_the_permit_and_stops_the_heartbeat(
    cell: TwoCameraCell,
) -> None:
    """Camera a's thread dies (a BaseException escapes every guard); b keeps cycling. The PLC
    sees permit OFF and a heartbeat that has stopped."""
    run_until_permit(cell)
    cell.det["a"].die = True
    assert wait_for(lambda: not cell.permit_at_plc(), 5), "permit stayed ON with a dead camera"
    codes = (FAULT_CODES["decision_expired"], FAULT_CODES["thread_stopped"])
    assert wait_for(lambda: cell.fault_code_at_plc() in codes, 2)
    b_calls = cell.det["b"].calls
    assert wait_for(lambda: cell.det["b"].calls > b_calls + 5, 5), "camera b stopped cycling"
    assert wait_for(lambda: heartbeat_frozen(cell, 300), 5), "heartbeat kept advancing"
    beats = len(cell.heartbeat_writes())
    assert not wait_for(lambda: len(cell.heartbeat_writes()) > beats, 1.0)
    assert not cell.permit_at_plc()
