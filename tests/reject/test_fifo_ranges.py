"""Range verdicts (a blind segment, PLC-timed): the FIFO carries a start and an end count as two
entries of one request, the documented PLC side pairs them, and the PLC simulator holds the
ejector on over the range, over real loopback TCP, binning every item that passes meanwhile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plantvision.plc.fifo import (
    RANGE_END,
    RANGE_START,
    FifoReader,
    FifoVerdict,
    FifoWriter,
    decode_block,
)
from plantvision.plc.link import PlcLink
from simulators.plc import ConveyorSimConfig, EjectorSite, PlcSimulator, SimConfig
from simulators.plc.conveyor import BeltNow, ConveyorModel
from tests.reject.running_belt import running_link
from tests.waiting import wait_for

MS = 1_000_000
CPM = 10.0
PITCH_MM = 50.0


class EveryFifty:
    """Item truth: an item every 50 mm of belt (item k at travel - 50 k), none defective."""

    def nearest_item(self, travel_mm: float, x_mm: float) -> tuple[int, float, bool] | None:
        k = round((travel_mm - x_mm) / PITCH_MM)
        return k, travel_mm - PITCH_MM * k, False


def reader(late_counts: int = 200) -> FifoReader:
    return FifoReader("big", boot=1, ejectors=2, late_counts=late_counts)


def test_a_range_is_two_flagged_entries_of_one_request() -> None:
    """Start then end, consecutive numbers, the ejector word flagged; a block of 3 slots that
    holds two pulses puts the range in the next request rather than split it."""
    writer = FifoWriter(3 + 5 * 3, "big")
    images = writer.batches(
        [FifoVerdict(1, 100), FifoVerdict(1, 200), FifoVerdict(1, 300, end_count=900)]
    )
    assert len(images) == 2
    _, second = decode_block(images[1], "big")
    by_seq = {e.seq: e for e in second}
    assert (by_seq[3].kind, by_seq[3].arrival_count, by_seq[3].ejector_index) == ("start", 300, 1)
    assert (by_seq[4].kind, by_seq[4].arrival_count) == ("end", 900)
    raw = images[1][3 + 5 * ((3 - 1) % 3) + 1]
    assert raw == RANGE_START | 1
    assert images[1][3 + 5 * ((4 - 1) % 3) + 1] == RANGE_END | 1


def test_the_plc_side_pairs_a_range_and_holds_it_until_its_end() -> None:
    """Taken as one pending entry with its end count; due at its start; begun late it still
    fires while the encoder is short of end + late limit, and is refused past that."""
    plc = reader()
    plc.power_up([0] * 15)
    (entry,) = plc.on_block(
        FifoWriter(15, "big").batches([FifoVerdict(0, 1000, end_count=5000)])[0]
    )
    assert (entry.arrival_count, entry.end_count) == (1000, 5000)
    assert plc.due(0, 999) == []
    assert plc.due(0, 4000) == [entry]  # begun 3000 counts late: still inside the range
    plc.on_block(FifoWriter(15, "big", epoch=2).batches([FifoVerdict(0, 1000, end_count=5000)])[0])
    assert plc.due(0, 5300) == []  # past the end by more than the late limit
    assert plc.refused == 1


def test_a_range_start_without_its_end_is_refused() -> None:
    """The end overwritten (or never written): the start is refused, never held open."""
    block = FifoWriter(15, "big").batches([FifoVerdict(0, 1000, end_count=5000)])[0]
    end_slot = 3 + 5 * 1
    block[end_slot : end_slot + 5] = [0] * 5
    plc = reader()
    plc.power_up([0] * 15)
    assert plc.on_block(block) == []
    assert plc.refused == 1


def test_the_simulated_ejector_bins_every_item_that_passes_during_the_range() -> None:
    """Stepped scans at 1 m/s: a range of 400 mm of belt at an ejector 500 mm downstream bins
    the nine items whose centres pass the line within it (or within the 10 mm reach of its
    ends), and none further out."""
    site = EjectorSite(x_mm=500.0, reach_mm=10.0, pulse_ms=30.0)
    model = ConveyorModel(ConveyorSimConfig(counts_per_mm=CPM, ejectors=(site,)), 15, "big",
                          EveryFifty())  # fmt: skip
    start, end = 10_050, 14_050  # travel 1005 to 1405 mm; item k at the line at 500 + 50 k
    model.on_fifo_write(0, FifoWriter(15, "big").batches([FifoVerdict(0, start, end_count=end)])[0])
    for t_ms in range(1000, 1500):
        travel = float(t_ms)
        model.scan(BeltNow(t_ms * MS, round(travel * CPM), travel, 1.0 / MS))
    (pulse,) = model.pulses
    assert pulse["end_count"] == end
    binned = sorted({pulse["item"]} | {s["item"] for s in pulse["swept"]})
    assert binned == list(range(10, 19))  # 1000 (5 mm before the start, in reach) to 1400
    assert pulse["swept_mm"] == pytest.approx(400.0, abs=1.0)
    assert not model.busy


@pytest.fixture
def running() -> Iterator[tuple[PlcSimulator, PlcLink]]:
    """A belt at 1 m/s with an item every 50 mm, behind a running machine, and the box's link."""
    site = EjectorSite(x_mm=500.0, reach_mm=10.0, pulse_ms=30.0)
    conv = ConveyorSimConfig(counts_per_mm=CPM, belt_speed_mm_s=1000.0, scan_ms=1.0,
                             ejectors=(site,))  # fmt: skip
    sim = PlcSimulator(SimConfig(conveyor=conv, item_truth=EveryFifty(), watchdog_ms=2000,
                                 stopping_ms=0))  # fmt: skip
    yield from running_link(sim)


def test_a_range_verdict_over_tcp_holds_the_ejector_over_its_counts(
    running: tuple[PlcSimulator, PlcLink],
) -> None:
    """Written through the box's link: the simulated PLC switches the ejector on at the start
    count, sweeps 300 mm of belt, and bins the six items whose centres passed within reach."""
    sim, link = running
    inputs = link.read_inputs()
    assert inputs is not None
    assert inputs.encoder is not None
    start = inputs.encoder + 1000  # 100 ms ahead at 1 m/s
    assert link.write_verdicts([FifoVerdict(0, start, end_count=start + 3000)])
    assert sim.belt is not None
    assert wait_for(lambda: len(sim.belt.pulses()) == 1 and not sim.belt.model.busy)  # type: ignore[union-attr]
    (pulse,) = sim.belt.pulses()
    assert pulse["end_count"] == start + 3000
    assert 0 <= pulse["past_counts"] <= 200, pulse
    binned = {pulse["item"]} | {s["item"] for s in pulse["swept"]}
    assert len(binned) in (6, 7), pulse  # 300 mm of belt, items 50 mm apart, 10 mm reach
    assert pulse["swept_mm"] == pytest.approx(300.0, abs=2.0)
