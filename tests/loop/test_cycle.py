"""One loop cycle, frame to PLC write: trips, faults and their causes, in stepped time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from plantvision.loop.outputs import FAULT_CODES
from tests.loop.rig import INSIDE, OUTSIDE, WARN_ONLY, Rig


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_power_up_is_tripped_until_a_reset(rig: Rig) -> None:
    """Start interlock: clear frames alone never switch the permit on; a reset does."""
    assert not any(rig.step([OUTSIDE]) for _ in range(30))
    assert rig.link.writes[-1].fault_code == FAULT_CODES["start_interlock"]
    rig.press_reset()
    assert rig.step([OUTSIDE])
    assert rig.link.writes[-1].fault_code == 0


def test_person_in_stop_zone_drops_permit_in_the_same_cycle(rig: Rig) -> None:
    """One person anchor in a stop zone drops the permit in the cycle that sees it."""
    rig.start_running()
    with capture_logs() as logs:
        assert not rig.step([INSIDE])
    assert rig.link.writes[-1].permit is False
    assert rig.link.writes[-1].fault_code == FAULT_CODES["stop_zone"]
    trip = next(e for e in logs if e["event"] == "trip")
    assert trip["zone"] == "press"
    assert trip["seq"] == rig.seq


def test_trip_latches_until_clear_hold_and_reset(rig: Rig) -> None:
    """After a trip the permit stays off until the zone is clear for clear_hold AND reset."""
    rig.start_running()
    rig.step([INSIDE])
    assert not any(rig.step([OUTSIDE], dt_ms=33) for _ in range(40))  # clear, but no reset
    rig.press_reset()
    assert rig.step([OUTSIDE])


def test_reset_while_occupied_is_refused(rig: Rig) -> None:
    """A reset pressed while a person is still in the stop zone is refused and logged."""
    rig.start_running()
    rig.step([INSIDE])
    rig.step([INSIDE], dt_ms=600)
    with capture_logs() as logs:
        rig.press_reset()
        assert not rig.step([INSIDE])
    refused = [e for e in logs if e["event"] == "reset_refused"]
    assert refused[0]["reason"] == "stop_zone_occupied"


def test_warning_zone_lights_and_clears_by_itself(rig: Rig) -> None:
    """A person in the warning zone lights the warning without dropping the permit."""
    rig.start_running()
    rig.step([WARN_ONLY])
    assert rig.link.writes[-1].permit
    assert rig.link.writes[-1].warning
    for _ in range(15):
        rig.step([OUTSIDE])
    assert not rig.link.writes[-1].warning
    assert rig.link.writes[-1].permit


def test_model_error_trips_with_its_cause(rig: Rig) -> None:
    """A detector that raises ends in the safe state with cause model_error, logged."""
    rig.start_running()
    rig.detector.error = RuntimeError("onnxruntime: bad alloc")
    with capture_logs() as logs:
        assert not rig.step()
    assert rig.link.writes[-1].fault_code == FAULT_CODES["model_error"]
    assert any(e["event"] == "model_error" and "bad alloc" in e["error"] for e in logs)
    rig.detector.error = None
    for _ in range(20):
        rig.step([OUTSIDE])
    rig.press_reset()
    assert rig.step([OUTSIDE]), "recovers once the model works again and a reset comes"


def test_a_verdict_older_than_the_budget_drops_a_running_permit(rig: Rig) -> None:
    """Between frames the last verdict stands while it is younger than budget_ms; once older,
    it is no verdict, and no verdict is never clear: the running permit drops (verdict_stale),
    long before stall_ms."""
    rig.start_running()
    assert rig.step(no_frame=True, dt_ms=200)
    assert not rig.step(no_frame=True, dt_ms=50)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["verdict_stale"]


def test_stalled_camera_trips_after_stall_time(tmp_path: Path) -> None:
    """No new frame for longer than stall_ms trips with camera_stalled (a budget longer than
    the stall time leaves the stall to say it)."""
    rig = Rig(tmp_path, budget_ms=2000)
    rig.start_running()
    assert rig.step(no_frame=True, dt_ms=200)
    assert rig.step(no_frame=True, dt_ms=200)
    assert not rig.step(no_frame=True, dt_ms=200)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["camera_stalled"]


def test_frozen_picture_trips(rig: Rig) -> None:
    """The same picture over and over is a frozen camera, not an empty zone."""
    rig.start_running()
    still = rig.frame().image
    permits = [rig.step([OUTSIDE], image=still) for _ in range(7)]
    assert permits[0]
    assert not permits[-1]
    assert rig.link.writes[-1].fault_code == FAULT_CODES["frozen_frame"]


def test_black_picture_trips(rig: Rig) -> None:
    """A covered lens (dark, textureless picture) trips with black_frame."""
    rig.start_running()
    assert not rig.step([OUTSIDE], image=np.zeros((480, 640, 3), np.uint8))
    assert rig.link.writes[-1].fault_code == FAULT_CODES["black_frame"]


def test_verdict_older_than_budget_is_never_clear(rig: Rig) -> None:
    """A frame older than the budget trips (policy trip) and never counts as clear."""
    rig.start_running()
    with capture_logs() as logs:
        assert not rig.step([OUTSIDE], age_ms=250)
    assert any(e["event"] == "budget_overrun" for e in logs)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["budget_overrun"]


def test_late_frame_with_a_person_still_trips_as_zone(rig: Rig) -> None:
    """An old frame that shows a person in a stop zone still trips: late bad news is news."""
    rig.start_running()
    rig.cam.overrun_trips = False
    assert not rig.step([INSIDE], age_ms=250)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["stop_zone"]


def test_plc_lost_trips(rig: Rig) -> None:
    """A lost PLC link is a trip cause; the image kept for the reconnect has the permit off."""
    rig.start_running()
    rig.link.set_healthy(False)
    assert not rig.step([OUTSIDE])
    assert rig.link.image.permit is False
    assert rig.link.image.fault_code == FAULT_CODES["plc_lost"]


def test_end_to_end_latency_is_recorded_per_frame(rig: Rig) -> None:
    """Every acknowledged frame records capture-to-acknowledge time in the latency window."""
    rig.step([OUTSIDE], age_ms=12)
    rig.step([OUTSIDE], age_ms=20)
    e2e = rig.cam.latency.end_to_end()
    assert e2e.n == 2
    assert e2e.max_ms == 20.0


def test_a_bug_in_a_cycle_ends_in_the_safe_state_and_latches(rig: Rig) -> None:
    """An unexpected exception inside a cycle writes permit off at once and trips the guard."""
    rig.start_running()
    real_evaluate = rig.cam.zones.evaluate

    def broken(*args: object) -> None:
        raise ZeroDivisionError("bug")

    object.__setattr__(rig.cam.zones, "evaluate", broken)
    with capture_logs() as logs:
        rig.ctl._run_cycle_safely(rig.cam, rig.frame())
    assert rig.link.writes[-1].permit is False
    assert any(e["event"] == "loop_error" for e in logs)
    object.__setattr__(rig.cam.zones, "evaluate", real_evaluate)
    assert not rig.step([OUTSIDE]), "the guard latched the internal error"
    assert rig.link.writes[-1].fault_code == FAULT_CODES["internal_error"]


def test_a_plc_loss_healed_between_cycles_still_trips(rig: Rig) -> None:
    """A link lost and restored between two cycles trips the box too: the PLC may have stopped
    the machine meanwhile, and it restarts only on a permit rise after its reset."""
    rig.start_running()
    rig.link.set_healthy(False)
    rig.link.set_healthy(True)
    assert not rig.step([OUTSIDE])
    assert rig.link.writes[-1].fault_code == FAULT_CODES["plc_lost"]
    for _ in range(20):
        rig.step([OUTSIDE])
    rig.press_reset()
    assert rig.step([OUTSIDE])


def test_a_loop_that_stood_still_trips_when_it_resumes(rig: Rig) -> None:
    """A gap between cycles longer than stall_ms (a stopped or starved process) trips: the PLC
    may have stopped the machine on its watchdog, and only a reset and a fresh permit restart it.
    """
    rig.start_running()
    assert not rig.step([OUTSIDE], dt_ms=900)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["loop_stalled"]
    for _ in range(20):
        rig.step([OUTSIDE])
    rig.press_reset()
    assert rig.step([OUTSIDE])
