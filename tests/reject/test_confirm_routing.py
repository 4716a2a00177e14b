"""The runtime turns each ejector's bin counter into confirmations for that ejector only; the
shared level input is ignored once counters are mapped, and still works when they are not."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.plc.values import PlcInputs
from tests.conveyor.helpers import FRAME_H, FRAME_W, MS, frame, make_cfg

LANES = [
    {"id": "left", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0,
     "lane_max_mm": 240.0},
    {"id": "right", "position_mm": 1000.0, "actuator_response_ms": 20.0, "pulse_ms": 30.0,
     "lane_min_mm": 240.0},
]  # fmt: skip
OUTPUTS = {"left": 0, "right": 1}


def counts(t_ns: int, left: int, right: int) -> PlcInputs:
    return PlcInputs(False, t_read_ns=t_ns, t_sample_ns=t_ns - MS, confirm_counts=(left, right))


def fired_left(counted: bool) -> RejectRuntime:
    """A runtime (no timer started) whose left ejector fired its reject at 1780 ms."""
    rt = RejectRuntime(make_cfg(confirm_window_ms=200.0, ejectors=LANES), OUTPUTS,
                       structlog.get_logger(), counted=counted)  # fmt: skip
    rt.scheduler.observe(0, 0, frame([(100, 100, "defect")]), FRAME_W, FRAME_H, None)
    rt.offer(counts(10 * MS, 7, 65535))  # anchors: pulses before the box started
    for t in range(0, 1780 * MS, 20 * MS):
        rt.step(t, 0, False)
    rt.scheduler.report_fired(1, 1780 * MS)
    return rt


def test_the_right_bins_counter_never_confirms_the_left_reject() -> None:
    """Right counter +1 (across its wrap): unexpected; the left reject is then unconfirmed."""
    rt = fired_left(counted=True)
    rt.offer(counts(1800 * MS, 7, 0))
    with capture_logs() as logs:
        status = rt.step(1800 * MS, 0, False)
        status = rt.step(2000 * MS, 0, False)
    assert [e["event"] for e in logs] == ["reject_confirm_unexpected", "reject_unconfirmed"]
    assert logs[0]["ejector"] == "right"
    assert status.fault == "reject_unconfirmed"


def test_the_left_bins_counter_confirms_the_left_reject() -> None:
    """Left counter +1: confirmed, the belt runs."""
    rt = fired_left(counted=True)
    rt.offer(counts(1800 * MS, 8, 65535))
    with capture_logs() as logs:
        rt.step(1800 * MS, 0, False)
        status = rt.step(2000 * MS, 0, False)
    assert [(e["event"], e.get("ejector")) for e in logs] == [("reject_confirmed", "left")]
    assert status.fault is None


def test_with_counters_the_level_edges_confirm_nothing() -> None:
    """Level edges reach every camera; with counters mapped they are not confirmations."""
    rt = fired_left(counted=True)
    with capture_logs() as logs:
        rt.step(1800 * MS, 1, False)
    assert logs == []
    assert rt.scheduler.counters.confirmed == 0


def test_without_counters_a_level_edge_still_confirms() -> None:
    """Backwards compatible: no counters mapped, the level input's edge confirms as before."""
    rt = fired_left(counted=False)
    with capture_logs() as logs:
        status = rt.step(1800 * MS, 1, False)
        status = rt.step(2000 * MS, 0, False)
    assert [e["event"] for e in logs] == ["reject_confirmed"]
    assert status.fault is None


def test_a_counter_jump_is_logged_and_confirms_nothing() -> None:
    """A counter that leaps (PLC restart, wrong register) is a fault in the log, no confirm."""
    rt = fired_left(counted=True)
    rt.offer(counts(1800 * MS, 5000, 65535))
    with capture_logs() as logs:
        rt.step(1800 * MS, 0, False)
    assert [(e["event"], e["ejector"], e["jump"]) for e in logs] == [
        ("confirm_counter_jump", "left", 4993)
    ]
    assert rt.scheduler.counters.confirmed == 0
