"""Box-timed pulses timed in a child process (issue 17 goal 3): the seam with the real child, the
real PlcLink and the real PlcSimulator over loopback TCP. The child dying, hanging or outliving
the box must end in the safe state: coils off at the PLC, every pending push a missed reject,
the runtime not alive (the loop's supervisor trips the permit on that)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.conveyor.actions import FirePlan
from plantvision.loop.controller import Controller
from plantvision.plc.config import PlcConfig
from plantvision.plc.ejector_process import EjectorProcess
from plantvision.plc.link import PlcLink
from simulators.plc import PlcSimulator, SimConfig
from tests.reject.test_reject_runtime import (
    belt_cameras,
    conveyor_section,
    deployment,
    encoder_at,
    see,
)
from tests.waiting import wait_for

MS = 1_000_000
COILS = {"a": 0, "b": 1}  # ejector id -> index into the default map's ejectors (coils 2, 3)
Report = tuple[FirePlan, int, bool]


@pytest.fixture
def cell() -> Iterator[tuple[PlcSimulator, PlcLink]]:
    sim = PlcSimulator(SimConfig())
    port = sim.start()
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",))
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    assert wait_for(lambda: link.healthy, 5)
    yield sim, link
    link.stop()
    sim.stop()


def _child(link: PlcLink, reports: list[Report]) -> EjectorProcess:
    """The link's child for ejectors a and b, once it has started its timer."""
    child = link.pulse_timer(
        COILS, lambda e, on: link.write_ejector(COILS[e], on),
        lambda p, t, r: reports.append((p, t, r)), 200_000,
    )  # fmt: skip
    assert wait_for(lambda: child.ready, 30), "the child never started"
    return child


def _coil_writes(sim: PlcSimulator, name: str, since_ns: int) -> list[tuple[int, int]]:
    """(t_ns at the PLC, value) of every write of coil `name` after `since_ns` (before it:
    the link's tripped block and the child's coils off at its connect)."""
    return [(int(w["t_mono_ns"]), w["signals"][name]) for w in list(sim.write_log)
            if name in w["signals"] and w["t_mono_ns"] > since_ns]  # fmt: skip


def test_the_child_switches_each_pulse_on_at_its_time_and_off_after_it(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """Three plans over two ejectors, armed out of order: each coil goes on at the PLC no
    earlier than its plan's time and off no earlier than the pulse after the reported
    switch-on; each switch-on is reported as reached with its plan."""
    sim, link = cell
    reports: list[Report] = []
    child = _child(link, reports)
    try:
        armed_ns = time.monotonic_ns()
        t0 = armed_ns + 150 * MS
        plans = [FirePlan("a", t0 + 120 * MS, 20 * MS, 3), FirePlan("a", t0, 20 * MS, 1),
                 FirePlan("b", t0 + 60 * MS, 20 * MS, 2)]  # fmt: skip
        for plan in plans:
            assert child.arm(plan)
        assert wait_for(lambda: len(reports) == 3, 10), reports
        assert wait_for(lambda: len(_coil_writes(sim, "ejectors.0", armed_ns)) == 4, 5)
        assert child.alive()
    finally:
        child.close()
    assert [(p.item_id, r) for p, _, r in reports] == [(1, True), (2, True), (3, True)]
    assert all(t >= p.fire_at_ns for p, t, _ in reports), "a switch-on before its time"
    a = _coil_writes(sim, "ejectors.0", armed_ns)
    assert [v for _, v in a] == [1, 0, 1, 0]
    switched = {p.item_id: t for p, t, _ in reports}
    for (on_ns, _), (off_ns, _), plan in zip(a[::2], a[1::2], (plans[1], plans[0]), strict=True):
        assert on_ns >= plan.fire_at_ns, "the coil reached the PLC before the plan's time"
        assert off_ns >= switched[plan.item_id] + plan.pulse_ns, "off before the pulse ended"
    assert [v for _, v in _coil_writes(sim, "ejectors.1", armed_ns)] == [1, 0]
    assert len(child.on_errors_ns) == 3


def test_a_child_killed_mid_pulse_leaves_the_coil_off_and_every_pending_push_missed(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """SIGKILL while ejector a's coil is on (a 10 s pulse) and b's plan is still ahead: the
    box writes a's coil off through its own link, reports b's plan as not reached, is no
    longer alive, and says so; a plan armed afterwards is reported not reached at once, and
    once only however often it is re-timed."""
    sim, link = cell
    reports: list[Report] = []
    child = _child(link, reports)
    try:
        now = time.monotonic_ns()
        child.arm(FirePlan("a", now + 50 * MS, 10_000 * MS, 1))
        child.arm(FirePlan("b", now + 60_000 * MS, 20 * MS, 2))
        assert wait_for(lambda: sim.values.get("ejectors.0") is True, 10), "never switched on"
        # Its report first: one still in the child when it dies counts as not reached.
        assert wait_for(lambda: len(reports) == 1, 5)
        with capture_logs() as logs:
            os.kill(child.pid, signal.SIGKILL)
            assert wait_for(lambda: not child.alive(), 5)
            assert wait_for(lambda: len(reports) == 2, 5), reports
        assert wait_for(lambda: sim.values.get("ejectors.0") is False, 5), "coil left on"
        late = FirePlan("a", time.monotonic_ns() + 50 * MS, 20 * MS, 3)
        assert child.arm(late)
        assert not child.arm(late), "a re-timed plan of a dead child was reported twice"
        assert not child.arm(FirePlan("b", late.fire_at_ns, 20 * MS, 2))
    finally:
        child.close()
    assert [(p.item_id, r) for p, _, r in reports] == [(1, True), (2, False), (3, False)]
    died = [e for e in logs if e["event"] == "ejector_child_died"]
    assert len(died) == 1
    assert died[0]["pending"] == 1
    assert died[0]["coils_off"] == {"a": True, "b": True}
    assert child.deaths == 1


def test_a_hung_child_is_killed_and_its_coil_written_off(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """SIGSTOP (a child that stops beating) mid-pulse: after the beat bound it is no longer
    alive, it is killed, and its coil goes off at the PLC through the box's link."""
    sim, link = cell
    reports: list[Report] = []
    child = _child(link, reports)
    try:
        child.arm(FirePlan("b", time.monotonic_ns() + 50 * MS, 10_000 * MS, 7))
        assert wait_for(lambda: sim.values.get("ejectors.1") is True, 10)
        # Its report up the pipe follows the write: stopped before it, the box books the push
        # not reached (a counted miss, the safe side); this test stops it mid-pulse after.
        assert wait_for(lambda: len(reports) == 1, 5)
        os.kill(child.pid, signal.SIGSTOP)
        assert wait_for(lambda: not child.alive(), 5)
        assert wait_for(lambda: sim.values.get("ejectors.1") is False, 5), "coil left on"
    finally:
        child.close()
    assert [(p.item_id, r) for p, _, r in reports] == [(7, True)]
    assert child.deaths == 1


def test_a_lost_child_connection_reports_its_switch_on_not_reached_then_heals(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """The PLC drops every connection: the child's next switch-on fails, goes back as not
    reached (a missed push), and the child reconnects (its coils off first); a later pulse
    reaches the PLC again. The child stays alive throughout."""
    sim, link = cell
    reports: list[Report] = []
    child = _child(link, reports)
    try:
        sim.drop_connections()
        child.arm(FirePlan("a", time.monotonic_ns() + 20 * MS, 20 * MS, 1))
        assert wait_for(lambda: len(reports) == 1, 5)
        # The child heals within its backoff (the link's reconnect_backoff_ms): pushes resume.
        deadline = time.monotonic() + 10
        item = 2
        while time.monotonic() < deadline and not reports[-1][2]:
            child.arm(FirePlan("a", time.monotonic_ns() + 20 * MS, 20 * MS, item))
            assert wait_for(lambda n=item: len(reports) == n, 5)  # type: ignore[misc]
            item += 1
        assert child.alive()
    finally:
        child.close()
    assert reports[0][2] is False, "a switch-on on a dropped connection counted as reached"
    assert reports[-1][2] is True, "the child never reconnected"


BOX = """
import sys, time, structlog
from plantvision.conveyor.actions import FirePlan
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink
link = PlcLink(PlcConfig(host="127.0.0.1", port=int(sys.argv[1]),
               allowed_hosts=("127.0.0.1",)), structlog.get_logger())
link.start()
child = link.pulse_timer({"a": 0}, lambda e, on: link.write_ejector(0, on),
                         lambda p, t, r: None, 200_000)
deadline = time.monotonic() + 30
while not child.ready:
    if time.monotonic() > deadline or not child.alive():
        raise SystemExit("the child never started")
    time.sleep(0.01)
child.arm(FirePlan("a", time.monotonic_ns() + 20_000_000, 60_000_000_000, 1))
print("CHILD", child.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet (it runs no more code)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def test_the_child_exits_and_switches_its_coil_off_when_the_box_dies(
    cell: tuple[PlcSimulator, PlcLink], tmp_path: Path
) -> None:
    """A box process killed (SIGKILL: no clean-up of its own) while its child holds a coil on:
    the child sees its pipe close, switches the coil off on its own connection, and exits;
    no orphan is left."""
    sim, _ = cell
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    box = subprocess.Popen([sys.executable, "-c", BOX, str(sim.port)], stdout=subprocess.PIPE,
                           text=True, env=env)  # fmt: skip
    try:
        assert box.stdout is not None
        line = ""
        while not line.startswith("CHILD "):  # after the box's own log lines
            line = box.stdout.readline()
            assert line, "the box ended before starting its child"
        child_pid = int(line.split()[1])
        assert wait_for(lambda: sim.values.get("ejectors.0") is True, 10), "never switched on"
        box.kill()
        box.wait()
        assert wait_for(lambda: _gone(child_pid), 5), "the child outlived the box"
        assert wait_for(lambda: sim.values.get("ejectors.0") is False, 5), "coil left on"
    finally:
        box.kill()
        box.wait()
        if box.stdout is not None:
            box.stdout.close()


def test_the_runtime_counts_a_dead_childs_pending_push_as_missed_and_is_not_alive(
    cell: tuple[PlcSimulator, PlcLink], tmp_path: Path
) -> None:
    """Wired as Controller.start wires it (the real link's child): a defect's push is armed, the
    child is killed before it fires; the runtime is not alive (the supervisor trips the permit
    on it) and its next step counts the push missed (coil_not_written) with its stop."""
    _, link = cell
    # A horizon past the push: it is armed at the first step, ~290 ms before it fires.
    section = conveyor_section(timing_mode="box", horizon_ms=1000.0)
    cams = belt_cameras(deployment(tmp_path, section))
    ctl = Controller(cams, link, log=structlog.get_logger())
    rt = cams[0].reject
    assert rt is not None
    rt.start(ctl._set_ejector, link.write_verdicts, timers=link.pulse_timer)
    try:
        child = rt.timer
        assert isinstance(child, EjectorProcess)
        assert wait_for(lambda: child.ready, 30)
        assert rt.alive()
        t0 = time.monotonic_ns()
        rt.feed(encoder_at(t0 - 10 * MS, 0))
        rt.feed(encoder_at(t0, 50))
        see(rt, t0, 150.0)  # 500 mm/s, 300 mm ejector (armed_runtime's 270 px: 50 ms ahead)
        rt.step(t0, 0, False)
        assert rt.counters["scheduled"] == 1
        os.kill(child.pid, signal.SIGKILL)
        assert wait_for(lambda: not rt.alive(), 5)
        with capture_logs() as logs:
            assert wait_for(lambda: child.deaths == 1, 5)
            status = rt.step(time.monotonic_ns(), 0, False)
    finally:
        rt.close()
    assert rt.counters["missed"] == 1
    assert [e["reason"] for e in logs if e["event"] == "reject_missed"] == ["coil_not_written"]
    assert status.fault == "reject_missed"


def test_a_child_refused_real_time_priority_says_how_to_get_it_and_still_times_pulses(
    cell: tuple[PlcSimulator, PlcLink],
) -> None:
    """A priority the kernel refuses (here one out of SCHED_FIFO's range; on a box without
    CAP_SYS_NICE any): a warning naming the fix, and the pulse still reaches the PLC."""
    sim, link = cell
    reports: list[Report] = []
    with capture_logs() as logs:
        child = EjectorProcess(
            link._cfg, {"a": 2}, lambda e, on: link.write_ejector(0, on),
            lambda p, t, r: reports.append((p, t, r)), 200_000, rt_priority=100,
        )  # fmt: skip
        try:
            assert wait_for(lambda: child.ready, 30)
            armed_ns = time.monotonic_ns()
            child.arm(FirePlan("a", armed_ns + 20 * MS, 20 * MS, 1))
            assert wait_for(lambda: len(reports) == 1, 5)
        finally:
            child.close()
    assert [v for _, v in _coil_writes(sim, "ejectors.0", armed_ns)][:2] == [1, 0]
    refused = [e for e in logs if e["event"] == "ejector_timer_realtime_refused"]
    assert len(refused) == 1
    assert "CAP_SYS_NICE" in refused[0]["fix"]
    assert reports[0][2] is True
    assert [e for e in logs if e["event"] == "ejector_timer_realtime"] == []
