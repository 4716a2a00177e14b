"""Stale verdicts, reset presses and the budget on the acknowledged write, in stepped time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.loop.build import build_cameras
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import load_deployment
from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.values import PlcOutputs
from plantvision.types import Detections, Frame
from tests.conveyor.helpers import MS, frame
from tests.fakes.plc import FakePlcLink
from tests.loop.rig import INSIDE, OUTSIDE, Rig
from tests.reject.test_reject_runtime import (
    IMAGE,
    FixedDetector,
    conveyor_section,
    deployment,
    encoder_at,
)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def _resets(logs: list[dict[str, Any]]) -> list[tuple[str, object]]:
    return [(e["event"], e.get("reason")) for e in logs if e["event"].startswith("reset")]


def test_a_verdict_older_than_the_budget_never_counts_toward_a_reset(rig: Rig) -> None:
    """One clear frame, then none: the last verdict goes stale after budget_ms, so the clear
    hold never completes and a reset 660 ms later is refused, however long stall_ms is."""
    rig.cam.stall_ns = 1_000_000_000
    rig.start_running()
    assert not rig.step([INSIDE])
    assert not rig.step([OUTSIDE])  # the only clear frame
    for _ in range(20):
        rig.step(no_frame=True)  # 660 ms without a frame: not a stall at 1000 ms
    with capture_logs() as logs:
        rig.press_reset()
        assert not rig.step(no_frame=True), "reset accepted on a stale 'clear' verdict"
        assert not rig.step(no_frame=True)
    # The stale verdict is a fault of its own now (verdict_stale), so the press is refused as
    # one: either way, never accepted.
    assert _resets(logs) == [("reset_refused", "health_fault")]


def test_a_stale_verdict_that_shows_a_person_still_trips(rig: Rig) -> None:
    """Occupied is never discarded: a frame-less cycle on an old 'occupied' verdict trips."""
    rig.cam.overrun_trips = False
    rig.start_running()
    person = Detections.from_arrays([INSIDE], [0.9], [0], ("person",))
    rig.cam.last_hits = rig.cam.zones.evaluate(person, 640, 480)
    rig.cam.last_verdict_ns = rig.clock.ns - 300_000_000
    assert not rig.step(no_frame=True)
    assert rig.link.writes[-1].fault_code == FAULT_CODES["stop_zone"]


def test_a_second_press_in_the_next_cycle_is_judged_not_dropped(rig: Rig) -> None:
    """Two presses in consecutive cycles: the first is refused (clear hold not over), the
    second is judged too (here accepted); each is logged with its outcome."""
    rig.start_running()
    rig.step([INSIDE])
    for _ in range(14):
        rig.step([OUTSIDE])  # 462 ms clear: the 500 ms hold is not over
    with capture_logs() as logs:
        rig.press_reset()
        assert not rig.step([OUTSIDE], dt_ms=20)
        rig.press_reset()
        permits = [rig.step([OUTSIDE], dt_ms=33) for _ in range(3)]
    assert _resets(logs) == [("reset_refused", "clear_hold"), ("reset", None)]
    assert permits[-1]


def test_a_press_while_running_is_logged(rig: Rig) -> None:
    """A press while the permit is on changes nothing and says so."""
    rig.start_running()
    rig.step([OUTSIDE])
    with capture_logs() as logs:
        rig.press_reset()
        assert rig.step([OUTSIDE])
    assert _resets(logs) == [("reset_ignored", "not_tripped")]


class SlowAckLink(FakePlcLink):
    """A PLC that acknowledges each write `ack_ms` later on the rig's clock."""

    def __init__(self, rig: Rig, ack_ms: float) -> None:
        super().__init__()
        self.rig, self.ack_ms = rig, ack_ms

    def write(self, outputs: PlcOutputs, losses_seen: int | None = None) -> float | None:
        self.rig.clock.advance_ms(self.ack_ms)
        return super().write(outputs, losses_seen)


def test_a_write_acknowledged_after_the_budget_is_an_overrun(rig: Rig) -> None:
    """Budget = capture -> write acknowledged: a decision in time whose write lands after the
    budget is a budget_overrun event, and (policy trip) the next cycle trips."""
    rig.start_running()
    rig.ctl.link = rig.link = SlowAckLink(rig, 250.0)
    with capture_logs() as logs:
        rig.step([OUTSIDE])  # decided at once; acknowledged 250 ms after capture
        assert not rig.step([OUTSIDE])
    overrun = [e for e in logs if e["event"] == "budget_overrun"]
    assert overrun
    assert overrun[0]["stage"] == "write_acknowledged"
    assert rig.link.writes[-1].fault_code == FAULT_CODES["budget_overrun"]


def test_the_reject_alarm_stays_on_a_press_the_guard_refused(tmp_path: Path) -> None:
    """A missed reject latches alarm and belt stop; a press the guard refuses (PLC link down)
    clears neither, and is logged as refused; the next press, accepted, clears both."""
    path = deployment(tmp_path, conveyor_section())
    det = FixedDetector()
    cams = build_cameras(
        load_deployment(path), path, log=structlog.get_logger(),
        simulated=lambda *_: None, detectors={"belt": det},  # type: ignore[arg-type,return-value,dict-item]
    )  # fmt: skip
    link = FakePlcLink()
    now = [0]
    ctl = Controller(cams, link, clock_ns=lambda: now[0], log=structlog.get_logger())

    def cycle(t_ms: int, x_px: float | None = None, press: bool = False) -> PlcOutputs:
        now[0] = t_ms * MS
        ctl.latest_inputs = encoder_at(now[0], t_ms * 5)  # 500 mm/s, 10 counts/mm
        if press:
            ctl.resets.press(now[0])
        det.next = frame([] if x_px is None else [(x_px, 240.0, "defect")])
        return ctl.cycle(cams[0], Frame(IMAGE, t_ms, now[0]))

    cycle(0)
    assert cycle(10, press=True).permit
    assert not cycle(20, x_px=600.0).permit  # past the ejector: a missed reject
    link.set_healthy(False)
    with capture_logs() as logs:
        refused = cycle(40, press=True)
    assert ("reset_refused", "health_fault") in _resets(logs)
    assert refused.warning, "the reject alarm cleared on a refused press"
    link.set_healthy(True)
    cycle(50)
    back = cycle(70, press=True)
    assert (back.permit, back.warning) == (True, False)
