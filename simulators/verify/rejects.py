"""Reject verdicts from the PLC simulator's pulse log and the belt's truth. Pure: no clock.

Inputs:
- `pulses`: the simulator's pulse log (simulators.plc.conveyor): per ejector pulse its ejector
  index, the item the paddle met, that item's offset from the ideal instant (`error_ms`, actual
  minus ideal, positive: late) and whether it went into the bin;
- `defective` / `good`: the items that passed under the camera whole and then past the ejector
  while the run lasted (the only ones the box could and had to act on).

A defect is hit when some pulse put it in the bin; its timing error is that pulse's `error_ms`
(the smallest |error| when several pushed it); one only swept in by a pulse held over it (a
long or merged pulse) is hit with no timing error. A defect no pulse binned is a miss, with
the error of the nearest pulse that met it, if any. A good item in the bin is a false reject,
whether the paddle met it at the push or swept it while it was out (`swept`). An item that
more than one pulse met was pushed twice (the same item seen in several frames, or one verdict
written twice, must still be rejected once).

`unseen`: the items that passed the ejector but that no grabbed frame showed whole (a camera
stall; at start-up, the belt between camera and ejector). Reject unless proven good: the box
must bin them, good or not, so a good one in the bin is no false reject (nor one to announce);
with `unjudged_rejected`, every one of them must be in the bin. A range pulse (PLC-timed, the
coil held from one count to another over a blind segment: the log's `end_count`) aims at belt,
not at an item: what it bins, the item it met at its start included, counts as swept in (no
timing error, no second push).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from simulators.verify.analysis import Verdict


@dataclass(frozen=True, slots=True)
class RejectBound:
    """One ejector's bound: `index` is its output (the pulse log's `ejector`)."""

    ejector: str
    index: int
    window_ms: float
    min_defects: int = 1


@dataclass(frozen=True, slots=True)
class DefectOutcome:
    item: int
    ejector: int | None  # the output whose pulse met it; None: no pulse met it
    hit: bool
    error_ms: float | None


def defect_outcomes(
    pulses: Sequence[Mapping[str, Any]], defective: Set[int]
) -> list[DefectOutcome]:
    """Per defective item (sorted): hit or miss, by which output, with which timing error."""
    met: dict[int, list[Mapping[str, Any]]] = {}
    swept: dict[int, int] = {}  # defect -> the output whose paddle, held out, swept it in
    for p in pulses:
        item = p.get("item")
        if _is_range(p) and p.get("binned") and item is not None:
            swept.setdefault(int(item), int(p["ejector"]))
        elif item is not None and int(item) in defective:
            met.setdefault(int(item), []).append(p)
        for sw in p.get("swept", ()):
            swept.setdefault(int(sw["item"]), int(p["ejector"]))
    out = []
    for item in sorted(defective):
        hits = [p for p in met.get(item, []) if p.get("binned")]
        near = hits or met.get(item, [])
        if not hits and item in swept:  # binned by a pulse held (or merged) over it: no error
            out.append(DefectOutcome(item, swept[item], True, None))
            continue
        if not near:
            out.append(DefectOutcome(item, None, False, None))
            continue
        best = min(near, key=lambda p: abs(_err(p)))
        out.append(DefectOutcome(item, int(best["ejector"]), bool(hits), _err(best)))
    return out


def _is_range(p: Mapping[str, Any]) -> bool:
    return p.get("end_count") is not None


def _err(p: Mapping[str, Any]) -> float:
    e = p.get("error_ms")
    return math.inf if e is None else float(e)


def reject_verdict(outcomes: Sequence[DefectOutcome], bound: RejectBound) -> Verdict:
    """Every defect this ejector met was binned with |error| within the window. A defect no
    pulse met at all is charged to every ejector (the verifier cannot tell whose it was)."""
    name = f"reject {bound.ejector}: |pulse error| <= {bound.window_ms:g} ms"
    mine = [o for o in outcomes if o.ejector in (bound.index, None)]
    missed = [o for o in mine if not o.hit]
    errors = [abs(o.error_ms) for o in mine if o.hit and o.error_ms is not None]
    if missed:
        items = ", ".join(str(o.item) for o in missed)
        why = f"MISSED {len(missed)} of {len(mine)} defects (items {items})"
        return Verdict(name, "reject", bound.window_ms, math.inf, False, why, tuple(errors))
    if len(mine) < bound.min_defects:
        why = f"NOT EXERCISED: {len(mine)} defects passed, expected at least {bound.min_defects}"
        return Verdict(name, "reject", bound.window_ms, None, False, why)
    if not mine:
        return Verdict(name, "reject", bound.window_ms, None, True, "no defect passed")
    timed = [o for o in mine if o.error_ms is not None]  # not those only swept in
    if not timed:
        why = f"{len(mine)} defects binned, each only swept in by a held pulse (no timing)"
        return Verdict(name, "reject", bound.window_ms, None, True, why)
    worst = max(timed, key=lambda o: abs(o.error_ms or 0.0))
    w = abs(worst.error_ms or 0.0)
    detail = f"{len(mine)} defects binned, worst {worst.error_ms:+.1f} ms (item {worst.item})"
    if len(timed) < len(mine):
        detail += f", {len(mine) - len(timed)} swept in by a held pulse"
    if w > bound.window_ms:
        side = "LATE" if (worst.error_ms or 0.0) > 0 else "EARLY"
        detail += f": {side} by {w - bound.window_ms:.1f} ms"
    return Verdict(name, "reject", bound.window_ms, w, w <= bound.window_ms, detail, tuple(errors))


def false_rejects(pulses: Sequence[Mapping[str, Any]], good: Set[int] | None = None) -> list[int]:
    """Good items in the bin (sorted), pushed at the push or swept while the paddle was out;
    with `good`, only those among them."""
    binned = {
        int(p["item"])
        for p in pulses
        if p.get("binned") and not p.get("defective") and p.get("item") is not None
    }
    binned |= {int(s["item"]) for p in pulses for s in p.get("swept", ()) if not s["defective"]}
    return sorted(binned if good is None else binned & set(good))


def pushed_twice(pulses: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Items (sorted) that more than one pulse met, with how many pulses met each."""
    counts: dict[int, int] = {}
    for p in pulses:
        if p.get("item") is not None and not _is_range(p):
            counts[int(p["item"])] = counts.get(int(p["item"]), 0) + 1
    return {i: n for i, n in sorted(counts.items()) if n > 1}


def pushes_verdict(pulses: Sequence[Mapping[str, Any]]) -> Verdict:
    twice = pushed_twice(pulses)
    detail = f"{len(pulses)} pulses, none met an item twice"
    if twice:
        detail = "PUSHED TWICE: " + ", ".join(f"item {i} x{n}" for i, n in twice.items())
    return Verdict("pushes: each item pushed at most once", "pushes", 0.0, float(len(twice)),
                   not twice, detail, exercised=bool(pulses))  # fmt: skip


def announced_verdict(
    pulses: Sequence[Mapping[str, Any]], announced: int, unseen: Set[int] = frozenset()
) -> Verdict:
    """No silent false reject: the good items in the bin (the simulator's truth), less the
    `unseen` ones, are no more than the neighbours the box named in its `reject_hits_neighbour`
    alarms (a count: the box's item ids are its own). Not exercised when no such item went into
    the bin."""
    bad = sorted(set(false_rejects(pulses)) - unseen)
    detail = f"{len(bad)} good items in the bin, {announced} neighbours announced by the box"
    if len(bad) > announced:
        detail = f"SILENT: {detail}"
    return Verdict("false rejects announced (reject_hits_neighbour)", "false_rejects",
                   float(announced), float(len(bad)), len(bad) <= announced, detail,
                   exercised=bool(bad))  # fmt: skip


def in_bin(pulses: Sequence[Mapping[str, Any]]) -> set[int]:
    """Every item in the bin: pushed, or swept while the paddle was out."""
    pushed = {int(p["item"]) for p in pulses if p.get("binned") and p.get("item") is not None}
    return pushed | {int(s["item"]) for p in pulses for s in p.get("swept", ())}


def unjudged_verdict(pulses: Sequence[Mapping[str, Any]], unjudged: Set[int]) -> Verdict:
    """Every item no frame showed whole, that passed the ejector, is in the bin."""
    left = sorted(set(unjudged) - in_bin(pulses))
    detail = f"{len(unjudged)} items passed unseen, all in the bin"
    if left:
        detail = (
            f"PASSED UNJUDGED: {len(left)} of {len(unjudged)} (items "
            + ", ".join(str(i) for i in left)
            + ")"
        )
    return Verdict("unjudged items rejected", "unjudged", 0.0, float(len(left)), not left,
                   detail, exercised=bool(unjudged))  # fmt: skip


def analyse_rejects(
    pulses: Sequence[Mapping[str, Any]],
    defective: Set[int],
    bounds: Sequence[RejectBound],
    false_rejects_max: int,
    announced: int | None = None,
    unseen: Set[int] = frozenset(),
    unjudged_rejected: bool = False,
) -> list[Verdict]:
    """One verdict per ejector bound, the false-reject count (every good item binned but the
    `unseen` ones), with any bound, each item pushed at most once, and with `announced` (the
    neighbours the box's alarms named), that no false reject went unannounced; with
    `unjudged_rejected`, that each unseen item is in the bin."""
    outcomes = defect_outcomes(pulses, defective)
    out = [reject_verdict(outcomes, b) for b in bounds]
    bad = sorted(set(false_rejects(pulses)) - unseen)
    detail = "none" if not bad else "items " + ", ".join(str(i) for i in bad)
    out.append(
        Verdict(
            f"false rejects <= {false_rejects_max}",
            "false_rejects",
            float(false_rejects_max),
            float(len(bad)),
            len(bad) <= false_rejects_max,
            detail,
        )
    )
    if bounds:  # judged with the reject deadlines (a scenario about something else skips it)
        out.append(pushes_verdict(pulses))
    if announced is not None:
        out.append(announced_verdict(pulses, announced, unseen))
    if unjudged_rejected:
        out.append(unjudged_verdict(pulses, unseen))
    return out
