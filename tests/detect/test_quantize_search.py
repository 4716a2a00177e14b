"""The measured search keeps the fewest blocks in float that reach the targets."""

from __future__ import annotations

import pytest

from plantvision.detect.quantize.graph import Block
from plantvision.detect.quantize.search import Attempt, Targets, ladder, search

BLOCKS = tuple(Block(f"c{i}", (f"c{i}", f"s{i}")) for i in range(6))


@pytest.mark.parametrize(
    ("n", "most", "steps"),
    [(6, 8, [0, 1, 2, 4, 6]), (6, 4, [0, 1, 2, 4]), (6, 3, [0, 1, 2, 3]), (6, 0, [0]), (0, 8, [0])],
)
def test_ladder_doubles_up_to_the_limit(n: int, most: int, steps: list[int]) -> None:
    assert ladder(n, most) == steps


def _fake(passes_at: dict[str, int], speed: dict[str, float]) -> object:
    calls: list[tuple[str, int]] = []

    def attempt(order: str, k: int, excluded: tuple[str, ...]) -> Attempt:
        calls.append((order, k))
        ok = k >= passes_at.get(order, 99)
        return Attempt(order, k, excluded, 1.0 if ok else 0.8, 100.0 if ok else 90.0,
                       speed[order] - 0.01 * k)  # fmt: skip

    attempt.calls = calls  # type: ignore[attr-defined]
    return attempt


def test_search_stops_at_the_first_step_that_passes_and_keeps_the_faster() -> None:
    """Both orders pass at two blocks: the faster one wins and nothing beyond is tried."""
    attempt = _fake({"a": 2, "b": 2}, {"a": 1.4, "b": 1.6})
    orders = [("a", BLOCKS), ("b", BLOCKS[::-1])]
    chosen, tried = search(("h",), orders, 8, Targets(), attempt)  # type: ignore[arg-type]
    assert (chosen.order, chosen.blocks_in_float) == ("b", 2)
    assert chosen.excluded == ("h", "c5", "s5", "c4", "s4")
    assert [(a.order, a.blocks_in_float) for a in tried] == [
        ("a", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2),
    ]  # fmt: skip  # k=0 is the same set for both orders: tried once


def test_search_that_never_passes_keeps_the_best_and_says_so() -> None:
    """No attempt reaches the targets: the best-agreeing one is returned, not a pass."""
    attempt = _fake({}, {"a": 1.5})
    chosen, tried = search(("h",), [("a", BLOCKS)], 2, Targets(), attempt)  # type: ignore[arg-type]
    assert len(tried) == 3
    assert not Targets().met(chosen)
