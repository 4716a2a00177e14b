"""The camera clock: a frame's own stamp mapped onto the box's clock, clocks never assumed equal;
a frame whose stamp disagrees with the anchor is withheld, never dated by a guess."""

from __future__ import annotations

import numpy as np
import pytest

from plantvision.frames.stamps import (
    BAND_NS,
    CONFIRM,
    MAX_RISE,
    RESTART_NS,
    SETTLE_NS,
    CameraClock,
    Mapped,
)

MS = 1_000_000
OFFSET_NS = 1_700_000_000 * 1_000_000_000  # the camera counts from its own epoch

Row = tuple[int, Mapped]


def _feed(clock: CameraClock, exposures_ns: list[int], transits_ns: list[int],
          drift: float = 0.0) -> list[Row]:  # fmt: skip
    """(true exposure, what the clock said) per frame: the camera stamps exposure on its clock."""
    out = []
    for t, lat in zip(exposures_ns, transits_ns, strict=True):
        out.append((t, clock.map(int(t * (1 + drift)) - OFFSET_NS, t + lat)))
    return out


def _settled(clock: CameraClock, transit_ns: int = 3 * MS, until_ns: int = 2_000 * MS) -> None:
    for t in range(20 * MS, until_ns, 20 * MS):
        clock.map(t - OFFSET_NS, t + transit_ns)


def test_nothing_is_dated_until_a_second_of_frames_shows_the_fastest_transit() -> None:
    """A camera greets a new client with the last picture it holds, maybe old: the first frame
    cannot set the anchor."""
    clock = CameraClock()
    greeting = clock.map(0 - OFFSET_NS, 1_200 * MS)  # exposed 1.2 s before it arrived
    assert (greeting.t_ns, greeting.why) == (None, "settling")
    rows = _feed(clock, [t * MS for t in range(1_220, 2_600, 20)], [3 * MS] * 69)
    settling = [m for t, m in rows if t < 1_200 * MS + SETTLE_NS]
    assert all(m.t_ns is None for m in settling)
    assert all(m.t_ns == t + 3 * MS for t, m in rows[len(settling) + 1 :])


def test_the_varying_part_of_the_latency_drops_out_and_the_floor_remains() -> None:
    rng = np.random.default_rng(1)
    times = [int(i * 20 * MS) for i in range(1, 501)]  # 50 fps, 10 s
    transits = [int(3 * MS + rng.exponential(2.5 * MS)) for _ in times]  # floor 3 ms, long tail
    rows = _feed(CameraClock(), times, transits)[100:]  # after settling
    dated = [(t, m.t_ns) for t, m in rows if m.t_ns is not None]
    latency_ms = np.array([(d - t) / MS for t, d in dated])
    arrival_ms = np.array(transits[100:]) / MS
    # Against the arrival: spread of several ms; mapped: the floor, give or take its noise.
    assert np.percentile(arrival_ms, 99) - np.median(arrival_ms) > 5
    assert np.all(latency_ms >= 2.99)
    assert np.percentile(latency_ms, 99) < 3.5  # the third-fastest of a second, not the fastest
    assert len(dated) == len(rows)  # an exponential tail stays inside the band here
    assert not any(m.event for _, m in rows)


def test_a_mapped_stamp_is_never_later_than_the_arrival() -> None:
    clock = CameraClock()
    for i in range(400):
        t = i * 10 * MS
        stamp = t - OFFSET_NS + (50 * MS if i % 7 == 0 else 0)  # some stamps claim the future
        got = clock.map(stamp, t + 4 * MS).t_ns
        assert got is None or got <= t + 4 * MS


@pytest.mark.parametrize("drift", [100e-6, -100e-6])  # 100 ppm either way
def test_a_drifting_camera_clock_is_followed(drift: float) -> None:
    times = [int(i * 40 * MS) for i in range(1, 3001)]  # 25 fps, 120 s
    rows = _feed(CameraClock(), times, [int(4 * MS)] * len(times), drift=drift)[50:]
    # Over 120 s the clocks part by 12 ms; the anchor follows (it may rise 200 ppm a second).
    err_ms = [(m.t_ns - t) / MS - 4 for t, m in rows if m.t_ns is not None]
    assert len(err_ms) == len(rows)
    assert max(abs(e) for e in err_ms) < 0.2
    assert not any(m.event for _, m in rows)


def test_a_late_frame_is_withheld_not_dated_and_the_next_on_time_one_is() -> None:
    clock = CameraClock()
    _settled(clock)
    t = 2_000 * MS
    late = clock.map(t - OFFSET_NS, t + 3 * MS + BAND_NS + MS)  # held up once: step or delay?
    assert (late.t_ns, late.why, late.event) == (None, "late", "late")
    assert clock.map(t + 20 * MS - OFFSET_NS, t + 23 * MS).t_ns == t + 23 * MS


def test_a_clock_stepping_back_is_withheld_for_good_and_told_once() -> None:
    """A step back and a path that got slower look alike: no frame is dated by either guess
    (dated by the anchor, a step back places items downstream; re-anchored, a delay dates old
    pictures fresh). The anchor rises no faster than a crystal drifts, so the camera stays out
    (the guard tripped on it) until the service restarts: told once, as a late spell."""
    clock = CameraClock()
    _settled(clock)
    rows = [(t, clock.map(t - OFFSET_NS - 150 * MS, t + 3 * MS))
            for t in range(2_000 * MS, 32_000 * MS, 20 * MS)]  # fmt: skip
    assert all(m.t_ns is None and m.why == "late" for _, m in rows)
    assert [(m.event, m.step_ms) for _, m in rows if m.event] == [("late", 150.0)]
    assert clock.late_spells == 1


def test_a_step_back_inside_the_band_dates_frames_older_and_says_by_how_much() -> None:
    """15 ms back: frames are dated by the anchor, 15 ms older than the truth may be, and carry
    that spread (the conveyor takes no verdict from a frame whose spread exceeds its reach); the
    anchor closes it at MAX_RISE, never at once."""
    clock = CameraClock()
    _settled(clock)
    t = 2_000 * MS
    first = clock.map(t - OFFSET_NS - 15 * MS, t + 3 * MS)
    assert (first.t_ns, first.spread_ns) == (t + 3 * MS - 15 * MS, 15 * MS)
    later = None
    for ti in range(t + 20 * MS, t + 10_000 * MS, 20 * MS):
        later = clock.map(ti - OFFSET_NS - 15 * MS, ti + 3 * MS)
    assert later is not None
    assert later.spread_ns == pytest.approx(15 * MS - MAX_RISE * 10_000 * MS, abs=0.3 * MS)


def test_a_slower_path_is_absorbed_no_faster_than_a_crystal_drifts() -> None:
    """A queue growing 1.9 ms a second: the anchor rises 0.2 ms a second, so frames go late
    (withheld) within seconds, and no frame is ever dated more than a few ms fresher."""
    clock = CameraClock()
    _settled(clock)
    worst_ms = 0.0
    for ti in range(2_000 * MS, 60_000 * MS, 40 * MS):
        queue = round((ti - 2_000 * MS) * 1.9e-3)
        m = clock.map(ti - OFFSET_NS, ti + 3 * MS + queue)
        if m.t_ns is not None:
            worst_ms = max(worst_ms, (m.t_ns - ti - 3 * MS) / MS)
    assert worst_ms < 3.0
    assert clock.late_spells == 1


def test_a_camera_that_restarted_its_clock_is_settled_again() -> None:
    clock = CameraClock()
    _settled(clock)
    t = 2_000 * MS
    rows = [(ti, clock.map(ti - OFFSET_NS - RESTART_NS - 10**9 * 3600, ti + 3 * MS))
            for ti in range(t, t + 2_000 * MS, 20 * MS)]  # fmt: skip
    assert rows[0][1].event == "restart"
    assert all(m.t_ns is None for ti, m in rows if ti < t + SETTLE_NS)
    assert rows[-1][1].t_ns == rows[-1][0] + 3 * MS
    assert clock.restarts == 1


def test_one_stamp_ahead_is_a_glitch_withheld_alone() -> None:
    clock = CameraClock()
    _settled(clock)
    t = 2_000 * MS
    glitch = clock.map(t - OFFSET_NS + 60 * MS, t + 3 * MS)
    assert (glitch.t_ns, glitch.why) == (None, "ahead")
    for i in range(1, 30):
        ti = t + i * 20 * MS
        assert clock.map(ti - OFFSET_NS, ti + 3 * MS).t_ns == ti + 3 * MS
    assert clock.steps == 0


def test_a_clock_stepping_forward_is_adopted_once_frames_agree_on_it() -> None:
    clock = CameraClock()
    _settled(clock)
    rows = [(t, clock.map(t - OFFSET_NS + 500 * MS, t + 3 * MS))
            for t in range(2_000 * MS, 2_400 * MS, 20 * MS)]  # fmt: skip
    assert [m.t_ns for _, m in rows[: CONFIRM - 1]] == [None] * (CONFIRM - 1)
    adopted = rows[CONFIRM - 1][1]
    assert (adopted.event, adopted.step_ms) == ("step", -500.0)
    assert all(m.t_ns == t + 3 * MS for t, m in rows[CONFIRM - 1 :])


def test_a_camera_stamping_at_a_nominal_rate_goes_late_and_is_withheld() -> None:
    """Frame-count stamps at 25 fps from a camera delivering 24.9 (4000 ppm): the anchor rises
    200 ppm at most, so within seconds every frame is late and withheld, and it is told."""
    clock = CameraClock()
    rows = []
    for n in range(1, 750):  # 30 s
        exposure = n * round(1e9 / 24.9)
        rows.append((exposure, clock.map(n * 40 * MS, exposure + 5 * MS)))
    dated = [(m.t_ns - t) / MS - 5 for t, m in rows if m.t_ns is not None]
    assert max(abs(e) for e in dated) <= BAND_NS / MS
    assert [m.event for _, m in rows if m.event] == ["late"]
    assert all(m.t_ns is None for _, m in rows[-500:])
