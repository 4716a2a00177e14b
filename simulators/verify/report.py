"""The verdict table, the ISO 13855 distance from the measured T, and the JSON report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plantvision.guard.iso13855 import check_zones, min_distance_mm
from plantvision.loop.deployment import SafetyModel
from plantvision.zones.geometry import CompiledZones
from simulators.verify.analysis import Verdict


@dataclass(frozen=True)
class ScenarioResult:
    """Every run of one scenario (several under Monte-Carlo), judged together."""

    name: str
    description: str
    runs: list[list[Verdict]]
    infos: list[dict[str, Any]]
    safety: SafetyModel
    zones: CompiledZones

    @property
    def passed(self) -> bool:
        return all(v.passed for run in self.runs for v in run)

    def worst(self) -> list[Verdict]:
        """Per deadline, the verdict with the least margin over all runs (a fail wins)."""
        by_name: dict[str, Verdict] = {}
        for run in self.runs:
            for v in run:
                cur = by_name.get(v.deadline)
                if cur is None or _rank(v) < _rank(cur):
                    by_name[v.deadline] = v
        return list(by_name.values())


def _rank(v: Verdict) -> tuple[int, float]:
    margin = v.margin
    return (0 if not v.passed else 1, math.inf if margin is None else margin)


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) else f"{x:.1f}"


def verdict_table(results: Sequence[ScenarioResult]) -> str:
    """One line per deadline: scenario, verdict, limit, worst measured, margin, detail."""
    rows = [("scenario", "verdict", "deadline", "limit", "worst", "margin", "detail")]
    for r in results:
        for v in r.worst():
            rows.append((r.name, "PASS" if v.passed else "FAIL", v.deadline, _fmt(v.limit),
                         _fmt(v.measured), _fmt(v.margin), v.detail))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:6], widths, strict=True)]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    return "\n".join(lines)


def vision_t_ms(results: Sequence[ScenarioResult]) -> float | None:
    """The worst measured zone response (entry -> machine stopped by the box's write)."""
    values = [
        v.measured
        for r in results
        for run in r.runs
        for v in run
        if v.kind == "zone" and v.measured is not None and math.isfinite(v.measured)
    ]
    return max(values) if values else None


def iso_lines(t_vision_ms: float | None, safety: SafetyModel, zones: CompiledZones) -> list[str]:
    """S = K * T + C with T = measured vision T + PLC scan + machine stopping time."""
    if t_vision_ms is None:
        return ["ISO 13855: no zone entry was measured, so no T"]
    t_total = t_vision_ms + safety.plc_scan_ms + safety.stopping_time_ms
    s_mm = min_distance_mm(t_total, safety.approach, safety.d_mm)
    out = [
        f"ISO 13855 ({safety.approach}): T = {t_vision_ms:.1f} ms measured (entry -> permit off "
        f"at the PLC) + {safety.plc_scan_ms:g} ms PLC scan + {safety.stopping_time_ms:g} ms "
        f"stopping = {t_total:.1f} ms; S = {s_mm:.0f} mm"
    ]
    polys, hazard = zones.stop_polygons_mm(), zones.hazard_mm
    if polys and hazard is not None:
        for d in check_zones(polys, hazard, s_mm):
            verdict = "keeps" if d.passes and d.surrounds_hazard else "does NOT keep"
            out.append(f"  zone {d.zone_id}: boundary {d.boundary_mm:.0f} mm from the hazard, "
                       f"{verdict} S")  # fmt: skip
    return out


def to_json(results: Sequence[ScenarioResult], iso: list[str]) -> dict[str, Any]:
    def verdict(v: Verdict) -> dict[str, Any]:
        m = v.measured
        return {
            "deadline": v.deadline,
            "kind": v.kind,
            "passed": v.passed,
            "limit": v.limit,
            "measured": None if m is None or math.isinf(m) else m,
            "missed": m is not None and math.isinf(m),
            "margin": None if v.margin is None or math.isinf(v.margin) else v.margin,
            "detail": v.detail,
            "samples": list(v.samples),
        }

    return {
        "passed": all(r.passed for r in results),
        "iso13855": iso,
        "scenarios": [
            {
                "name": r.name,
                "description": r.description,
                "passed": r.passed,
                "worst": [verdict(v) for v in r.worst()],
                "runs": [
                    {"verdicts": [verdict(v) for v in run], "info": info}
                    for run, info in zip(r.runs, r.infos, strict=True)
                ],
            }
            for r in results
        ],
    }
