"""`plantvision capture-latency DEPLOYMENT`: a conveyor camera's capture latency, from a belt start.

On site, with the cell able to run (the service holding the permit, or the PLC's jog mode): stop
the belt with a few items whole in the camera's view, start this command, and start the belt
when it says so. It reads the camera through the product's own source and detector and the
encoder over a read-only Modbus connection (it writes nothing to the PLC, and no PLC output
starts a belt: the integrator does), then prints each moving frame's latency (count, median,
p10/p90, spread) and the `source.capture_latency_ms` to set, given the deployment's
`encoder.latency_ms` (plantvision.conveyor.latency says how, and when it refuses). A live
camera only (`camera` or `stream`): a file or a folder has no latency to the belt.
Exit 0: measured; 1: could not measure (the reason and the fix); 2: bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plantvision.commands.check_source import LIVE_KINDS
from plantvision.commands.latency_record import measure_camera
from plantvision.conveyor.latency import Estimate, Limits, estimate
from plantvision.errors import ConfigError
from plantvision.loop.deployment import CameraModel, DeploymentModel, load_deployment


def register(sub: Any) -> None:
    p = sub.add_parser(
        "capture-latency", help="measure a conveyor camera's capture latency from a belt start"
    )
    p.add_argument("deployment", type=Path, help="deployment file")
    p.add_argument("--camera", help="camera id (default: the only conveyor camera)")
    p.add_argument("--seconds", type=float, default=60.0, help="give up after this long")
    p.add_argument("--range-ms", type=float, nargs=2, default=(-50.0, 500.0),
                   metavar=("LO", "HI"), help="latencies considered (default -50 500)")  # fmt: skip
    p.add_argument("--min-speed", type=float, default=100.0,
                   help="frames exposed while the belt ran slower are left out, mm/s")  # fmt: skip
    p.add_argument("--max-spread-ms", type=float, default=40.0,
                   help="refuse when the frames' p10..p90 spread is wider")  # fmt: skip
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    dep = load_deployment(args.deployment)
    index = conveyor_camera(dep, args.deployment, args.camera)
    cam = dep.cameras[index]
    if cam.source.kind not in LIVE_KINDS:
        raise ConfigError(
            str(args.deployment), f"cameras[{index}].source.kind",
            f"a {cam.source.kind} source has no capture latency to the belt",
            "measure on the site's live camera (kind camera or stream)",
        )  # fmt: skip
    lo, hi = args.range_ms
    if not -1000 <= lo < hi <= 2000 or args.min_speed <= 0 or args.seconds <= 0:
        raise ConfigError(
            "(command line)", "--range-ms/--min-speed/--seconds", "out of range",
            "LO < HI within -1000..2000 ms; a positive speed and number of seconds",
        )  # fmt: skip
    limits = Limits(min_latency_ms=lo, max_latency_ms=hi, min_speed_mm_s=args.min_speed,
                    max_spread_ms=args.max_spread_ms)  # fmt: skip
    print(
        f"camera {cam.id}: {cam.source.kind} {cam.source.uri}; stop the belt with a few items "
        "whole in view (farther apart than the belt travels in the latency range)",
        flush=True,
    )

    def standing(items: int) -> None:
        print(f"belt standing, {items} item(s) in view: START THE BELT NOW", flush=True)

    rec = measure_camera(dep, args.deployment, index, seconds=args.seconds, limits=limits,
                         on_standing=standing)  # fmt: skip
    est = estimate(rec.track, rec.frames, limits)
    for line in report(est, index, cam, blurred=rec.blurred):
        print(line)
    return 0


def conveyor_camera(dep: DeploymentModel, file: Path, camera_id: str | None) -> int:
    """The index of the camera to measure: `camera_id`, or the only one over an encoder belt."""
    ids = [c.id for c in dep.cameras]
    if camera_id is not None and camera_id not in ids:
        raise ConfigError(str(file), "cameras[].id", f"no camera {camera_id!r}",
                          f"give one of {ids} to --camera")  # fmt: skip
    fits = [i for i, c in enumerate(dep.cameras)
            if c.conveyor is not None and c.conveyor.belt.encoder is not None
            and camera_id in (None, c.id)]  # fmt: skip
    if camera_id is not None and not fits:
        raise ConfigError(str(file), f"cameras[{ids.index(camera_id)}].conveyor.belt.encoder",
                          f"camera {camera_id!r} watches no belt with an encoder",
                          "the latency is measured against the belt's encoder count")  # fmt: skip
    if len(fits) != 1:
        raise ConfigError(str(file), "cameras[].conveyor.belt.encoder",
                          f"{len(fits)} cameras watch a belt with an encoder",
                          "name one with --camera" if fits else "give a conveyor camera an "
                          "encoder belt")  # fmt: skip
    return fits[0]


def report(est: Estimate, index: int, cam: CameraModel, blurred: int = 0) -> list[str]:
    """The figures and the value to set (a negative figure: the encoder's latency is short)."""
    assert cam.conveyor is not None
    assert cam.conveyor.belt.encoder is not None
    enc_ms = cam.conveyor.belt.encoder.latency_ms
    now_ms = cam.source.capture_latency_ms
    left = ", ".join(f"{k} {v}" for k, v in sorted(est.left_out.items())) or "none"
    lines = [
        f"standing: {est.standing_frames} frames, {est.items} items; match tolerance "
        f"{est.tol_mm:.1f} mm; encoder readings left out (blurred): {blurred}",
        f"moving frames measured: {len(est.frames)} (left out: {left}); belt "
        f"{est.speed_mm_s:.0f} mm/s",
        f"latency per frame (exposure to stamp, on the encoder's time line with "
        f"encoder.latency_ms {enc_ms:g}): median {est.median_ms:.1f} ms, p10 {est.p10_ms:.1f}, "
        f"p90 {est.p90_ms:.1f}, spread {est.spread_ms:.1f} ms",
    ]
    value = round(est.median_ms)
    field = f"cameras[{index}].source.capture_latency_ms"
    if value < 0:
        return [*lines, f"set {field}: 0 and raise cameras[{index}].conveyor.belt.encoder."
                f"latency_ms to {enc_ms - value:g} (the encoder's count is {-value} ms older "
                "than the deployment says; then measure again)"]  # fmt: skip
    off_mm = abs(value - now_ms) * est.speed_mm_s / 1000
    return [*lines, f"set {field}: {value} (now {now_ms:g}: items placed {off_mm:.0f} mm off at "
            f"{est.speed_mm_s:.0f} mm/s)"]  # fmt: skip
