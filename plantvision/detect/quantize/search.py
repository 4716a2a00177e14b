"""The measured search: keep more conv blocks in float, worst first, until the INT8 model decides
like the FP32 one on the search frames. Pure: quantizing and measuring come in as a callable.

Blocks are ranked in more than one order (graph order: the early, high-resolution layers first;
the QDQ loss debugger's: the conv that loses most signal-to-noise first). Attempts keep 0, 1, 2,
4, 8, ... blocks of each order in float (the decode head always is). The search stops at the
first step where an attempt meets the targets and keeps the fastest of that step's passing
attempts: fewest nodes in float. When none passes, the one that agrees best is kept and the
report says it missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from plantvision.detect.quantize.graph import Block


@dataclass(frozen=True, slots=True)
class Attempt:
    """One quantization tried during the search and what it gave on the search frames."""

    order: str
    blocks_in_float: int
    excluded: tuple[str, ...]
    worst_class: float
    zone_agreement_pct: float
    speed_ratio: float


@dataclass(frozen=True, slots=True)
class Targets:
    """What an attempt must reach on the search frames to be accepted."""

    min_class_agreement: float = 0.95
    min_zone_agreement_pct: float = 99.5

    def met(self, a: Attempt) -> bool:
        return (
            a.worst_class >= self.min_class_agreement
            and a.zone_agreement_pct >= self.min_zone_agreement_pct
        )


def ladder(n_blocks: int, max_blocks: int) -> list[int]:
    """0, 1, 2, 4, 8, ... up to min(n_blocks, max_blocks), the last always included."""
    top = min(n_blocks, max_blocks)
    steps = [0]
    k = 1
    while k < top:
        steps.append(k)
        k *= 2
    if top > 0:
        steps.append(top)
    return steps


def search(
    head: Sequence[str],
    orders: Sequence[tuple[str, Sequence[Block]]],
    max_blocks: int,
    targets: Targets,
    attempt: Callable[[str, int, tuple[str, ...]], Attempt],
) -> tuple[Attempt, list[Attempt]]:
    """(chosen attempt, every attempt in order). `attempt(order, k, excluded)` quantizes with
    `excluded` kept in float and measures it; an exclusion set is tried once."""
    tried: list[Attempt] = []
    seen: set[frozenset[str]] = set()
    for k in ladder(max((len(r) for _, r in orders), default=0), max_blocks):
        step = []
        for name, ranked in orders:
            excluded = (*head, *(node for b in ranked[:k] for node in b.nodes))
            if frozenset(excluded) in seen:
                continue
            seen.add(frozenset(excluded))
            step.append(attempt(name, k, excluded))
        tried.extend(step)
        passing = [a for a in step if targets.met(a)]
        if passing:
            return max(passing, key=lambda a: a.speed_ratio), tried
    best = max(tried, key=lambda a: (a.worst_class, a.zone_agreement_pct, a.speed_ratio))
    return best, tried
