"""`plantvision distance`: the ISO 13855 minimum distance S, and per stop zone pass/fail.

T is the sum of its parts (see iso13855.ResponseTimeParts). With a zone file that has a floor
calibration and a hazard, each stop zone's boundary is checked against S; exit code 1 when any
zone fails, so the check can gate a commissioning script.
"""

from __future__ import annotations

import argparse
from typing import Any

from plantvision.errors import ConfigError
from plantvision.guard.iso13855 import Approach, ResponseTimeParts, check_zones, min_distance_mm
from plantvision.zones.config import load_zone_file


def register(sub: Any) -> None:
    p = sub.add_parser("distance", help="ISO 13855 minimum distance and per-zone check")
    p.add_argument("--zones", help="zone file with calibration and hazard_mm (optional)")
    p.add_argument("--frame-period-ms", type=float, required=True, help="camera frame period")
    p.add_argument("--frames-to-decide", type=int, default=2, help="frame periods to a trip")
    p.add_argument("--processing-p99-ms", type=float, default=0.0, help="pipeline p99")
    p.add_argument("--modbus-ms", type=float, default=0.0, help="permit write round trip")
    p.add_argument("--plc-scan-ms", type=float, default=0.0, help="PLC scan (worst case)")
    p.add_argument("--stopping-ms", type=float, required=True, help="machine stopping time")
    p.add_argument("--approach", choices=[a.value for a in Approach], default="body")
    p.add_argument("--d-mm", type=float, help="detection capability (hand approach)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        parts = ResponseTimeParts(
            args.frame_period_ms,
            args.frames_to_decide,
            args.processing_p99_ms,
            args.modbus_ms,
            args.plc_scan_ms,
            args.stopping_ms,
        )
        s_mm = min_distance_mm(parts.total_ms, args.approach, args.d_mm)
    except ValueError as exc:
        raise ConfigError("(command line)", "--approach/--*-ms", str(exc)) from None
    print(f"T = {parts.total_ms:.1f} ms ({args.approach} approach)")
    print(f"S = {s_mm:.0f} mm")
    if args.zones is None:
        return 0
    zones = load_zone_file(args.zones)
    polys = zones.stop_polygons_mm()
    if not polys or zones.hazard_mm is None:
        raise ConfigError(
            args.zones, "calibration/hazard_mm", "no floor calibration or hazard to check",
            "add calibration and hazard_mm to the zone file",
        )  # fmt: skip
    failed = 0
    for r in check_zones(polys, zones.hazard_mm, s_mm):
        verdict = "PASS" if r.passes else "FAIL"
        note = "" if r.surrounds_hazard else " (zone does not surround the hazard)"
        print(f"  {verdict} {r.zone_id}: boundary {r.boundary_mm:.0f} mm from hazard{note}")
        failed += not r.passes
    return 1 if failed else 0
