"""The coverage map: which stretches of belt decided frames have proven good. Pure, plain floats.

"Reject unless proven good": an item is proven only if it lay whole inside at least `min_views`
healthy, decided frames. Positions are belt-fixed `u_mm` (as in tracker.py: an item centre's
along_mm less the belt travel when it was there; grows downstream). A frame placed at travel P
whose view holds whole the items centred in along [c0, c1] (its view less half the longest item
at each end) proves the item centres u in [c0 - P, c1 - P]; `add` takes that interval.

A centre is *judged* once it has passed the view's judging line c1: no later frame can hold its
item whole. The caller moves the judging frontier u = c1 - P as the belt travels (`judge`);
every centre newly past it that fewer than `min_views` frames proved is blind, returned as
stretches, downstream first. The frontier only moves upstream: a belt that stands, jitters or
runs backwards judges nothing twice and takes back nothing judged. `start(far_u)` places the
first frontier: everything from `far_u` (the last ejector's reach, at start-up) down to the
first frontier is judged at the first `judge`, blind unless proven (start-up: the belt between
camera and ejectors that no frame saw).

Counts are kept as sorted disjoint pieces, each capped at `min_views`, so a stopped belt's
thousand identical frames cost one piece.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

EPS_MM = 1e-6  # positions closer than this are one point (float noise from P)


@dataclass(frozen=True, slots=True)
class Stretch:
    """Belt-fixed item centres from `lo_u_mm` up to `hi_u_mm` (inclusive, lo <= hi)."""

    lo_u_mm: float
    hi_u_mm: float

    @property
    def length_mm(self) -> float:
        return self.hi_u_mm - self.lo_u_mm


class CoverageMap:
    """Proof counts over belt-fixed centres, and the judging frontier."""

    def __init__(self, min_views: int = 1) -> None:
        if min_views < 1:
            raise ValueError(f"min_views {min_views} must be at least 1")
        self._k = min_views
        self._pieces: list[tuple[float, float, int]] = []  # (lo, hi, count), sorted, disjoint
        self.frontier_u_mm: float | None = None  # judged: every centre above this

    @property
    def started(self) -> bool:
        return self.frontier_u_mm is not None

    def start(self, far_u_mm: float) -> None:
        """Judge from `far_u_mm` down at the first `judge` (the belt nobody saw at start-up)."""
        self.frontier_u_mm = far_u_mm

    def restart(self) -> None:
        """Forget every proof and the frontier (the belt's position was lost)."""
        self._pieces, self.frontier_u_mm = [], None

    def add(self, lo_u_mm: float, hi_u_mm: float) -> None:
        """One decided frame proves the centres in [lo, hi]; an empty interval proves nothing."""
        if hi_u_mm <= lo_u_mm:
            return
        out: list[tuple[float, float, int]] = []
        cursor = lo_u_mm
        for a, b, n in self._pieces:
            if b <= lo_u_mm or a >= hi_u_mm:
                out.append((a, b, n))
                continue
            if a < lo_u_mm:
                out.append((a, lo_u_mm, n))
            if cursor < a:
                out.append((cursor, a, 1))
            out.append((max(a, lo_u_mm), min(b, hi_u_mm), min(n + 1, self._k)))
            if b > hi_u_mm:
                out.append((hi_u_mm, b, n))
            cursor = max(cursor, b)
        if cursor < hi_u_mm:
            out.append((cursor, hi_u_mm, 1))
        self._pieces = _merged(sorted(out))

    def proven(self, u_mm: float) -> bool:
        """Whether the centre `u_mm` has `min_views` proofs."""
        i = bisect_right(self._pieces, (u_mm, float("inf"), 0)) - 1
        return i >= 0 and self._pieces[i][1] >= u_mm and self._pieces[i][2] >= self._k

    def judge(self, frontier_u_mm: float) -> list[Stretch]:
        """Move the frontier to `frontier_u_mm` (never back downstream) and return the newly
        judged centres that are not proven, downstream first. Before `start`: starts here."""
        old = self.frontier_u_mm
        if old is None:
            self.frontier_u_mm = frontier_u_mm
            return []
        if frontier_u_mm >= old:
            return []
        self.frontier_u_mm = frontier_u_mm
        blind: list[Stretch] = []
        hi = old
        for a, b, n in reversed(self._pieces):
            if n < self._k or a >= old or b <= frontier_u_mm:
                continue
            if b < hi - EPS_MM:
                blind.append(Stretch(max(b, frontier_u_mm), hi))
            hi = min(hi, a)
            if hi <= frontier_u_mm:
                break
        if hi > frontier_u_mm + EPS_MM:
            blind.append(Stretch(frontier_u_mm, hi))
        # Pieces wholly judged can never matter again.
        self._pieces = [p for p in self._pieces if p[0] < frontier_u_mm]
        return blind


def _merged(pieces: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Join touching pieces of equal count; drop empty ones."""
    out: list[tuple[float, float, int]] = []
    for a, b, n in pieces:
        if b - a <= 0:
            continue
        if out and out[-1][2] == n and abs(out[-1][1] - a) <= EPS_MM:
            out[-1] = (out[-1][0], b, n)
        else:
            out.append((a, b, n))
    return out
