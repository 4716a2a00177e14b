"""`plantvision zones ZONEFILE`: validate a zone file and print its zones; `--bench` times them.
`plantvision zones edit ZONEFILE (--image FILE | --deployment D --camera C)`: draw them in a
local page over a picture (plantvision/face/editor.py).

The benchmark evaluates 20 zones against 100 detections per frame (the worst case we plan for)
and prints the evaluation time per frame: median, p99 and max.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from plantvision.types import Detections
from plantvision.zones.config import load_zone_file
from plantvision.zones.geometry import Anchor, CompiledZones, ZoneKind, ZoneSpec


def register(sub: Any) -> None:
    p = sub.add_parser(
        "zones",
        help="validate a zone file and print its zones; 'zones edit ZONEFILE' draws them",
        usage="%(prog)s [-h] [ZONEFILE] [--bench] | edit ZONEFILE "
        "(--image FILE | --deployment D --camera C) [--port N]",
    )
    p.add_argument("zonefile", nargs="?", help="zones/*.yaml to validate and print, or 'edit'")
    p.add_argument("edit_file", nargs="?", metavar="ZONEFILE", help=argparse.SUPPRESS)
    p.add_argument("--image", type=Path, help="edit: the picture to draw over")
    p.add_argument("--deployment", type=Path, help="edit: grab the picture from this deployment")
    p.add_argument("--camera", help="edit: ...from this camera of it")
    p.add_argument("--port", type=int, default=0, help="edit: loopback port (default: any free)")
    p.add_argument(
        "--bench", action="store_true", help="time evaluation of 20 zones x 100 detections"
    )
    p.add_argument("--frames", type=int, default=5000, help="benchmark iterations")
    p.set_defaults(handler=run)


def describe(z: CompiledZones) -> list[str]:
    lines = [f"{z.source}: ok, sha256 {z.sha256}"]
    if z.frame_size is not None:
        lines.append(f"  frame size {z.frame_size[0]}x{z.frame_size[1]} px")
    else:
        lines.append("  normalised coordinates (any resolution)")
    lines.append(f"  floor calibration: {'yes' if z.image_to_floor_mm is not None else 'no'}")
    for s in z.zones:
        hold = f", hold {s.hold_ms} ms" if s.hold_ms is not None else ""
        lines.append(
            f"  {s.kind.value:4} {s.id}: {len(s.polygon)} points, classes {','.join(s.classes)}, "
            f"min conf {s.min_confidence:g}, anchor {s.anchor.value}{hold}"
        )
    for m in z.masks:
        lines.append(f"  mask {m.id}: {len(m.polygon)} points, anchor {m.anchor.value}")
    return lines


def bench_zones(
    n_zones: int = 20, n_boxes: int = 100, seed: int = 0
) -> tuple[CompiledZones, Detections]:
    """Random octagonal zones (half stop, half warn) and random person boxes, 1280x720."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    zones = []
    for i in range(n_zones):
        cx, cy = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.05, 0.2)
        poly = np.c_[cx + r * np.cos(angles), cy + r * np.sin(angles)]
        kind = ZoneKind.STOP if i % 2 == 0 else ZoneKind.WARN
        zones.append(ZoneSpec(f"z{i}", kind, poly, min_confidence=0.3, anchor=Anchor.BOTTOM_CENTER))
    xy = rng.uniform(0, 1200, (n_boxes, 2))
    wh = rng.uniform(20, 200, (n_boxes, 2))
    det = Detections.from_arrays(
        np.c_[xy, np.minimum(xy + wh, [1280, 720])],
        rng.uniform(0.3, 1.0, n_boxes),  # worst case: every box qualifies by score and class
        np.zeros(n_boxes, np.int32),
        ("person", "car"),
    )
    return CompiledZones(tuple(zones)), det


def bench(frames: int) -> list[str]:
    zones, det = bench_zones()
    for _ in range(200):  # warm caches (class table, prepared geometry)
        zones.evaluate(det, 1280, 720)
    times_ns = np.empty(frames, np.int64)
    for i in range(frames):
        t0 = time.perf_counter_ns()
        zones.evaluate(det, 1280, 720)
        times_ns[i] = time.perf_counter_ns() - t0
    ms = times_ns / 1e6
    return [
        f"zone evaluation, {len(zones.zones)} zones x {len(det)} detections, {frames} frames:",
        f"  median {np.median(ms):.4f} ms  p99 {np.percentile(ms, 99):.4f} ms"
        f"  max {ms.max():.4f} ms",
    ]


def run(args: argparse.Namespace) -> int:
    if args.zonefile == "edit":
        from plantvision.commands.zone_edit import edit

        return edit(args)
    if args.edit_file is not None:
        print(f"plantvision zones: unexpected {args.edit_file!r} (did you mean 'zones edit'?)")
        return 2
    if args.zonefile is None and not args.bench:
        print("plantvision zones: give a ZONEFILE or --bench")
        return 2
    if args.zonefile is not None:
        print("\n".join(describe(load_zone_file(args.zonefile))))
    if args.bench:
        print("\n".join(bench(args.frames)))
    return 0
