"""Belt position over time, from a fixed speed or a wrapping 16- or 32-bit encoder count. Pure.

Positions are mm of belt travel since the first reading (float64, unbounded: the encoder's wrap
is undone here, so nothing downstream ever sees it). Times are `time.monotonic_ns()` values
passed in by the caller.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from plantvision.conveyor.config import BeltModel

COUNT_MODULUS = 1 << 32
# Counts since a start before the speed is measured from it alone: fewer leave the count's own
# step a large part of the speed (a belt that creeps a count at a time is not starting).
START_MIN_COUNTS = 10
# Timestamp slack for the jump test: a reading is stamped at its round trip's midpoint, which
# may be off by up to half a blurred round trip (runtime.MAX_HALF_RTT_NS) each side.
JUMP_SLACK_NS = 6_000_000


COUNT_BITS = (16, 32)  # the encoder register widths the belt unwraps


def wrap_delta(new_count: int, old_count: int, bits: int = 32) -> int:
    """Signed count change between two `bits`-wide readings, assuming less than half a wrap
    apart."""
    half = 1 << (bits - 1)
    return (new_count - old_count + half) % (half << 1) - half


class Belt:
    """Belt travel (mm) at any recent time, current speed, and mm <-> raw encoder count."""

    def __init__(self, cfg: BeltModel, count_bits: int = 32) -> None:
        """`count_bits`: the width of the PLC's encoder register (16 or 32); the count wraps at
        2**count_bits and is unwrapped at that width (a 16-bit count unwrapped as 32-bit read
        65530 -> 4 as 6552 mm backwards)."""
        if count_bits not in COUNT_BITS:
            raise ValueError(f"encoder width {count_bits} bits: the belt unwraps 16 or 32")
        self._count_bits, self._count_modulus = count_bits, 1 << count_bits
        self._fixed_mm_per_ns = None if cfg.speed_mm_s is None else cfg.speed_mm_s / 1e9
        self._min_mm_per_ns = cfg.min_speed_mm_s / 1e9
        enc = cfg.encoder
        self._counts_per_mm = enc.counts_per_mm if enc else 1.0
        self._window_ns = int(enc.speed_window_ms * 1e6) if enc else 0
        self._history_ns = int(enc.history_ms * 1e6) if enc else 0
        self._t0_ns: int | None = None
        self._raw0: int | None = None
        self._last_raw = 0
        self._unwrapped = 0  # counts since the first reading
        self._samples: deque[tuple[int, float]] = deque()  # (t_ns, position_mm)
        self._still_since_ns = 0  # first reading at the newest reading's position
        self._moved_at: tuple[int, float] | None = None  # first reading after a standstill
        self._max_mm_per_ns = cfg.max_speed_mm_s / 1e9
        self._jump_tol_mm = enc.jump_tolerance_mm if enc else 0.0
        self._latency_ns = int(enc.latency_ms * 1e6) if enc else 0
        self.stale_ns = int(enc.stale_ms * 1e6) if enc else 0
        self.discontinuities = 0  # count jumps seen (PLC restart, preset); each re-anchors
        self.last_jump: tuple[int, int, int] | None = None  # (t_ns, count before, count after)

    @property
    def has_encoder(self) -> bool:
        return self._fixed_mm_per_ns is None

    @property
    def ready(self) -> bool:
        """True once positions can be given: after the first reading (of the encoder, if any)."""
        return self._t0_ns is not None and (not self.has_encoder or bool(self._samples))

    def placed(self, t_ns: int) -> bool:
        """A position at `t_ns` is knowledge: the belt is ready and (encoder) `t_ns` is at most
        `encoder.stale_ms` past the newest reading. Beyond that `position_mm` still projects
        at the last speed, but a belt stopped by a PLC whose link is down does not follow it."""
        if not self.ready:
            return False
        return not self.has_encoder or t_ns - self._samples[-1][0] <= self.stale_ns

    def measured_mm(self) -> float | None:
        """Travel at the newest encoder reading, never projected; None without one."""
        return self._samples[-1][1] if self._samples else None

    def newest(self) -> tuple[int, float] | None:
        """The newest encoder reading as taken: (when the count was true, dated back by the
        encoder's latency, ns; travel mm); None without one."""
        return self._samples[-1] if self._samples else None

    def sample(self, now_ns: int, encoder_count: int | None) -> None:
        """Record a reading taken at `now_ns`. Fixed-speed belts ignore the count. The count
        is the belt's position `encoder.latency_ms` before `now_ns` (a PLC scan, an encoder
        card's cycle): it is dated back by that, so positions at any instant stay true."""
        if self._t0_ns is None:
            self._t0_ns = now_ns
        if not self.has_encoder or encoder_count is None:
            return
        now_ns -= self._latency_ns
        if not 0 <= encoder_count < self._count_modulus:
            raise ValueError(
                f"encoder count {encoder_count} is not an unsigned {self._count_bits}-bit value"
            )
        if self._samples and now_ns <= self._samples[-1][0]:
            return  # same instant read twice (observe then update): keep the first
        if self._raw0 is None:
            self._raw0 = self._last_raw = encoder_count
        delta = wrap_delta(encoder_count, self._last_raw, self._count_bits)
        if self._samples and self._is_jump(now_ns - self._samples[-1][0], delta):
            self._reanchor(now_ns, encoder_count)
            return
        self._unwrapped += delta
        self._last_raw = encoder_count
        position_mm = self._unwrapped / self._counts_per_mm
        self._note_start(now_ns, position_mm)
        self._samples.append((now_ns, position_mm))
        while len(self._samples) > 2 and now_ns - self._samples[1][0] > self._history_ns:
            self._samples.popleft()

    def _is_jump(self, dt_ns: int, delta_counts: int) -> bool:
        """A change the belt cannot have made in `dt_ns`: faster than its maximum speed, or
        backwards beyond the tolerance (a 32-bit count reset to 0 unwraps as a step back)."""
        delta_mm = delta_counts / self._counts_per_mm
        ahead_mm = self._max_mm_per_ns * (dt_ns + JUMP_SLACK_NS) + self._jump_tol_mm
        return delta_mm < -self._jump_tol_mm or delta_mm > ahead_mm

    def _reanchor(self, now_ns: int, encoder_count: int) -> None:
        """Take the new count as the belt's last known position: travel stays continuous, the
        history (which would average the jump into the speed) starts again, and counts map
        to positions from the new count on. What the belt really did meanwhile is unknown:
        the scheduler treats every item in flight as unplaced."""
        self.discontinuities += 1
        self.last_jump = (now_ns, self._last_raw, encoder_count)
        self._raw0 = (encoder_count - self._unwrapped) % self._count_modulus
        self._last_raw = encoder_count
        position_mm = self._unwrapped / self._counts_per_mm
        self._samples.clear()
        self._samples.append((now_ns, position_mm))
        self._still_since_ns, self._moved_at = now_ns, None

    def _note_start(self, now_ns: int, position_mm: float) -> None:
        """Remember the first reading that moved after the belt stood still a whole window."""
        if not self._samples:
            self._still_since_ns = now_ns
            return
        t_prev, p_prev = self._samples[-1]
        if position_mm != p_prev:
            if t_prev - self._still_since_ns >= self._window_ns:
                self._moved_at = (now_ns, position_mm)
            self._still_since_ns = now_ns

    def speed_mm_per_ns(self) -> float | None:
        """Current speed (mm/ns): fixed, or measured over the configured window; None if unknown.

        A window reaching back past a start from standstill averages the start away: a belt
        stepping to 1 m/s read 0.7 m/s for a window's length, so rejects near the ejector were
        timed tens of ms late, or not at all within the horizon (the flaky e2e run). Once a
        reading after the first one that moved shows `START_MIN_COUNTS`, the speed is measured
        from that first one (the start lies somewhere before it, so the reading before it would
        still average it in), until the window no longer reaches back past it. One poll interval
        is a short span (more timestamp noise than a window), but each cycle re-times its plans.
        """
        if self._fixed_mm_per_ns is not None:
            return self._fixed_mm_per_ns
        if len(self._samples) < 2:
            return None
        t_last, p_last = self._samples[-1]
        # The newest reading at least a window old, so the span covers the whole window.
        t_first, p_first = self._samples[0]
        for t, p in reversed(self._samples):
            if t_last - t >= self._window_ns:
                t_first, p_first = t, p
                break
        moved = self._moved_at
        if moved is not None and moved[0] > t_first:
            t_moved, p_moved = moved
            if t_last > t_moved and (p_last - p_moved) * self._counts_per_mm >= START_MIN_COUNTS:
                t_first, p_first = moved
        return (p_last - p_first) / (t_last - t_first)

    def is_moving(self) -> bool:
        """True when the belt moves downstream faster than the configured minimum speed."""
        v = self.speed_mm_per_ns()
        return v is not None and v >= self._min_mm_per_ns

    def position_mm(self, t_ns: int) -> float:
        """Travel at `t_ns`: interpolated between readings, extrapolated at the current speed."""
        if self._t0_ns is None:
            raise RuntimeError("Belt.position_mm before any sample")
        if self._fixed_mm_per_ns is not None:
            return (t_ns - self._t0_ns) * self._fixed_mm_per_ns
        if not self._samples:
            raise RuntimeError("encoder belt has no reading yet")
        t_first, p_first = self._samples[0]
        t_last, p_last = self._samples[-1]
        if t_first <= t_ns <= t_last:
            ts = np.fromiter((s[0] for s in self._samples), np.int64, len(self._samples))
            ps = np.fromiter((s[1] for s in self._samples), np.float64, len(self._samples))
            return float(np.interp(t_ns, ts, ps))
        v = self.speed_mm_per_ns() or 0.0
        return p_last + (t_ns - t_last) * v if t_ns > t_last else p_first + (t_ns - t_first) * v

    def read_at(self, t_ns: int) -> float | None:
        """Travel at `t_ns` from real readings on both sides of it (interpolated), never
        projected: None while no reading at or after `t_ns` is in (or `t_ns` precedes the
        history). A fixed-speed belt's position is its configuration: always known."""
        if self._fixed_mm_per_ns is not None or not self._samples:
            return self.position_mm(t_ns) if self.ready else None
        if not self._samples[0][0] <= t_ns <= self._samples[-1][0]:
            return None
        return self.position_mm(t_ns)

    def time_at_mm(self, position_mm: float) -> int | None:
        """When the belt's travel first reached `position_mm`, from the readings (fixed speed:
        the configured motion); None when it is outside the history."""
        if self._t0_ns is None:
            return None
        if self._fixed_mm_per_ns is not None:
            return self._t0_ns + int(position_mm / self._fixed_mm_per_ns)
        ts = np.fromiter((s[0] for s in self._samples), np.int64, len(self._samples))
        ps = np.fromiter((s[1] for s in self._samples), np.float64, len(self._samples))
        i = int(np.searchsorted(ps, position_mm))  # the first reading at or past it
        if i == 0 or i == len(ps):
            return None
        span = ps[i] - ps[i - 1]
        return int(ts[i - 1] + (ts[i] - ts[i - 1]) * (position_mm - ps[i - 1]) / span)

    def lead_reached_ns(self, arrival_mm: float, lead_ns: int, window_ns: int) -> int | None:
        """The first instant in the readings at which the travel plus the lead at the speed of
        the `window_ns` before it reaches `arrival_mm`: the reference PLC program's firing rule
        (plantvision.plc.fifo), replayed on this belt's history to date a PLC's switch-on; None
        while the readings have not reached it. 0.25 ms steps, interpolated between readings."""
        if self._fixed_mm_per_ns is not None:
            v = self._fixed_mm_per_ns
            return self.time_at_mm(arrival_mm - v * lead_ns)
        if len(self._samples) < 2:
            return None
        ts = np.fromiter((s[0] for s in self._samples), np.int64, len(self._samples))
        ps = np.fromiter((s[1] for s in self._samples), np.float64, len(self._samples))
        if ts[-1] - ts[0] <= window_ns:
            return None
        grid = np.arange(ts[0] + window_ns, ts[-1] + 1, 250_000, dtype=np.int64)
        at = np.interp(grid, ts, ps)
        v = np.maximum((at - np.interp(grid - window_ns, ts, ps)) / window_ns, 0.0)
        hit = np.flatnonzero(at + v * lead_ns >= arrival_mm)
        return int(grid[hit[0]]) if len(hit) else None

    def count_at_mm(self, position_mm: float) -> int:
        """The raw (wrapped) encoder count the PLC will read at belt travel `position_mm`."""
        if self._raw0 is None:
            raise RuntimeError("encoder belt has no reading yet")
        return (self._raw0 + round(position_mm * self._counts_per_mm)) % self._count_modulus
