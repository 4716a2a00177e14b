"""`plantvision distance`: the ISO 13855 minimum distance S, and per stop zone pass/fail.

T is the sum of its parts (see iso13855.ResponseTimeParts); S = K * T + C + Z for the case of
the standard (`--approach`, default floor), Z the position tolerance supplement. With a zone
file that has a floor calibration and a hazard, the calibration's worst point error joins Z, a
vertical-field case is refused for its floor stop zones, and each stop zone's boundary is
checked against S; exit code 1 when any zone fails, so the check can gate a commissioning script.
"""

from __future__ import annotations

import argparse
from typing import Any

from plantvision.errors import ConfigError
from plantvision.guard.iso13855 import (
    Approach,
    ResponseTimeParts,
    Supplement,
    case_problem,
    check_zones,
    min_distance,
)
from plantvision.loop.deployment import SafetyModel
from plantvision.zones.config import load_zone_file

_DEFAULTS = SafetyModel()


def register(sub: Any) -> None:
    p = sub.add_parser("distance", help="ISO 13855 minimum distance and per-zone check")
    p.add_argument("--zones", help="zone file with calibration and hazard_mm (optional)")
    p.add_argument("--frame-period-ms", type=float, required=True, help="camera frame period")
    p.add_argument("--frames-to-decide", type=int, default=2, help="frame periods to a trip")
    p.add_argument("--processing-p99-ms", type=float, default=0.0, help="pipeline p99")
    p.add_argument("--modbus-ms", type=float, default=0.0, help="permit write round trip")
    p.add_argument("--plc-scan-ms", type=float, default=0.0, help="PLC scan (worst case)")
    p.add_argument("--stopping-ms", type=float, required=True, help="machine stopping time")
    p.add_argument(
        "--approach",
        choices=[a.value for a in Approach],
        default=Approach.FLOOR.value,
        help="floor (feet entering a floor zone, the default), body or hand (vertical field)",
    )
    p.add_argument("--d-mm", type=float, help="detection capability (hand approach)")
    p.add_argument(
        "--anchor-offset-mm",
        type=float,
        default=_DEFAULTS.anchor_offset_mm,
        help="how far the leading foot can be ahead of the zone anchor (added to S)",
    )
    p.add_argument(
        "--tolerance-mm", type=float, default=0.0, help="further position tolerance added to S"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    zones = None if args.zones is None else load_zone_file(args.zones)
    if zones is not None and (problem := case_problem(args.approach, zones)) is not None:
        raise ConfigError(args.zones, "--approach", problem, "use --approach floor")
    try:
        parts = ResponseTimeParts(
            args.frame_period_ms,
            args.frames_to_decide,
            args.processing_p99_ms,
            args.modbus_ms,
            args.plc_scan_ms,
            args.stopping_ms,
        )
        cal_mm = 0.0 if zones is None else zones.calibration_error_mm
        z = Supplement(cal_mm, args.anchor_offset_mm, args.tolerance_mm)
        dist = min_distance(parts.total_ms, args.approach, args.d_mm, z)
    except ValueError as exc:
        raise ConfigError("(command line)", "--approach/--*-ms/--*-mm", str(exc)) from None
    print(f"T = {parts.total_ms:.1f} ms")
    print(dist.describe())
    print(f"S = {dist.s_mm:.0f} mm")
    if zones is None:
        return 0
    polys = zones.stop_polygons_mm()
    if not polys or zones.hazard_mm is None:
        raise ConfigError(
            args.zones, "calibration/hazard_mm", "no floor calibration or hazard to check",
            "add calibration and hazard_mm to the zone file",
        )  # fmt: skip
    failed = 0
    for r in check_zones(polys, zones.hazard_mm, dist.s_mm):
        verdict = "PASS" if r.passes else "FAIL"
        why = f": {r.reason}" if r.reason else ""
        print(f"  {verdict} {r.zone_id}: boundary {r.boundary_mm:.0f} mm from hazard{why}")
        failed += not r.passes
    return 1 if failed else 0
