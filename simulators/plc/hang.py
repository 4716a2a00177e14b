"""A camera that hangs, and the truth of what it showed: for the reject rig's and the verifier's
stall runs over the simulator's belt.

`HangingGrabber` blocks its grab while its hang lasts (a dead stream's read does); the caller
records the belt travel of every frame grabbed (`Hang.grabbed_mm`), and `unseen_items` names,
from the scene's own truth and those travels only, the items no frame showed whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from plantvision.frames.grabbers import Grabber
from plantvision.types import ImageArray
from simulators.scene.items import Belt


@dataclass
class Hang:
    """The camera's hang: grabs block until `until_ns` (monotonic); `grabbed_mm` records the
    belt travel of every frame grabbed."""

    until_ns: int = 0
    grabbed_mm: list[float] = field(default_factory=list)

    def left_s(self) -> float:
        return (self.until_ns - time.monotonic_ns()) / 1e9


class HangingGrabber:
    """A grabber whose grab blocks while `left_s()` (seconds of hang still ahead) is above 0."""

    def __init__(self, inner: Grabber, left_s: Callable[[], float]) -> None:
        self._inner, self._left_s = inner, left_s
        self.source_id, self.nominal_fps, self.live = inner.source_id, inner.nominal_fps, True

    @property
    def last_capture_ns(self) -> int | None:
        return getattr(self._inner, "last_capture_ns", None)

    def open(self) -> None:
        self._inner.open()

    def grab(self) -> ImageArray | None:
        while (left_s := self._left_s()) > 0:
            time.sleep(min(left_s, 0.005))
        return self._inner.grab()

    def close(self) -> None:
        self._inner.close()


def unseen_items(
    belt: Belt,
    grabbed_mm: list[float],
    span_mm: tuple[float, float],
    whole_mm: tuple[float, float],
    past_mm: float,
) -> set[int]:
    """Items no grabbed frame showed with their centre in `whole_mm` (along the view, mm from
    its left edge: where an item lies whole in it), that were upstream of `past_mm` (the
    ejector line) at the belt travel `span_mm[0]` (the box started) and beyond it at
    `span_mm[1]` (the run ended): what the box could not judge and could still push."""
    first = belt.nearest_item(span_mm[1], past_mm)
    last = belt.nearest_item(span_mm[0], past_mm)
    assert first is not None
    assert last is not None
    out: set[int] = set()
    for k in range(min(first[0], last[0]) - 3, max(first[0], last[0]) + 4):
        if not belt.centre_mm(k, span_mm[0]) < past_mm < belt.centre_mm(k, span_mm[1]):
            continue
        seen = any(whole_mm[0] <= belt.centre_mm(k, t) <= whole_mm[1] for t in grabbed_mm)
        if not seen:
            out.add(k)
    return out
