"""Safety: a queue that builds up slowly in front of the box is followed by the anchor, and
pictures hundreds of ms old are dated fresh, with nothing withheld, logged or counted.

Review 10 showed a queue (a switch buffer, a proxy, a reader falling behind on a loaded box, the
kernel's socket buffers filling) dating old pictures fresh; the fix withholds a frame more than
20 ms later than the anchor, for 10 s. But the anchor is the minimum of the last second only,
and the rate check lets the minimum move by up to 2000 ppm (2 ms a second) as "clock drift". A
queue that grows by less than that, e.g. a capture thread that reads and decodes 0.19 % slower
than the camera sends (24.95 fps drained of 25 sent), is indistinguishable from a slow clock:
every frame sits within the band of the minimum of the second before, every whole-second rate is
1900 ppm, and the anchor climbs with the queue for as long as it grows. After two minutes the
box dates a picture 228 ms old as 2 ms old; the guard's budget check (`age <= budget_ms`, 200 ms
by default) and `stall_ms` see a fresh camera, a reset is accepted on it, and the response time
T the box reports leaves out the quarter second. No `camera_clock_step`, no `camera_clock_rate`.

Truth: the test's own exposure instants and the camera's fastest transit (camfeed.py).

Suggested fix: bound how far the anchor may move in total, not only per second: keep the
anchor set at settle (or at the last step) and predict it forward with a rate bounded by what a
crystal can do (a few hundred ppm, not 2000), measured over a long baseline (minutes, where a
clock's rate is stable and a queue's growth is not); a one-second minimum above that prediction
by more than the band is a late frame (withheld, HOLD), whatever the per-second rate says.
A rate between the crystal bound and MAX_RATE then reads as a queue or a bad camera: withhold.
"""

from __future__ import annotations

from tests.review11.camfeed import FLOOR_NS, MS, START_NS, feed, misdated

RAMP_FROM_NS = START_NS + 20_000 * MS  # 20 s of a steady path first
GROWTH = 1.9e-3  # the queue grows 1.9 ms a second: just under MAX_RATE


def _queue(exposure_ns: int) -> int:
    return FLOOR_NS + round(max(0, exposure_ns - RAMP_FROM_NS) * GROWTH)


def test_a_slowly_growing_queue_never_dates_an_old_picture_fresh() -> None:
    rows = feed(25 * 140, _queue)  # 140 s at 25 fps: 20 s steady, then 120 s of a growing queue
    steady = [r for r in rows if r.exposure_ns < RAMP_FROM_NS and r.mapped.t_ns is not None]
    assert len(steady) > 400, "the steady path was not dated: the test shows nothing"
    wrong = misdated(rows)
    fresh = {i: ms for i, ms in wrong.items() if ms > 0}
    worst = max(fresh.values(), default=0.0)
    assert not fresh, (
        f"{len(fresh)} frames dated fresher than their exposure by over 5 ms, up to {worst} ms "
        f"(queue at the end {(_queue(rows[-1].exposure_ns) - FLOOR_NS) / MS:.0f} ms)"
    )
