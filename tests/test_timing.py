"""Latency summaries: median, p99 and max in ms from ns samples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantvision.timing import Summary, summarize_ns, throughput_per_s


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], Summary(0.0, 0.0, 0.0, 0)),
        ([2_000_000], Summary(2.0, 2.0, 2.0, 1)),
        ([1_000_000, 3_000_000, 2_000_000], Summary(2.0, 3.0, 3.0, 3)),
        (list(range(1_000_000, 101_000_000, 1_000_000)), Summary(50.5, 100.0, 100.0, 100)),
    ],
)
def test_summary_table(samples: list[int], expected: Summary) -> None:
    """Median, p99 (an observed value, never interpolated below it) and max, in ms."""
    assert summarize_ns(samples) == expected


@given(st.lists(st.integers(0, 10**10), min_size=1, max_size=300))
def test_summary_is_ordered(samples: list[int]) -> None:
    """median <= p99 <= max, and max is the largest sample."""
    s = summarize_ns(samples)
    assert s.median_ms <= s.p99_ms <= s.max_ms
    assert s.max_ms == max(samples) / 1e6


def test_throughput_and_ratio() -> None:
    """Throughput is 1 / median; a ratio divides medians."""
    assert throughput_per_s([10_000_000, 10_000_000]) == pytest.approx(100.0)
    assert throughput_per_s([]) == 0.0
    assert Summary(3.0, 4, 5, 1).ratio_to(Summary(2.0, 2, 2, 1)) == pytest.approx(1.5)
