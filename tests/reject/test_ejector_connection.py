"""Box-timed ejector coils over the real link (issue 15 item 5): the ejector timer's switch never
waits behind a camera's image write, never overwrites another coil, and never carries a permit.

Real threads: one camera loop writing its image every cycle through the real Controller, the
real PlcLink over loopback TCP, the real PlcSimulator; the simulator holds or delays writes that
touch one signal, as a congested PLC would. The ejector path is the callback the Controller hands
the ejector timer (`RejectRuntime.start(ctl._set_ejector, ...)`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from plantvision.plc.config import SignalMap, SignalModel
from tests.review3.cell import OneCell, wait_for

COIL = "coil"
NO_WARNING = SignalMap(
    permit=SignalModel(type=COIL, address=0),
    ejectors=(SignalModel(type=COIL, address=1), SignalModel(type=COIL, address=2)),
    heartbeat=SignalModel(type="holding_register", address=0),
    fault_code=SignalModel(type="holding_register", address=1),
    reset=SignalModel(type="discrete_input", address=0),
)


def _switch(cell: OneCell, index: int, on: bool) -> threading.Thread:
    """Switch a coil from another thread, as the ejector timer does."""
    t = threading.Thread(target=cell.ctl._set_ejector, args=(index, on), daemon=True)
    t.start()
    return t


def test_an_ejector_switch_never_waits_behind_a_held_camera_write(tmp_path: Path) -> None:
    """While the camera's image write sits unanswered at the PLC, an ejector coil still reaches
    the PLC (before: the timer waited for the write lock, i.e. the camera's whole round trip or
    its timeout, and then found the link lost)."""
    with OneCell(tmp_path, plc={"request_timeout_ms": 1000}) as cell:
        cell.press_until_permit()
        cell.sim.hold_writes("permit")  # every camera image write touches the permit coil
        try:
            assert wait_for(lambda: cell.sim.writes_held >= 1, 2), "no image write was held"
            _switch(cell, 0, True)
            reached = wait_for(lambda: bool(cell.sim.values.get("ejectors.0")), 0.6)
            held = cell.sim.writes_held >= 1
        finally:
            cell.sim.release_writes("permit")
        assert held, "the camera's write was no longer held: the check proves nothing"
        assert reached, "the ejector coil waited behind the camera's image write"
        assert cell.link.losses == 0


def test_a_camera_write_never_switches_an_ejector_coil(tmp_path: Path) -> None:
    """An ejector on stays on through the camera's image writes until the timer switches it
    off; the camera's writes touch permit and warning only."""
    with OneCell(tmp_path) as cell:
        cell.press_until_permit()
        _switch(cell, 1, True).join(2)
        n = len(cell.sim.write_log)
        assert wait_for(lambda: len(cell.sim.write_log) > n + 5, 2), "the camera stopped writing"
        assert cell.sim.values["ejectors.1"]
        ejector_writes = [e for e in list(cell.sim.write_log)[n:] if "ejectors.1" in e["signals"]]
        assert ejector_writes == [], "a camera image write rewrote the ejector coil"
        _switch(cell, 1, False).join(2)
        assert wait_for(lambda: not cell.sim.values["ejectors.1"], 1)


def test_each_ejector_reaches_its_own_coil_in_a_map_without_a_warning_light(
    tmp_path: Path,
) -> None:
    """Without a warning coil the ejectors sit right after the permit; ejector 0's coil is
    address 1 (before: the image was written as permit, warning, ejectors from the lowest
    address, so ejector 0's value landed on ejector 1's coil)."""
    with OneCell(tmp_path, signals=NO_WARNING) as cell:
        cell.press_until_permit()
        _switch(cell, 0, True).join(2)
        assert wait_for(lambda: bool(cell.sim.values.get("ejectors.0")), 1)
        assert not cell.sim.values.get("ejectors.1")
        assert cell.sim.permit_seen


def test_a_failed_ejector_write_loses_the_link_and_trips(tmp_path: Path) -> None:
    """An ejector write the PLC does not acknowledge is a lost link like any other request: the
    permit drops (tripped image first on the reconnect, ejector coils off) and the timer is told
    the coil did not reach the PLC."""
    with OneCell(tmp_path) as cell:
        cell.press_until_permit()
        done: list[bool] = []
        cell.sim.hold_writes("ejectors")  # unanswered past the request timeout (100 ms)
        t = threading.Thread(target=lambda: done.append(cell.ctl._set_ejector(0, True)))
        t.start()
        t.join(3)
        cell.sim.release_writes("ejectors")
        assert done == [False], "an unacknowledged coil write was reported as reached"
        assert wait_for(lambda: cell.link.losses >= 1, 2)
        assert wait_for(lambda: cell.link.healthy, 3), "never healed"
        assert not cell.sim.permit_seen, "the permit came back without a reset"
        assert not cell.sim.values.get("ejectors.0"), "the tripped image left the ejector on"
