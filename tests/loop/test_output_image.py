"""The output image's promises to the PLC: the code says why the permit is off (0 while it is on),
the warning is any camera's or any reject alarm's, shutdown and lockout win over everything, the
ejector coils keep their places, and each reset press is counted once with where it began."""

from __future__ import annotations

from plantvision.guard.latch import GuardOutput, GuardState
from plantvision.loop.outputs import FAULT_CODES, OutputImage, ResetBus
from plantvision.plc.values import PlcOutputs

MS = 1_000_000
RUNNING = GuardOutput(True, False, None, GuardState.RUNNING)
WARNING = GuardOutput(True, True, None, GuardState.RUNNING)
TRIPPED = GuardOutput(False, False, "stop_zone", GuardState.TRIPPED, "z1")


def _one_camera_running() -> OutputImage:
    img = OutputImage({"a": 250 * MS})
    img.update("a", RUNNING, 0)
    return img


def test_the_fault_code_is_0_exactly_while_the_permit_is_on() -> None:
    """The PLC reads 0 as "no cause": it must never see 0 with the permit off, nor a code on."""
    img = _one_camera_running()
    assert img.current(1 * MS) == PlcOutputs(True, False, 0)
    out = img.update("a", TRIPPED, 2 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["stop_zone"])


def test_a_cause_without_a_code_of_its_own_still_reads_as_a_fault() -> None:
    img = _one_camera_running()
    out = img.set_fault("a_cause_nobody_numbered", 1 * MS)
    assert not out.permit
    assert out.fault_code == 99  # the README's catch-all row, which a PLC program may map


def test_the_warning_is_on_if_any_camera_warns_or_any_reject_alarm_is_latched() -> None:
    img = OutputImage({"a": 250 * MS, "b": 250 * MS})
    img.update("a", RUNNING, 0)
    assert not img.update("b", RUNNING, 0).warning
    assert img.update("b", WARNING, 1 * MS).warning
    assert not img.update("b", RUNNING, 2 * MS).warning
    assert img.update("a", RUNNING, 3 * MS, alarm=True).warning  # a reject alarm
    assert img.update("b", RUNNING, 4 * MS).warning  # still a's alarm: another camera's
    assert not img.update("a", RUNNING, 5 * MS).warning  # a's next decision without it
    assert not img.update("a", RUNNING, 6 * MS).warning  # an update is no alarm by default


def test_after_shutdown_the_permit_is_off_with_code_shutdown_and_the_rest_kept() -> None:
    """The last image a stopping box writes: permit off, code `shutdown`, the warning as it
    was (a warning light stays lit; ejector coils are not in the image, so a pulse is not cut
    short)."""
    img = _one_camera_running()
    img.update("a", WARNING, 1 * MS)
    img.shut_down()
    assert img.current(2 * MS) == PlcOutputs(False, True, FAULT_CODES["shutdown"])
    img.update("a", RUNNING, 3 * MS, alarm=True)  # a camera still deciding changes nothing
    assert img.current(3 * MS) == PlcOutputs(False, True, FAULT_CODES["shutdown"])
    assert not img.update("a", RUNNING, 4 * MS).warning


def test_a_lockout_holds_the_permit_off_over_the_supervisor_and_the_cameras() -> None:
    img = _one_camera_running()
    img.set_fault("thread_stopped", 1 * MS)
    out = img.set_lockout("stop_unconfirmed", 2 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["stop_unconfirmed"])
    img.set_fault(None, 3 * MS)
    assert not img.current(4 * MS).permit  # only its own reset clears it
    assert img.set_lockout(None, 5 * MS).permit


def test_a_camera_expires_only_after_its_bound_passes() -> None:
    """Expiry is judged at the time the image is composed, whatever call composes it."""
    img = _one_camera_running()
    assert img.set_fault(None, 250 * MS).permit
    out = img.set_fault(None, 251 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["decision_expired"])
    assert not img.set_lockout(None, 251 * MS).permit
    assert not img.current(251 * MS).permit


def test_an_image_is_judged_at_its_write_not_at_the_decision_it_carries() -> None:
    """Camera b decided at 90 ms (a still fresh at 0 ms then) but writes at 150 ms, when a's
    100 ms bound has passed: the image written is judged at 150 ms, permit off, expired."""
    img = OutputImage({"a": 100 * MS, "b": 100 * MS})
    img.update("a", RUNNING, 0)
    img.update("b", RUNNING, 0)
    out = img.update("b", RUNNING, 90 * MS, now_ns=150 * MS)
    assert (out.permit, out.fault_code) == (False, FAULT_CODES["decision_expired"])


def test_the_reset_bus_counts_every_press_once_and_keeps_where_the_last_began() -> None:
    bus = ResetBus()
    assert (bus.presses, bus.began_after_ns) == (0, None)  # no press yet: nothing began
    bus.press(7 * MS)
    assert (bus.presses, bus.began_after_ns) == (1, 7 * MS)
    bus.press()
    assert (bus.presses, bus.began_after_ns) == (2, 0)
