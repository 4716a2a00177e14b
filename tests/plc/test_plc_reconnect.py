"""Reconnecting to the PLC over real loopback TCP while the loop keeps handing in images.

A reconnect writes the tripped image (permit off, fault code plc_lost) before the link counts as
healthy again, and heals in one attempt whatever the PLC's round trip: the loop's next cycles
(the guard trips on plc_lost) decide what the PLC holds after that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from plantvision.loop.outputs import FAULT_CODES
from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PLC_LOST_FAULT_CODE, PlcLink, PlcOutputs
from simulators.plc import PlcSimulator, SimConfig
from tests.waiting import wait_for

PERMIT_ON = PlcOutputs(permit=True, warning=True, fault_code=0)


def config(port: int, **kw: Any) -> PlcConfig:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "allowed_hosts": ("127.0.0.1",),
        "connect_timeout_ms": 200,
        "request_timeout_ms": 250,
        "retries": 0,
        "heartbeat_period_ms": 20,
        "reconnect_backoff_ms": (20, 100),
        "loop_stale_ms": 60_000,
    }
    return PlcConfig(**{**base, **kw})


class Writer:
    """A loop stand-in: hands the link a permit-ON image every `period_s`, on its own thread."""

    def __init__(self, link: PlcLink, period_s: float) -> None:
        self._link, self._period_s = link, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self._link.write(PERMIT_ON)


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig(watchdog_ms=60_000, stopping_ms=20))
    s.start()
    yield s
    s.stop()


def test_the_plc_lost_code_is_the_loops_fault_code() -> None:
    """The link writes the same plc_lost code the loop's output image does."""
    assert FAULT_CODES["plc_lost"] == PLC_LOST_FAULT_CODE


def test_a_reconnect_writes_the_tripped_image_never_the_one_before_the_loss(
    sim: PlcSimulator,
) -> None:
    """The loop last handed in permit ON; after a dropped connection the first image the PLC
    gets is permit off, ejectors off, fault code plc_lost (warning as the loop last set it)."""
    link = PlcLink(config(sim.port), structlog.get_logger())
    link.start()
    try:
        with Writer(link, 0.02):
            assert wait_for(lambda: sim.values.get("permit") == 1)
            # Requests already in flight when the drop is asked for may still land (they were
            # sent before the loss; CI once logged the last image's fault-code write after the
            # drop): count from when the link knows it lost the PLC, which sends nothing after.
            sim.drop_connections()
            assert wait_for(lambda: not link.healthy, step_s=0.001)
            mark = len(sim.write_log)
            assert wait_for(lambda: link.healthy, 10.0)
            assert wait_for(lambda: len(sim.write_log) >= mark + 2)
    finally:
        link.stop()
    first, second = sim.write_log[mark : mark + 2]
    assert first["signals"] == {"permit": 0, "warning": 1, "ejectors.0": 0, "ejectors.1": 0}
    assert second["signals"] == {"fault_code": PLC_LOST_FAULT_CODE}


@pytest.mark.parametrize("rtt_ms", [60.0, 150.0])
def test_a_dropped_link_heals_while_the_loop_writes_faster_than_the_plc_answers(
    sim: PlcSimulator, rtt_ms: float
) -> None:
    """Cycles every 20 ms, PLC round trip 60 or 150 ms (below the 250 ms request timeout): the
    link heals on its first reconnect attempt, one tripped image and no chasing of newer ones."""
    link = PlcLink(config(sim.port), structlog.get_logger())
    link.start()
    try:
        sim.set_delay_ms(rtt_ms)
        with Writer(link, 0.02):
            assert wait_for(lambda: sim.values.get("permit") == 1, 10.0)
            sim.drop_connections()
            mark = len(sim.write_log)
            assert wait_for(lambda: not link.healthy, 10.0)
            healed = wait_for(lambda: link.healthy, 10.0)
        assert healed, f"still down 10 s after the drop ({len(sim.write_log) - mark} writes)"
    finally:
        link.stop()
    # The reconnect sent the tripped image once: every later image came from write().
    tripped = [
        e for e in sim.write_log[mark:] if e["signals"].get("fault_code") == PLC_LOST_FAULT_CODE
    ]
    assert len(tripped) == 1
