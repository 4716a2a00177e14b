"""Review 5 hole: the supervisor clears its THREAD_STOPPED fault as soon as every camera has *read*
the trip counter, before the camera's guard has decided on it; a writer that composes in between
(the ejector timer, the EDM lockout writer) sends the camera's pre-fault permit ON: the permit
goes OFF (supervisor) -> ON (ejector coil write) -> OFF (camera) with no reset press.

Controller.supervise (loop/controller.py) clears the fault, without writing, when
`all(c.supervisor_trips_seen == self.supervisor_trips ...)` ("cleared only once every guard has
latched the trip"). But Controller._health_faults sets `supervisor_trips_seen` at the *start* of
the camera's cycle, before `_evaluate` (the detector) and before `guard.step` and
`outputs.update`: during the whole inference the image still holds that camera's previous
output, permit ON, fresh. If the watched problem clears in that window (an input poller that was
stuck past its 2 s bound and then completes), the supervisor drops the fault, and the next
composed image (OutputImage.set_ejector from the ejector timer, a box-timed reject pulse) carries
permit ON. The PLC sees a fresh OFF->ON after a trip, which the README promises only a reset press
can produce ("every fault drops and latches its permit, and only a reset press raises it again").

Real Controller, Guard, OutputImage and the rig's fake link; the problem's onset and clearing
are given to `supervise()` through the watched-thread list, and the ejector write is made from
inside the detector call (the interleaving of another thread, forced as in
tests/review4/test_expiry_compose_order.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plantvision.loop.supervisor import Watched
from tests.loop.rig import OUTSIDE, Rig


def test_the_permit_does_not_rise_again_after_a_supervisor_trip(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.start_running()
    ctl = rig.ctl
    # The input poller has not completed an iteration for longer than its bound: stuck.
    stuck = [Watched("plc-inputs", True, rig.clock.ns - 3_000_000_000, 2_000_000_000)]
    watched: list[Watched] = stuck
    ctl._watched = lambda: watched  # type: ignore[method-assign]
    n = len(rig.link.writes)
    ctl.supervise()  # onset: trip counted, permit OFF written
    assert rig.link.writes[-1].permit is False
    real_detect = rig.detector.detect
    done: list[bool] = []

    def detect(image: Any, times: Any = None) -> Any:
        if not done:  # meanwhile, in the other threads:
            done.append(True)
            watched.clear()  # the poller completes its slow iteration
            rig.clock.advance_ms(20)
            ctl.supervise()  # next supervisor check: no problem, every camera has "seen" it
            rig.clock.advance_ms(5)
            ctl._set_ejector(0, True)  # a box-timed reject pulse switches its coil on
        return real_detect(image, times)

    rig.detector.detect = detect  # type: ignore[method-assign]
    rig.step([OUTSIDE])  # the camera's first cycle after the onset
    rig.detector.detect = real_detect  # type: ignore[method-assign]
    permits = [w.permit for w in rig.link.writes[n:]]
    first_off = permits.index(False)
    assert True not in permits[first_off:], (
        f"permit OFF (supervisor trip) then ON again with no reset press: {permits}"
    )
