"""Availability: one glitched stamp in the first second sets the anchor, and the camera is
withheld for the next ten seconds, then told as a clock step that never happened.

Settling takes the smallest arrival - stamp of the first second as the anchor and keeps the
frames within the band of it. One frame whose stamp runs 300 ms ahead (the glitch review 10's
`test_one_stamp_ahead_of_the_rest_misdates_no_other_frame` is about, here in the first second)
is that minimum, alone in the band: every true frame after it is "late" on it and withheld
until HOLD (10 s) re-anchors, with a `camera_clock_step` error of +300 ms. The box starts
tripped anyway, so the cost is a start that takes eleven seconds instead of one, an error in the
log that sends someone after a camera clock that is fine, and a step counted on the run report.

Truth: the test's own exposure instants (camfeed.py).

Suggested fix: settle on what most frames of the first second agree on (the frames within the
band of the lowest diff that has company, or of a low percentile), so a lone outlier is a
glitch there as it is afterwards.
"""

from __future__ import annotations

from tests.review11.camfeed import MS, PERIOD_NS, START_NS, feed, misdated

SETTLE_MARGIN_NS = 1_500 * MS  # the settling second, and half a second to spare


def test_one_glitched_stamp_while_settling_does_not_hold_the_camera_back() -> None:
    rows = feed(25 * 15, stamp_error_ns=lambda i, _t: 300 * MS if i == 3 else 0)
    assert not misdated(rows)  # withheld, never misdated: the safe side held
    dated = [r for r in rows if r.mapped.t_ns is not None]
    first_ms = (dated[0].exposure_ns - START_NS) / MS if dated else float("inf")
    assert first_ms <= SETTLE_MARGIN_NS / MS, (
        f"the first frame dated was exposed {first_ms:.0f} ms after the first "
        f"({len(rows) - len(dated)} of {len(rows)} withheld, frame period {PERIOD_NS / MS:.0f} ms)"
    )
