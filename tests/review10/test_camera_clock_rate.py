"""Silent drift: a camera clock slower than the box's is followed only to within window x rate.

`CameraClock` dates a frame by the smallest arrival-minus-stamp of the last 5 s. When the camera's
clock runs slow by r, that difference grows by r per second, and the window's minimum is the
oldest one: every frame is dated 5 s x r too old. Below the re-anchor threshold (20 ms over the
window's last 4 s: r < 5000 ppm) nothing is logged or counted. A camera that stamps by frame
count at its nominal rate (25 fps nominal, 24.9 delivered: 4000 ppm) is dated 20 ms too old for
good: at 2 m/s its pushes land 40 mm early, beyond a 10 mm reach, with no step and no miss.

Suggested fix: follow the rate, not only the offset: fit the lower envelope of (arrival, diff)
over the window (a line through its minima) and date by the line at the frame's arrival; log
and count a rate beyond a few hundred ppm (`camera_clock_rate`), or refuse stamps whose rate is
implausible for a clock.
"""

from __future__ import annotations

from plantvision.frames.stamps import CameraClock

MS = 1_000_000
TOLERANCE_MS = 5.0  # a 10 mm reach at 2 m/s


def test_a_camera_stamping_by_frame_count_is_dated_within_the_reach_or_not_at_all() -> None:
    """Fixed by the lead: the anchor rises no faster than 200 ppm, so such a camera's frames go
    late within seconds and are withheld (stale for the guard, blind belt for the conveyor),
    and the late spell is told; frames still dated are within the reach or carry their spread."""
    clock = CameraClock()
    worst_ms = 0.0
    for n in range(1, 1500):  # 60 s
        exposure = n * round(1e9 / 24.9)  # the frames really come at 24.9 fps
        stamp = n * 40 * MS  # stamped n / 25 s by the camera
        m = clock.map(stamp, exposure + 5 * MS)
        if m.t_ns is not None:
            err_ms = (m.t_ns - exposure - 5 * MS) / MS  # < 0: dated too old
            worst_ms = max(worst_ms, err_ms, -err_ms - m.spread_ns / MS)
    assert clock.late_spells == 1  # told
    assert worst_ms <= TOLERANCE_MS, f"frames dated up to {worst_ms:.1f} ms off"
