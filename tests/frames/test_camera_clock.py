"""The camera clock: a frame's own stamp mapped onto the box's clock, clocks never assumed equal."""

from __future__ import annotations

import numpy as np
import pytest

from plantvision.frames.stamps import SHORT_NS, STEP_NS, WINDOW_NS, CameraClock

MS = 1_000_000
OFFSET_NS = 1_700_000_000 * 1_000_000_000  # the camera counts from its own epoch


Row = tuple[int, int, float | None]


def _feed(clock: CameraClock, exposures_ns: list[int], transits_ns: list[int],
          offset_ns: int = OFFSET_NS, drift: float = 0.0) -> list[Row]:  # fmt: skip
    """(true exposure, mapped, step) per frame: the camera stamps exposure on its clock."""
    out = []
    for t, lat in zip(exposures_ns, transits_ns, strict=True):
        stamp = int(t * (1 + drift)) - offset_ns
        m = clock.map(stamp, t + lat)
        out.append((t, m.t_ns, m.step_ms))
    return out


def test_the_varying_part_of_the_latency_drops_out_and_the_floor_remains() -> None:
    rng = np.random.default_rng(1)
    times = [int(i * 20 * MS) for i in range(1, 501)]  # 50 fps, 10 s
    transits = [int(3 * MS + rng.exponential(2.5 * MS)) for _ in times]  # floor 3 ms, long tail
    rows = _feed(CameraClock(), times, transits)[50:]  # after the first second
    latency_ms = np.array([(m - t) / MS for t, m, _ in rows])
    arrival_ms = np.array(transits[50:]) / MS
    # Against the arrival: spread of several ms; mapped: the floor, give or take its noise.
    assert np.percentile(arrival_ms, 99) - np.median(arrival_ms) > 5
    assert np.all(latency_ms >= 2.99)
    assert np.percentile(latency_ms, 99) < 3.2
    assert all(step is None for *_, step in rows)


def test_a_mapped_stamp_is_never_later_than_the_arrival() -> None:
    clock = CameraClock()
    for i in range(200):
        t = i * 10 * MS
        stamp = t - OFFSET_NS + (50 * MS if i % 7 == 0 else 0)  # some stamps claim the future
        assert clock.map(stamp, t + 4 * MS).t_ns <= t + 4 * MS


@pytest.mark.parametrize("drift", [100e-6, -100e-6])  # 100 ppm either way
def test_a_drifting_camera_clock_is_followed(drift: float) -> None:
    times = [int(i * 40 * MS) for i in range(1, 3001)]  # 25 fps, 120 s
    rows = _feed(CameraClock(), times, [int(4 * MS)] * len(times), drift=drift)
    # Over 120 s the clocks part by 12 ms; the mapping stays within the window's share of it.
    err_ms = [(m - t) / MS - 4 for t, m, _ in rows]
    assert max(abs(e) for e in err_ms) < 100e-6 * WINDOW_NS / MS + 0.01
    assert all(step is None for *_, step in rows)


def test_a_clock_stepping_back_is_reported_and_re_anchored_within_the_short_window() -> None:
    clock = CameraClock()
    times = [int(i * 20 * MS) for i in range(1, 501)]
    jump = 300 * MS
    out = []
    for t in times:
        offset = OFFSET_NS + (jump if t > 5_000 * MS else 0)  # stamps 300 ms smaller from 5 s
        m = clock.map(t - offset, t + 3 * MS)
        out.append((t, m.t_ns, m.step_ms))
    steps = [(t, s) for t, _, s in out if s is not None]
    assert len(steps) == 1
    assert steps[0][1] == 300.0
    assert 5_000 * MS < steps[0][0] <= 5_000 * MS + SHORT_NS + 20 * MS
    # Until then frames map older (the safe side for ages), after it exactly again.
    for t, mapped, _ in out:
        assert mapped <= t + 3 * MS
        if t > steps[0][0]:
            assert mapped == t + 3 * MS
    assert clock.steps == 1


def test_a_clock_stepping_forward_is_adopted_at_once_and_reported() -> None:
    clock = CameraClock()
    for i in range(1, 101):
        clock.map(i * 20 * MS - OFFSET_NS, i * 20 * MS + 3 * MS)
    t = 101 * 20 * MS
    m = clock.map(t - OFFSET_NS + 500 * MS, t + 3 * MS)  # the camera's clock jumped 500 ms on
    assert m.step_ms == -500.0
    assert m.t_ns == t + 3 * MS
    m2 = clock.map(t + 20 * MS - OFFSET_NS + 500 * MS, t + 25 * MS)  # 2 ms slower transit
    assert m2.step_ms is None
    assert m2.t_ns == t + 23 * MS


def test_a_frame_late_on_the_network_is_dated_when_it_was_taken_not_a_step() -> None:
    clock = CameraClock()
    for i in range(1, 101):
        clock.map(i * 20 * MS - OFFSET_NS, i * 20 * MS + 3 * MS)
    t = 101 * 20 * MS
    m = clock.map(t - OFFSET_NS, t + 3 * MS + 2 * STEP_NS)  # held up 40 ms, once
    assert m.step_ms is None
    assert m.t_ns == t + 3 * MS


def test_reset_forgets_the_offset() -> None:
    clock = CameraClock()
    clock.map(0, 10 * MS)
    clock.reset()
    m = clock.map(0, 500 * MS)  # a reconnected camera whose clock restarted: no step to report
    assert m.step_ms is None
    assert m.t_ns == 500 * MS
