"""The reject FIFO is a session: box restarts, PLC restarts, refusals and overflow are seen by
both sides (over real loopback TCP against the PLC simulator, and the pure parts alone)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import structlog

from plantvision.conveyor.runtime import RejectRuntime
from plantvision.conveyor.verdicts import InlineVerdicts
from plantvision.plc.config import PlcConfig
from plantvision.plc.fifo import FifoReader, FifoVerdict, FifoWriter
from plantvision.plc.link import PlcLink, PlcOutputs
from plantvision.plc.values import PlcInputs
from plantvision.types import Frame
from simulators.plc import ConveyorSimConfig, PlcSimulator, SimConfig
from tests.conveyor.helpers import MS, encoder_cfg, frame
from tests.fakes.plc import FakePlcLink
from tests.waiting import wait_for

AHEAD = 100_000  # counts: 10 s ahead at 1 m/s, so nothing fires during a test


@pytest.fixture
def sim() -> Iterator[PlcSimulator]:
    conv = ConveyorSimConfig(counts_per_mm=10.0, belt_speed_mm_s=1000.0, scan_ms=1.0)
    s = PlcSimulator(SimConfig(conveyor=conv, watchdog_ms=5000, stopping_ms=0))
    s.start()
    yield s
    s.stop()


def _link(sim: PlcSimulator) -> PlcLink:
    cfg = PlcConfig(
        host="127.0.0.1",
        port=sim.port,
        allowed_hosts=("127.0.0.1",),
        heartbeat_period_ms=20,
        reconnect_backoff_ms=(20, 100),
    )
    link = PlcLink(cfg, structlog.get_logger())
    link.start()
    assert wait_for(lambda: link.healthy)
    return link


def _encoder(link: PlcLink) -> int:
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.encoder is not None
    return inputs.encoder


def _taken(sim: PlcSimulator) -> list[int]:
    assert sim.belt is not None
    return [e.arrival_count for e in sim.belt.model.pending]


def test_a_restarted_box_is_heard_though_its_numbers_start_again(sim: PlcSimulator) -> None:
    """The box took entries 1..20 to the PLC, then restarted: its next verdict (entry 1 again)
    is taken, not dropped as already consumed."""
    first = _link(sim)
    base = _encoder(first)
    for k in range(20):
        assert first.write_verdicts([FifoVerdict(0, base + AHEAD + k)])
    first.stop()
    second = _link(sim)
    assert second.write_verdicts([FifoVerdict(0, base + AHEAD + 999)])
    assert _taken(sim)[-1] == base + AHEAD + 999
    assert len(_taken(sim)) == 21
    second.stop()


def test_a_restarted_plc_never_gets_entries_it_already_took(sim: PlcSimulator) -> None:
    """After a PLC restart the box empties its FIFO shadow before its next write: the PLC
    (whose state is gone) takes only the new verdict, and the box counts the restart."""
    link = _link(sim)
    base = _encoder(link)
    assert link.write_verdicts([FifoVerdict(0, base + AHEAD), FifoVerdict(0, base + AHEAD + 1)])
    sim.go_down()
    sim.restart_program()
    sim.come_back()
    assert wait_for(lambda: link.losses >= 1 and link.healthy)
    enc = _encoder(link)
    assert link.write_verdicts([FifoVerdict(0, enc + AHEAD + 7)])
    assert _taken(sim) == [enc + AHEAD + 7]
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.fifo_restarts == 1
    link.stop()


def test_a_refused_entry_reaches_the_box_as_a_count(sim: PlcSimulator) -> None:
    """An entry the PLC refuses (already past its late limit) is counted in the echo, and the
    box's inputs carry it."""
    link = _link(sim)
    sim.press_reset()
    link.write(PlcOutputs(permit=True))
    assert wait_for(lambda: sim.ready)
    assert sim.press_start()  # a reset re-arms; only start runs the belt
    enc = _encoder(link)
    assert link.write_verdicts([FifoVerdict(0, (enc - 5000) % 2**32)])  # 500 mm behind: refused
    assert wait_for(lambda: (link.read_inputs() or PlcInputs(False)).fifo_refused == 1)
    link.stop()


def test_entries_overwritten_before_the_plc_read_them_count_as_overflow() -> None:
    """Two requests of two entries into a two-slot block, the PLC reading only the second:
    entries 1 and 2 were lost, and its echo says so."""
    writer = FifoWriter(13, "big", epoch=3)
    reader = FifoReader("big", boot=1, ejectors=2, late_counts=100)
    _, second = writer.batches(
        [FifoVerdict(0, 10), FifoVerdict(0, 20), FifoVerdict(0, 30), FifoVerdict(0, 40)]
    )
    assert [e.arrival_count for e in reader.on_block(second)] == [30, 40]
    assert reader.echo()[4] == 2


def test_entries_of_two_ejectors_fire_each_at_its_count_not_in_fifo_order() -> None:
    """Ejector 1's entry was written first but fires later than ejector 0's: a PLC that
    compared only the FIFO head would hold ejector 0's entry back."""
    writer = FifoWriter(15, "big", epoch=3)
    reader = FifoReader("big", boot=1, ejectors=2, late_counts=100)
    (image,) = writer.batches([FifoVerdict(1, 900), FifoVerdict(0, 500)])
    reader.on_block(image)
    assert [e.arrival_count for e in reader.due(0, 510)] == [500]
    assert reader.due(1, 510) == []
    assert [e.arrival_count for e in reader.due(1, 905)] == [900]


def _inputs(t_ns: int, count: int, restarts: int = 0, refused: int = 0) -> PlcInputs:
    return PlcInputs(
        False,
        encoder=count,
        t_read_ns=t_ns,
        t_encoder_ns=t_ns,
        fifo_restarts=restarts,
        fifo_refused=refused,
    )


def test_the_box_resends_what_is_still_ahead_after_a_plc_restart() -> None:
    """A verdict was sent; the PLC restarted (its echo's boot changed, the encoder kept
    counting): the runtime sends the same verdict again, once; a refusal the echo reports is a
    missed reject."""
    link = FakePlcLink()
    rt = RejectRuntime(encoder_cfg(timing_mode="plc"), {"ej1": 0}, structlog.get_logger())
    rt.start(lambda _i, _on: True, link.write_verdicts, InlineVerdicts)
    rt.feed(_inputs(0, 0))
    rt.feed(_inputs(10 * MS, 50))
    rt.observe(10 * MS, _frame(10 * MS), frame([(100.0, 240.0, "defect")]))
    rt.step(10 * MS, 0, False)
    assert len(link.verdicts) == 1
    rt.feed(_inputs(20 * MS, 100, restarts=1))
    rt.step(20 * MS, 0, False)
    rt.feed(_inputs(30 * MS, 150, restarts=1))
    rt.step(30 * MS, 0, False)
    assert link.verdicts == [link.verdicts[0]] * 2
    rt.feed(_inputs(40 * MS, 200, restarts=1, refused=1))
    status = rt.step(40 * MS, 0, False)
    assert rt.counters["fifo_refused"] == 1
    assert rt.counters["missed"] == 1
    assert status.alarm


def _frame(t_ns: int) -> Frame:
    image = np.random.default_rng(0).integers(60, 200, (480, 640, 3), dtype=np.uint8)
    return Frame(image, 0, t_ns)
