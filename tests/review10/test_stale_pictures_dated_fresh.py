"""Safety: camera stamps show a picture is stale, and the box still dates it fresh.

With `frame_stamps: camera` each frame is dated stamp + the smallest arrival-minus-stamp of the
last 5 s, never later than its arrival. Two ways throw away what the stamps prove:

1. The path gets slower and stays so (a queue in front of the box: a switch buffer, a proxy, a
   reader that falls behind and lets the kernel's socket buffers fill). Arrival minus stamp rises
   by the queue's delay; after 1 s `CameraClock` re-anchors on the short window ("the clock
   jumped back, or the path got slower for good") and from then on dates each frame at its
   arrival: a picture half a second old passes for a fresh one (a `camera_clock_step` warning,
   the permit stays on). The stamps said exactly how old it was.
2. A reconnect calls `clock.reset()`: the first frame after it sets the anchor, so it is dated at
   its arrival whatever its stamp says. A camera or MJPEG proxy that greets a new client with
   the last picture it holds (here one 1.3 s old, on the same clock as before) hands the box a
   stale picture of the zone as fresh.

Either is no worse than `frame_stamps: arrival`, which cannot see the age at all; but the README
promises ages that "can only err towards older", and the evidence to keep that is in hand.

Truth: the scripted camera's exposure instants (tests/review10/netcam.py), read back by each
picture's grey level; nothing from the product's clock mapping.

Suggested fix: never move the anchor upwards in silence for the guard. A rise of arrival minus
stamp is either a clock step back or a slower path, and the two look alike: treat a re-anchor as
a trip cause (`camera_clock_step`, reset needed) or keep dating by the old anchor (frames stay
stale, the guard trips) until a person resets; keep the anchor across a reconnect (a restarted
camera clock then shows as a step: forward it is adopted at once, back it dates frames too old,
the safe side).
"""

from __future__ import annotations

import time

from plantvision.frames.mjpeg import MjpegGrabber
from plantvision.frames.source import FrameSource
from tests.review10.netcam import CAMERA_EPOCH_S, HEAD, Conn, ScriptedCamera, read_levels

MS = 1_000_000
PERIOD_NS = 40 * MS  # 25 fps
FLOOR_NS = 5 * MS  # the camera's fastest transit
SLACK_NS = 100 * MS  # far above this machine's scheduling noise, far below the queue's delay


def _stamp_s(exposure_ns: int) -> float:
    return CAMERA_EPOCH_S + exposure_ns / 1e9


def test_a_queue_in_front_of_the_box_never_makes_a_half_second_old_picture_fresh() -> None:
    """Fixed by the lead: frames behind the queue are withheld (the camera goes stale, the guard
    trips) for as long as HOLD_NS (10 s) shows nothing else, never re-anchored in a second."""
    queued_from, frames, queue_ns = 40, 100, 500 * MS

    def script(conn: Conn) -> None:
        conn.send(HEAD)
        t0 = time.monotonic_ns() + 50 * MS
        for i in range(frames):
            exposure = t0 + i * PERIOD_NS
            delay = FLOOR_NS + (queue_ns if i >= queued_from else 0)
            if not conn.frame(10 + i, exposure, _stamp_s(exposure), exposure + delay):
                return
        conn.camera.stopped.wait(30)

    camera = ScriptedCamera([script])
    source = FrameSource(MjpegGrabber(camera.url, "cam1"), pace="lockstep")
    source.start()
    try:
        got = read_levels(source, 10 + frames - 1, timeout_s=6.0)
    finally:
        source.stop()
        camera.stop()
    assert 10 + queued_from - 1 in got, f"only {len(got)} frames read"
    young = {
        lv - 10: round((t - camera.exposures[lv]) / MS)
        for lv, t in got.items()
        if t - camera.exposures[lv] > FLOOR_NS + SLACK_NS
    }
    # Every frame from the queue on arrived 505 ms after its exposure; its stamp says so.
    assert not young, f"frame: ms between exposure and the date the box gave it: {young}"


def test_a_stale_picture_greeting_a_reconnect_is_dated_by_its_stamp() -> None:
    """Fixed by the lead: the anchor outlives the reconnect; the greeting frame, 1.2 s late on
    it, is withheld (or, were it dated, dated by its stamp)."""
    first_ns: list[int] = []

    def live(conn: Conn, start: int, count: int) -> bool:
        t0 = time.monotonic_ns() + 20 * MS
        for i in range(count):
            exposure = t0 + i * PERIOD_NS
            if not first_ns:
                first_ns.append(exposure)
            if not conn.frame(10 + start + i, exposure, _stamp_s(exposure), exposure + FLOOR_NS):
                return False
        return True

    def before(conn: Conn) -> None:  # 1.2 s of live frames, then the connection drops
        conn.send(HEAD)
        live(conn, 0, 30)

    def after(conn: Conn) -> None:  # greets with the oldest picture it holds, then goes live
        conn.send(HEAD)
        old = first_ns[0]
        conn.frame(200, old, _stamp_s(old), time.monotonic_ns())
        if live(conn, 30, 30):
            conn.camera.stopped.wait(30)

    camera = ScriptedCamera([before, after])
    source = FrameSource(MjpegGrabber(camera.url, "cam1"), pace="lockstep")
    source.start()
    try:
        got = read_levels(source, 10 + 59)
    finally:
        source.stop()
        camera.stop()
    assert camera.connections == 2
    assert 10 + 59 in got, sorted(got)  # live again after the reconnect
    if 200 not in got:
        return
    age_ms = (got[200] - camera.exposures[200]) / MS
    # Exposed 1.2 s before it was sent, stamped so on the same camera clock as before.
    assert age_ms <= (FLOOR_NS + SLACK_NS) / MS, f"a {age_ms:.0f} ms old picture dated fresh"
