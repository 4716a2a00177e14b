"""A pure camera for review 11: frames exposed at a fixed period on the box's clock (truth),
stamped on the camera's own clock, arriving after a transit the scenario chooses; what the
clock said about each is kept beside its truth, nothing judged by the product's mapping.

The right date of a frame is its exposure plus the fastest transit the camera ever had
(`FLOOR_NS`): that floor stays in `capture_latency_ms`, measured on site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from plantvision.frames.stamps import CameraClock, Mapped

MS = 1_000_000
PERIOD_NS = 40 * MS  # 25 fps
FLOOR_NS = 5 * MS  # the fastest transit
START_NS = 10_000 * MS  # the first exposure, on the box's clock (a whole second)
CAMERA_OFFSET_NS = -1_700_000_000 * 10**9  # the camera counts from its own epoch
TOLERANCE_MS = 5.0  # a 10 mm reach at 2 m/s


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    exposure_ns: int
    mapped: Mapped

    @property
    def error_ms(self) -> float | None:
        """How far the box dated this frame from its right date (> 0: too fresh); None if
        withheld."""
        if self.mapped.t_ns is None:
            return None
        return (self.mapped.t_ns - self.exposure_ns - FLOOR_NS) / MS


def feed(
    frames: int,
    transit_ns: Callable[[int], int] = lambda _t: FLOOR_NS,
    stamp_error_ns: Callable[[int, int], int] = lambda _i, _t: 0,
    clock: CameraClock | None = None,
) -> list[Row]:
    """Frame i exposed at START_NS + i x PERIOD_NS, stamped at its exposure on the camera's clock
    (+ `stamp_error_ns(i, exposure)`), arriving `transit_ns(exposure)` later."""
    clock = clock or CameraClock()
    rows = []
    for i in range(frames):
        exposure = START_NS + i * PERIOD_NS
        stamp = exposure + CAMERA_OFFSET_NS + stamp_error_ns(i, exposure)
        rows.append(Row(i, exposure, clock.map(stamp, exposure + transit_ns(exposure))))
    return rows


def misdated(rows: list[Row], tolerance_ms: float = TOLERANCE_MS) -> dict[int, float]:
    """Frame index -> ms off its right date, for every frame dated beyond the tolerance; a
    frame dated too old by no more than the spread it carries (`Mapped.spread_ns`, which the
    conveyor acts on: undecided beyond its reach) is flagged, not misdated (lead, after
    review 11)."""
    return {
        r.index: round(err, 1)
        for r in rows
        if (err := r.error_ms) is not None
        and (err > tolerance_ms or err < -(tolerance_ms + r.mapped.spread_ns / MS))
    }


def longest_withheld_ms(rows: list[Row]) -> float:
    """The longest run of frames withheld in a row after the first dated one (the stall the
    loop sees), in ms of exposure time."""
    dated = [r.index for r in rows if r.mapped.t_ns is not None]
    if not dated:
        return float("inf")
    run = longest = 0
    for r in rows[dated[0] :]:
        run = run + 1 if r.mapped.t_ns is None else 0
        longest = max(longest, run)
    return (longest + 1) * PERIOD_NS / MS if longest else 0.0
