"""The verdict table, the ISO 13855 distance from the measured T, and the JSON report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plantvision.guard.iso13855 import check_zones
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
            rows.append((r.name, v.status, v.deadline, _fmt(v.limit),
                         _fmt(v.measured), _fmt(v.margin), v.detail))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:6], widths, strict=True)]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    return "\n".join(lines)


def vision_t_ms(results: Sequence[ScenarioResult]) -> float | None:
    """The slowest zone response the verifier timed, from its own truth: a worker's feet
    entering the zone (scene geometry) to the machine stopping at the PLC simulator. Never a
    figure the box reports about itself, and never a row's `measured`, which for an entry during
    a fault subtracts the extra time the fault's bound grants. inf when an entry was missed (the
    machine ran on); None when no entry was timed."""
    rows = [v for r in results for run in r.runs for v in run if v.kind == "zone"]
    if any(v.measured is not None and math.isinf(v.measured) for v in rows):
        return math.inf
    values = [x for v in rows for x in v.samples]
    return max(values) if values else None


def iso_lines(t_vision_ms: float | None, safety: SafetyModel, zones: CompiledZones) -> list[str]:
    """S = K * T + C + Z with T = the verifier's slowest entry -> stopped (`vision_t_ms`) + PLC
    scan + machine stopping time; each
    stop zone judged as `check` and `distance` judge it (iso13855.ZoneDistance)."""
    if t_vision_ms is None:
        return ["ISO 13855: no zone entry was measured, so no T"]
    if math.isinf(t_vision_ms):
        return ["ISO 13855: a zone entry was missed (the machine ran on): T is unbounded, no S"]
    t_total = t_vision_ms + safety.plc_scan_ms + safety.stopping_time_ms
    dist = safety.min_distance(t_total, zones.calibration_error_mm)
    out = [
        f"T = {t_vision_ms:.1f} ms measured by the verifier (scene truth: entry -> run stopped "
        f"at the PLC simulator) + "
        f"{safety.plc_scan_ms:g} ms PLC scan + {safety.stopping_time_ms:g} ms stopping = "
        f"{t_total:.1f} ms; {dist.describe()}"
    ]
    polys, hazard = zones.stop_polygons_mm(), zones.hazard_mm
    if polys and hazard is not None:
        for d in check_zones(polys, hazard, dist.s_mm):
            verdict = "keeps S" if d.passes else f"does NOT keep S: FAIL, {d.reason}"
            out.append(f"  zone {d.zone_id}: boundary {d.boundary_mm:.0f} mm from the hazard, "
                       f"{verdict}")  # fmt: skip
    return out


def to_json(results: Sequence[ScenarioResult], iso: list[str]) -> dict[str, Any]:
    def verdict(v: Verdict) -> dict[str, Any]:
        m = v.measured
        return {
            "deadline": v.deadline,
            "kind": v.kind,
            "passed": v.passed,
            "exercised": v.exercised,
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
