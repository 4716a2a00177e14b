"""Belt position over time, from a fixed speed or a wrapping 32-bit encoder count. Pure.

Positions are mm of belt travel since the first reading (float64, unbounded: the encoder's wrap
is undone here, so nothing downstream ever sees it). Times are `time.monotonic_ns()` values
passed in by the caller.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from plantvision.conveyor.config import BeltModel

COUNT_MODULUS = 1 << 32
_HALF = 1 << 31


def wrap_delta(new_count: int, old_count: int) -> int:
    """Signed count change between two 32-bit readings, assuming less than half a wrap apart."""
    return (new_count - old_count + _HALF) % COUNT_MODULUS - _HALF


class Belt:
    """Belt travel (mm) at any recent time, current speed, and mm <-> raw encoder count."""

    def __init__(self, cfg: BeltModel) -> None:
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

    @property
    def has_encoder(self) -> bool:
        return self._fixed_mm_per_ns is None

    @property
    def ready(self) -> bool:
        """True once positions can be given: after the first reading (of the encoder, if any)."""
        return self._t0_ns is not None and (not self.has_encoder or bool(self._samples))

    def sample(self, now_ns: int, encoder_count: int | None) -> None:
        """Record a reading taken at `now_ns`. Fixed-speed belts ignore the count."""
        if self._t0_ns is None:
            self._t0_ns = now_ns
        if not self.has_encoder or encoder_count is None:
            return
        if not 0 <= encoder_count < COUNT_MODULUS:
            raise ValueError(f"encoder count {encoder_count} is not an unsigned 32-bit value")
        if self._samples and now_ns <= self._samples[-1][0]:
            return  # same instant read twice (observe then update): keep the first
        if self._raw0 is None:
            self._raw0 = self._last_raw = encoder_count
        self._unwrapped += wrap_delta(encoder_count, self._last_raw)
        self._last_raw = encoder_count
        self._samples.append((now_ns, self._unwrapped / self._counts_per_mm))
        while len(self._samples) > 2 and now_ns - self._samples[1][0] > self._history_ns:
            self._samples.popleft()

    def speed_mm_per_ns(self) -> float | None:
        """Current speed (mm/ns): fixed, or measured over the configured window; None if unknown."""
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

    def count_at_mm(self, position_mm: float) -> int:
        """The raw (wrapped 32-bit) encoder count the PLC will read at belt travel `position_mm`."""
        if self._raw0 is None:
            raise RuntimeError("encoder belt has no reading yet")
        return (self._raw0 + round(position_mm * self._counts_per_mm)) % COUNT_MODULUS
