"""Which cameras a thread problem trips, and that a fatal one holds their guards tripped for as
long as it lasts: the pure judgement (`covers`) and the controller over the rig (clock stepped
by hand, fake link; the problem given to `supervise()` through the watched-thread list)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantvision.loop.outputs import THREAD_STOPPED
from plantvision.loop.supervisor import Problem, Watched, covers, find_problems
from tests.loop.rig import OUTSIDE, Rig

CAMERAS = ("a", "b", "c")
AB = frozenset({"a", "b"})


@pytest.mark.parametrize(
    ("problem", "tripped"),
    [
        (Problem("loop-a", "stuck", camera=True), set()),  # expires on its own
        (Problem("loop-a", "dead", camera=True), set(CAMERAS)),
        (Problem("plc-inputs", "stuck", camera=False), set(CAMERAS)),
        (Problem("infer-1", "stuck", camera=False, serves=AB), AB),
        (Problem("infer-1", "dead", camera=False, serves=AB), AB),
        (Problem("infer-1", "stuck", camera=False, serves=frozenset({"a", "x"})), {"a"}),
    ],
)
def test_a_problem_trips_the_cameras_its_thread_serves(problem: Problem, tripped: set[str]) -> None:
    assert covers([problem], CAMERAS) == tripped


def test_a_worker_run_longer_than_its_bound_is_stuck_and_an_idle_worker_never_is() -> None:
    """A worker is judged on its current run only; waiting for work is not being stuck."""
    now_ns = 10_000_000_000
    watched = [
        Watched("infer-0", True, now_ns - 501_000_000, 500_000_000, serves=AB),
        Watched("infer-1", True, now_ns - 499_000_000, 500_000_000, serves=AB),
        Watched("infer-2", True, None, 500_000_000, serves=AB),
    ]
    (p,) = find_problems(watched, now_ns)
    assert (p.name, p.kind, p.age_ms, p.serves) == ("infer-0", "stuck", 501, AB)


def test_a_reset_is_refused_while_a_thread_of_the_camera_is_stuck(tmp_path: Path) -> None:
    """A stuck worker serving the camera trips it (thread_stopped) and holds it tripped: clear
    frames for longer than clear_hold_ms and a press bring no permit while it is stuck. Once it
    is back the fault clears, and a press brings the permit back."""
    rig = Rig(tmp_path)
    rig.start_running()
    ctl = rig.ctl
    watched = [
        Watched(
            "infer-0", True, rig.clock.ns - 1_000_000_000, 500_000_000, serves=frozenset({"cam0"})
        )
    ]
    ctl._watched = lambda: watched  # type: ignore[method-assign]
    ctl.supervise()
    assert rig.link.writes[-1].permit is False
    assert not rig.step([OUTSIDE])
    assert rig.cam.last_output is not None
    assert rig.cam.last_output.cause == THREAD_STOPPED
    for _ in range(20):  # 660 ms of clear frames: longer than clear_hold_ms (500)
        assert not rig.step([OUTSIDE])
        ctl.supervise()
    rig.press_reset()
    assert not rig.step([OUTSIDE])
    assert rig.cam.last_output.state == "tripped"
    assert ctl.thread_problems == {("infer-0", "stuck"): 1}
    watched.clear()  # the run returned
    ctl.supervise()
    for _ in range(20):
        assert not rig.step([OUTSIDE])
    assert rig.cam.last_output.state == "ready_to_reset"
    rig.press_reset()
    assert rig.step([OUTSIDE])
