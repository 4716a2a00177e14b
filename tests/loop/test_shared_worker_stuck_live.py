"""A shared inference worker that hangs while the others serve on, in the real loop: cameras a
and b on two shared workers running the real YOLOX-Nano session, camera c on its own session,
real threads against the PLC simulator over TCP. The hung worker is a stuck service thread: the
supervisor reports it, the permit goes OFF and the heartbeat stops, as for a hung camera thread,
and the cameras it serves stay tripped until it returns and a reset is pressed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from plantvision.face.events import EventInbox
from plantvision.face.metrics import Observer
from plantvision.loop.outputs import FAULT_CODES, THREAD_STOPPED
from tests.loop.live import LiveCell
from tests.loop.test_shared_inference_live import deployment, run_until_permit, switch_of, trips
from tests.waiting import wait_for

Logs = list[dict[str, Any]]


@pytest.fixture
def cell(tmp_path: Path, shared_data: Path) -> Iterator[tuple[LiveCell, Logs]]:
    with capture_logs() as logs:
        c = LiveCell(deployment(tmp_path, shared_data, workers=2))
        with c:
            yield c, logs


def stuck_workers(logs: Logs, since: int) -> list[dict[str, Any]]:
    return [
        e
        for e in logs[since:]
        if e["event"] == "thread_stuck" and str(e.get("thread")).startswith("infer-")
    ]


def beats_after(live: LiveCell, t_ns: int) -> list[int]:
    return [
        e["t_mono_ns"]
        for e in live.sim.write_log
        if "heartbeat" in e["signals"] and e["t_mono_ns"] > t_ns
    ]


def test_a_worker_hung_while_the_other_serves_on_holds_its_cameras_off_until_it_returns(
    cell: tuple[LiveCell, Logs],
) -> None:
    """One of two shared workers hangs in camera a's run; the other goes on serving a and b.
    The supervisor reports the hung worker once (thread_stuck, counted), writes the permit OFF
    (thread_stopped at the PLC) and stops the heartbeat. a and b trip and stay tripped while it
    hangs (a reset could not be accepted), though b is decided on every frame; c, on its own
    session, never trips. Once the run returns the heartbeat beats again, and only a reset brings
    the permit back."""
    live, logs = cell
    by_id = {c.id: c for c in live.cameras}
    switched = switch_of(live, "a")
    switched.hang_once = True  # one stuck run: a's later frames go to the other worker
    run_until_permit(live)
    since = len(logs)
    switched.hang.set()
    try:
        assert switched.hanging.wait(10)
        assert wait_for(lambda: stuck_workers(logs, since), 10), "the hung worker went unreported"
        t_seen_ns = time.monotonic_ns()
        (event,) = stuck_workers(logs, since)
        assert live.ctl.thread_problems[(event["thread"], "stuck")] == 1
        metric = Observer(live.ctl, EventInbox()).registry.get_sample_value
        assert metric("plantvision_thread_problem", {"thread": event["thread"], "kind": "stuck"})
        fault_code = FAULT_CODES[THREAD_STOPPED]
        assert wait_for(lambda: live.sim.values.get("fault_code") == fault_code, 5)
        assert not live.permit_at_plc()
        assert wait_for(
            lambda: any(THREAD_STOPPED in t["faults"] for t in trips(logs, "b", since)), 5
        ), "b never tripped on the hung worker"
        b_frames = by_id["b"].frames
        # Longer than clear_hold_ms (200 ms) at 10 fps: a released fault would be resettable.
        assert wait_for(lambda: by_id["b"].frames > b_frames + 10, 20), "b was not served on"
        for k in "ab":
            out = by_id[k].last_output
            assert out is not None
            assert out.state == "tripped", f"{k} could be reset while its worker hangs"
        assert len(beats_after(live, t_seen_ns)) <= 1, "the heartbeat beat on"
    finally:
        switched.release.set()
    t_back_ns = time.monotonic_ns()
    assert wait_for(lambda: len(beats_after(live, t_back_ns)) > 3, 10), "no heartbeat after it"
    assert wait_for(
        lambda: all(by_id[k].last_output.state == "ready_to_reset" for k in "ab"),  # type: ignore[union-attr]
        10,
    )
    assert not live.permit_at_plc()
    assert trips(logs, "c", since) == []
    run_until_permit(live)
