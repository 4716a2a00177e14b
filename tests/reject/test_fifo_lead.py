"""The PLC applies each verdict's lead itself (speed-compensated lead): an entry carries the item's
arrival count at the ejector line and its lead (output + actuator, ms), and the documented PLC
side (`FifoReader`) switches the ejector on when `encoder + speed x lead` reaches the arrival,
its speed from its own counts over the last `SPEED_WINDOW_MS`. A lead fixed by the box from its
speed at the decision was 0 for a verdict decided while the belt stood and too short while it
accelerated: those pushes came up to the whole lead late (pulse_bench --ramp-ms 1500
--output-ms 30: +34 ms median during the ramp, 3-5 defects missed).
"""

from __future__ import annotations

import pytest

from plantvision.plc.fifo import (
    SPEED_WINDOW_MS,
    FifoReader,
    FifoVerdict,
    FifoWriter,
    decode_block,
)
from simulators.plc.conveyor import BeltNow, ConveyorModel, ConveyorSimConfig, EjectorSite

MS = 1_000_000
CPM = 10.0  # counts per mm
V_MAX_MM_PER_MS = 1.0  # 1 m/s ...
RAMP_MS = 1500.0  # ... reached 1.5 s after the start
LEAD_MS = 35.0  # output 30 ms + actuator 5 ms
BLOCK = 3 + 5 * 4


def ramp_mm(t_ms: float) -> float:
    """Belt travel `t_ms` after a start from standstill: a linear ramp, then full speed."""
    if t_ms <= 0:
        return 0.0
    if t_ms <= RAMP_MS:
        return V_MAX_MM_PER_MS * t_ms * t_ms / (2 * RAMP_MS)
    return V_MAX_MM_PER_MS * (RAMP_MS / 2 + t_ms - RAMP_MS)


def lag_mm(at_mm: float, scan_ms: float) -> float:
    """How late a push may land at `at_mm`: the speed window lags the acceleration by half its
    length, a x lead x (lead + window) / 2 of travel (0.5 mm), a linear lead cannot see the
    acceleration during the lead itself; plus one scan of travel and one count."""
    accel_mm_per_ms2 = V_MAX_MM_PER_MS / RAMP_MS
    window = accel_mm_per_ms2 * LEAD_MS * (LEAD_MS + SPEED_WINDOW_MS) / 2
    speed = min(V_MAX_MM_PER_MS, (2 * accel_mm_per_ms2 * at_mm) ** 0.5)
    return window + speed * scan_ms + 1 / CPM


def plc(late_counts: int = 200) -> FifoReader:
    reader = FifoReader("big", boot=1, ejectors=2, late_counts=late_counts)
    reader.power_up([0] * BLOCK)
    return reader


def push_offsets_mm(arrivals_mm: list[float], scan_ms: float = 1.0) -> list[float]:
    """Entries written while the belt stood, arriving at `arrivals_mm`; the belt starts at 0 and
    the PLC scans every `scan_ms` from 100 ms before the start. Per entry, where its item is
    past the ejector line when the paddle pushes (the lead after the coil went on)."""
    reader = plc()
    verdicts = [FifoVerdict(0, round(a * CPM), LEAD_MS) for a in arrivals_mm]
    for image in FifoWriter(BLOCK, "big").batches(verdicts):
        reader.on_block(image)
    offsets: dict[int, float] = {}
    t_ms = -100.0
    while len(offsets) < len(arrivals_mm) and t_ms < 5000:
        encoder = round(ramp_mm(t_ms) * CPM)
        reader.sample(round(t_ms * MS), encoder)
        for e in reader.due(0, encoder):
            offsets[e.seq] = ramp_mm(t_ms + LEAD_MS) - e.arrival_count / CPM
        t_ms += scan_ms
    return [offsets[seq] for seq in sorted(offsets)]


def test_an_entry_carries_its_arrival_count_and_its_lead_in_tenths_of_a_ms() -> None:
    """Five registers an entry: number, ejector word, arrival count (two words, the block's word
    order), lead in 0.1 ms (35.0 ms is 350)."""
    image = FifoWriter(3 + 5, "big", epoch=9).batches([FifoVerdict(1, 0x12345678, 35.0)])[0]
    assert image == [9, 1, 1, 1, 1, 0x1234, 0x5678, 350]
    _, (entry,) = decode_block(image, "big")
    assert (entry.arrival_count, entry.lead_ms) == (0x12345678, 35.0)


@pytest.mark.parametrize(("lead_ms", "error"), [(-0.1, "0 to 6553.5"), (6553.6, "0 to 6553.5")])
def test_a_lead_beyond_the_register_is_refused(lead_ms: float, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        FifoWriter(BLOCK, "big").batches([FifoVerdict(0, 100, lead_ms)])


def test_entries_decided_at_standstill_push_their_items_at_the_line_while_the_belt_ramps() -> None:
    """Verdicts written while the belt stood, for items arriving 20 mm to 1.3 m after the start
    of a 1.5 s ramp to 1 m/s (the ramp ends at 750 mm): each item meets the paddle within
    `lag_mm` of the line (at most 1.5 mm, one scan and the window's lag), never early by more
    than an encoder count. Firing at the arrival count, as the PLC did, pushed each one the
    whole lead late: 6 mm at 20 mm, 35 mm at 1.3 m."""
    arrivals = [20.0, 100.0, 300.0, 600.0, 1000.0, 1300.0]
    offsets = push_offsets_mm(arrivals)
    assert len(offsets) == len(arrivals)
    for arrival, offset in zip(arrivals, offsets, strict=True):
        assert -0.1 <= offset <= lag_mm(arrival, 1.0), (arrival, offsets)


def test_a_slow_scan_still_leads_from_its_own_counts() -> None:
    """A 10 ms scan: the window spans a whole scan; each push lands within a scan's travel
    (and the lag) of the line, never early."""
    arrivals = [300.0, 1300.0]
    offsets = push_offsets_mm(arrivals, scan_ms=10.0)
    for arrival, offset in zip(arrivals, offsets, strict=True):
        assert -0.1 <= offset <= lag_mm(arrival, 10.0), (arrival, offsets)


def test_at_standstill_an_entry_never_fires_before_its_count() -> None:
    """A belt standing 3 counts short of the arrival, its encoder dithering by one count,
    gives no lead: the entry waits; it fires once the encoder reaches the count."""
    reader = plc()
    reader.on_block(FifoWriter(BLOCK, "big").batches([FifoVerdict(0, 1000, LEAD_MS)])[0])
    for t_ms in range(200):
        encoder = 997 + (t_ms // 3) % 2  # windows that see the count move by one
        reader.sample(t_ms * MS, encoder)
        assert reader.due(0, encoder) == []
    reader.sample(200 * MS, 1000)
    assert [e.arrival_count for e in reader.due(0, 1000)] == [1000]


def test_the_late_limit_is_judged_where_the_push_meets_the_belt() -> None:
    """At 1 m/s a 35 ms lead is 350 counts: an entry found with encoder + lead 150 counts past
    its arrival (within the 200-count limit) fires at once; one 250 past is refused."""
    reader = plc(late_counts=200)
    for t_ms in range(0, 21):  # 20 ms at 1 m/s: 10 counts a ms
        reader.sample(t_ms * MS, 10 * t_ms)
    encoder = 200
    near, far = encoder + 350 - 150, encoder + 350 - 250
    reader.on_block(
        FifoWriter(BLOCK, "big").batches([FifoVerdict(0, near, 35.0), FifoVerdict(1, far, 35.0)])[0]
    )
    assert [e.arrival_count for e in reader.due(0, encoder)] == [near]
    assert reader.due(1, encoder) == []
    assert reader.refused == 1


def test_speed_comes_from_the_last_window_of_scans() -> None:
    """Counts over the newest scan at least SPEED_WINDOW_MS old, per ms; backwards is 0."""
    reader = plc()
    assert reader.speed_counts_per_ms == 0.0  # no window yet
    for t_ms in range(0, 50):
        reader.sample(t_ms * MS, 4 * t_ms)
    assert reader.speed_counts_per_ms == pytest.approx(4.0)
    for t_ms in range(50, 50 + int(SPEED_WINDOW_MS) + 1):
        reader.sample(t_ms * MS, 4 * 49 - (t_ms - 49))
    assert reader.speed_counts_per_ms == 0.0


def test_a_range_is_led_at_its_start_and_at_its_end() -> None:
    """At 1 m/s (10 counts a ms) a range from 10,000 to 14,000 with a 35 ms lead: the simulated
    PLC switches the coil on when the encoder is 350 counts short of the start and drops it 350
    short of the end, so the paddle, 35 ms behind the coil, covers 1000-1400 mm of travel."""
    site = EjectorSite(x_mm=500.0, reach_mm=10.0, pulse_ms=30.0, response_ms=LEAD_MS)
    cfg = ConveyorSimConfig(counts_per_mm=CPM, ejectors=(site,))
    model = ConveyorModel(cfg, BLOCK, "big")
    model.on_fifo_write(
        0, FifoWriter(BLOCK, "big").batches([FifoVerdict(0, 10_000, LEAD_MS, 14_000)])[0]
    )
    for t_ms in range(900, 1500):
        model.scan(BeltNow(t_ms * MS, 10 * t_ms, float(t_ms), 1.0 / MS))
    (pulse,) = model.pulses
    assert pulse["encoder"] == 10_000 - 350
    assert pulse["t_ns"] + pulse["pulse_ms"] * MS == pytest.approx(1365 * MS, abs=MS)
    assert not model.busy


def test_a_preset_encoder_is_no_speed() -> None:
    """The count set from 0 to 5,000,000 mid-run: no speed is read across the jump (it would
    fire every new entry at once); a new window measures the belt again."""
    reader = plc()
    for t_ms in range(0, 20):
        reader.sample(t_ms * MS, 10 * t_ms)
    reader.preset()
    for t_ms in range(20, 30):
        reader.sample(t_ms * MS, 5_000_000 + 10 * (t_ms - 20))
        assert reader.speed_counts_per_ms == 0.0
    reader.sample(30 * MS, 5_000_100)
    assert reader.speed_counts_per_ms == pytest.approx(10.0)
