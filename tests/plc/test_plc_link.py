"""The PLC link over real loopback TCP against the PLC simulator (a pymodbus SimDevice server).

Waits are bounded polls on conditions; the only time checks are generous functional bounds
("a dead PLC never blocks a call for a second"), never performance asserts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from plantvision.errors import ConfigError
from plantvision.guard.reset_button import PressKind, ResetButton
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PLC_LOST_FAULT_CODE, PlcLink, PlcOutputs
from simulators.plc import PlcSimulator, SimConfig
from tests.waiting import wait_for

WATCHDOG_MS = 150


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=WATCHDOG_MS, stopping_ms=20))
    s.start()
    yield s
    s.stop()


def config(port: int, **kw: Any) -> PlcConfig:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "allowed_hosts": ("127.0.0.1",),
        "connect_timeout_ms": 100,
        "request_timeout_ms": 100,
        "retries": 1,
        "heartbeat_period_ms": 20,
        "reconnect_backoff_ms": (20, 100),
    }
    return PlcConfig(**{**base, **kw})


@pytest.fixture
def link(sim: PlcSimulator) -> Iterator[PlcLink]:
    lk = PlcLink(config(sim.port), structlog.get_logger())
    lk.start()
    yield lk
    lk.stop()


def run_machine(sim: PlcSimulator, link: PlcLink) -> None:
    """Reset at the machine, then permit on, then start: the machine runs."""
    assert wait_for(lambda: sim.press_reset())
    link.write(PlcOutputs(permit=True))
    assert wait_for(sim.press_start)  # reset re-arms; only the start command starts


def test_permit_and_heartbeat_are_seen_at_the_server(sim: PlcSimulator, link: PlcLink) -> None:
    """The server holds the permit we wrote and sees the heartbeat advancing on its own."""
    assert link.healthy
    rtt = link.write(PlcOutputs(permit=True, warning=True, fault_code=7))
    assert link.write_ejector(1, True)
    assert rtt is not None
    assert rtt > 0
    assert sim.permit_seen
    assert sim.values["warning"]
    assert sim.values["ejectors.1"]
    assert not sim.values["ejectors.0"]
    assert sim.values["fault_code"] == 7
    first = sim.values.get("heartbeat", 0)
    assert wait_for(lambda: sim.values.get("heartbeat", 0) >= int(first) + 3)


def test_stopped_heartbeat_trips_the_machine_within_its_watchdog(
    sim: PlcSimulator,
) -> None:
    """A hung loop freezes the heartbeat; the machine trips watchdog_ms after the last beat."""
    lk = PlcLink(config(sim.port, loop_stale_ms=100), structlog.get_logger())
    lk.start()
    try:
        run_machine(sim, lk)
        # No more write() calls: the link freezes its heartbeat after loop_stale_ms.
        assert wait_for(lambda: not sim.machine_running)
        assert sim.machine.trip_cause == "watchdog"
        last_beat = max(e["t_mono_ns"] for e in sim.write_log if "heartbeat" in e["signals"])
        assert sim.machine.trip_ns == last_beat + WATCHDOG_MS * 1_000_000
        assert sim.permit_seen  # the permit never dropped: the heartbeat alone tripped it
    finally:
        lk.stop()


def test_permit_off_trips_the_machine(sim: PlcSimulator, link: PlcLink) -> None:
    """Writing permit off stops the machine, and it stays latched until reset."""
    run_machine(sim, link)
    link.write(PlcOutputs(permit=False))
    assert not sim.permit_seen
    assert wait_for(lambda: not sim.machine_running)
    assert sim.machine.trip_cause == "permit_off"
    link.write(PlcOutputs(permit=True))
    assert not sim.machine_running


def test_server_down_reports_plc_lost_and_never_blocks(sim: PlcSimulator, link: PlcLink) -> None:
    """A vanished PLC gives one plc_lost, an unhealthy link and calls that return at once."""
    with capture_logs() as logs:
        sim.go_down()
        t0 = time.monotonic()
        results = [link.write(PlcOutputs(permit=True)) for _ in range(5)]
        assert link.read_inputs() is None
        elapsed_s = time.monotonic() - t0
        assert wait_for(lambda: not link.healthy)
        # The link is marked lost first, then closes both connections, then logs.
        assert wait_for(lambda: any(e["event"] == "plc_lost" for e in logs))
    assert results == [None] * 5
    assert elapsed_s < 1.0  # functional bound: no 3 s pymodbus default timeout anywhere
    assert [e["event"] for e in logs].count("plc_lost") == 1


def test_slow_responses_are_cut_off_at_the_request_timeout(
    sim: PlcSimulator, link: PlcLink
) -> None:
    """A PLC answering after 500 ms (timeout 100 ms, one retry) fails the write well inside 1 s."""
    sim.set_delay_ms(500)
    t0 = time.monotonic()
    assert link.write(PlcOutputs(permit=True)) is None
    assert time.monotonic() - t0 < 1.0
    assert not link.healthy
    sim.set_delay_ms(0)
    assert wait_for(lambda: link.healthy)


def test_reconnect_writes_the_tripped_image_first_then_the_loops_next_image(
    sim: PlcSimulator, link: PlcLink
) -> None:
    """After the PLC comes back it first gets the tripped image (permit and ejectors off, fault
    code plc_lost, the warning kept), never the image stored before the loss; the loop's next
    write sends its whole image, and leaves the ejector coils alone."""
    image = PlcOutputs(permit=True, warning=True, fault_code=9)
    assert link.write_ejector(0, True)  # a coil on at the loss
    with capture_logs() as logs:
        sim.go_down()
        assert link.write(image) is None  # the image is remembered while down
        assert wait_for(lambda: not link.healthy)
        mark = len(sim.write_log)
        sim.come_back()
        assert wait_for(lambda: link.healthy)
    events = [e["event"] for e in logs]
    assert events.index("plc_lost") < events.index("plc_restored")
    # A heartbeat in flight at the drop may still be logged after it (seen in CI); the link
    # sends no beat after a reconnect before the tripped image (PlcLink._reconnect).
    after = [e for e in sim.write_log[mark:] if "heartbeat" not in e["signals"]]
    assert after[0]["signals"] == {"permit": 0, "warning": 1, "ejectors.0": 0, "ejectors.1": 0}
    assert after[1]["signals"] == {"fault_code": PLC_LOST_FAULT_CODE}
    assert link.write(image) is not None
    after = [e for e in sim.write_log[mark:] if "heartbeat" not in e["signals"]]
    assert after[2]["signals"] == {"permit": 1, "warning": 1}
    assert after[3]["signals"] == {"fault_code": 9}


def test_exception_codes_drop_the_link_until_the_plc_answers_again(
    sim: PlcSimulator, link: PlcLink
) -> None:
    """A Modbus exception response is a failed write: plc_lost with the code, then recovery."""
    with capture_logs() as logs:
        sim.set_exception(4)  # SERVER_DEVICE_FAILURE
        assert link.write(PlcOutputs(permit=True)) is None
        assert not link.healthy
        sim.set_exception(None)
        assert wait_for(lambda: link.healthy)
    lost = next(e for e in logs if e["event"] == "plc_lost")
    assert "exception code 4" in lost["cause"]
    assert link.write(PlcOutputs(permit=True)) is not None


def test_dropped_connection_is_detected_and_healed(sim: PlcSimulator, link: PlcLink) -> None:
    """A PLC that closes our sockets is noticed and reconnected with no action from the loop."""
    sim.drop_connections()
    assert wait_for(lambda: not link.healthy or link.write(PlcOutputs()) is None)
    assert wait_for(lambda: link.healthy)
    assert link.write(PlcOutputs(permit=True)) is not None


def test_reset_pressed_at_the_machine_reaches_the_reader_once(
    sim: PlcSimulator, link: PlcLink
) -> None:
    """One press at the machine is one high stretch of the reset input at the box, which the
    reset button (guard.reset_button) accepts once, on its release."""
    first = link.read_inputs()
    assert first is not None
    assert not first.reset
    sim.press_reset()
    samples = []
    # Sample until the 500 ms pulse has come and gone (bounded; a loaded machine may be slow).
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        inputs = link.read_inputs()
        assert inputs is not None
        samples.append(inputs)
        if any(s.reset for s in samples) and not inputs.reset and len(samples) > 5:
            break
        time.sleep(0.01)
    assert any(s.reset for s in samples)
    assert not samples[-1].reset
    button = ResetButton()
    judged = [button.update(s.reset, s.t_read_ns) for s in [first, *samples]]
    assert [e.kind for e in judged if e is not None] == [PressKind.ACCEPTED]


def test_encoder_advances_while_the_belt_runs(sim: PlcSimulator, link: PlcLink) -> None:
    """The 32-bit encoder read over Modbus grows while the machine runs."""
    run_machine(sim, link)
    a = link.read_inputs()
    assert a is not None
    assert a.encoder is not None
    assert wait_for(lambda: (b := link.read_inputs()) is not None and (b.encoder or 0) > a.encoder)


def test_stop_leaves_the_permit_off(sim: PlcSimulator) -> None:
    """stop() writes permit off before closing, so a shut-down box looks like a trip."""
    lk = PlcLink(config(sim.port), structlog.get_logger())
    lk.start()
    lk.write(PlcOutputs(permit=True))
    assert sim.permit_seen
    lk.stop()
    assert not sim.permit_seen


def test_unreachable_plc_at_start_does_not_raise_and_heals_later() -> None:
    """Starting with no PLC is a lost link, not a crash; the PLC appearing later heals it."""
    sim = PlcSimulator(SimConfig())
    port = sim.start()
    sim.go_down()
    lk = PlcLink(config(port), structlog.get_logger())
    try:
        with capture_logs() as logs:
            lk.start()
            assert not lk.healthy
            sim.come_back()
            assert wait_for(lambda: lk.healthy)
        assert [e["event"] for e in logs][:1] == ["plc_lost"]
    finally:
        lk.stop()
        sim.stop()


def test_a_host_off_the_allow_list_is_refused_even_without_validation() -> None:
    """A config built around validation still cannot point the link at another host."""
    cfg = config(5020).model_copy(update={"host": "10.9.9.9"})
    with pytest.raises(ConfigError, match="allowed_hosts"):
        PlcLink(cfg, structlog.get_logger())
