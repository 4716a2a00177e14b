"""Review 5 hole: a reset press is judged on a verdict whose frame was captured *before* the
press was released, so a person who stepped into the stop zone just before the release gets the
permit raised behind them.

Guard._try_reset (latch.py) refuses a press when a stop zone was occupied "at any verdict after
its release" (`entered_since_press`: `clear_since_ns > released_ns`), and Controller.cycle takes
the press (`_take_reset`) right after `_evaluate` of whatever frame the cycle holds. Nothing asks
that this frame was captured after the release: `clear_since_ns` is a *decision* time, the
frame's capture may be up to a whole budget earlier. A camera cycle that grabbed its frame at
T_c, ran the detector, and then found a press released at T_rel > T_c judges the press on the
picture of T_c. Whatever happened between T_c and T_rel (a second person walking into the stop
zone while the operator releases the button) is invisible to that judgement.

Sequence (real Controller, Guard and OutputImage on the rig's injected clock; 200 ms budget):
1. running, trip on a person in the stop zone, zone clear for longer than clear_hold;
2. a frame is captured (zone clear); 30 ms later a person enters the stop zone;
3. 50 ms after the entry the operator releases a good reset press (begun after the trip);
4. the camera cycle holding the frame of step 2 (150 ms old, inside its 200 ms budget) takes the
   press: reset accepted, permit ON while the person is in the stop zone;
5. only the next frame trips again.
Consequence: the permit rises (a fresh OFF->ON, which arms the PLC's start) for a whole cycle
with a person in the stop zone, on a reset released while the zone was occupied, which the README
says is refused ("a reset while a zone is occupied ... is refused").
"""

from __future__ import annotations

from pathlib import Path

from tests.loop.rig import INSIDE, OUTSIDE, Rig


def test_a_press_is_not_judged_on_a_frame_captured_before_its_release(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # budget 200 ms, clear_hold 500 ms, min_off 80 ms
    rig.start_running()
    assert not rig.step([INSIDE])  # trip on a person in the stop zone
    for _ in range(25):  # 825 ms clear: well past clear_hold
        assert not rig.step([OUTSIDE])
    t_trip_done = rig.clock.ns
    # The camera grabs a frame now: the zone is clear in it.
    t_capture = rig.clock.ns + 1_000_000
    # 30 ms later a person walks into the stop zone; 50 ms after that the operator (at the reset
    # button, outside the zones) releases a 400 ms press that began after the trip.
    t_enter = t_capture + 30_000_000
    t_release = t_enter + 50_000_000
    began_after = t_release - 400_000_000
    assert began_after > t_trip_done - 800_000_000  # the press began after the trip
    rig.clock.ns = t_release
    rig.ctl.resets.press(began_after, t_release)
    # The cycle holding the frame captured at t_capture finishes 70 ms after the release (the
    # detector's time): 150 ms after capture, inside the 200 ms budget.
    rig.clock.ns = t_release + 70_000_000
    frame_age_ms = (rig.clock.ns - t_capture) / 1e6
    rig.detector.boxes = [OUTSIDE]
    permit = rig.ctl.cycle(rig.cam, rig.frame(age_ms=frame_age_ms)).permit
    person_in_zone = rig.clock.ns >= t_enter  # the truth the camera has not seen yet
    # The next frame (captured after the entry) shows the person: trips again.
    rig.step([INSIDE])
    assert not (permit and person_in_zone), (
        f"permit raised on a frame captured {(t_release - t_capture) / 1e6:.0f} ms before the "
        f"release, with a person in the stop zone since {(rig.clock.ns - t_enter) / 1e6:.0f} ms "
        "ago (entered before the release)"
    )
