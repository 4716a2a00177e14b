"""Ejector pulse figures from the whole cell over loopback: `python -m simulators.plc.pulse_bench`.

For each timing mode it runs the rig (scene camera, plantvision's loop, PLC simulator) and prints
median / p99 / max of:
- pulse timing error at the simulator: coil on minus the instant aimed at (box: the plan's fire
  time, so it holds the timer and the Modbus write; PLC: when the encoder plus the entry's lead
  reached its arrival count, so it holds the PLC scan);
- position error: the item's true offset from the ejector at the push, as ms at belt speed
  (everything: vision, belt estimate, timing);
- box only: the ejector timer's own switch-on error.
Then it raises the belt speed until a run misses a defective item or bins a good one, for the
given camera-to-ejector distance, and prints the highest speed with zero misses.

With `--capture-ms`, `--encoder-ms` or `--output-ms` the simulated cell has those latencies (a
frame stamped after its exposure, an encoder register behind the counter, a push later than the
coil), and each mode runs twice: with the deployment not told of them (all 0, as before issue 15
item 4) and told (source.capture_latency_ms, encoder.latency_ms, output_latency_ms).

With `--ramp-ms` the belt accelerates linearly to its speed after each start (a real drive does),
and the figures add the pushes aimed at items (not ranges over blind belt) made while it still
ramped up.

With `--loaded DELAY_MS` it measures box-timed pulses under a loaded loop instead: the belt
camera writes its image every cycle at `--fps` and the PLC answers each image write DELAY_MS
late (simulators.plc.pulse_loaded); `--compare-with CHECKOUT` runs the same measurement on
another checkout's product (e.g. `git worktree add /tmp/main main`), interleaved run by run.

With `--network` it runs box-timed rejection behind a network camera (MJPEG over HTTP, read by
the box's `stream` source, the real ONNX detector) at `--speeds-mm-s`, frames dated at arrival
and by the camera's stamps (source.frame_stamps), each with capture_latency_ms set to the latency
measured through the same reader (simulators.plc.pulse_network).
The PLC simulator and the camera run in a process of their own (`--plant process`, the default),
in the box's process (`thread`), or `both`, taking turns run by run.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from simulators.plc.pulse_figures import stats
from simulators.plc.pulse_loaded import LoadedSpec, compare
from simulators.plc.pulse_network import network_figures
from simulators.plc.rig import RigResult, RigSpec, run_rig
from simulators.plc.rig_spec import PlantWhere

SWEEP_MM_S = (200.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 5000.0)


def _quiet() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40),  # errors only
        cache_logger_on_first_use=False,
    )


def _run(spec: RigSpec) -> RigResult:
    with tempfile.TemporaryDirectory() as folder:
        return run_rig(spec, Path(folder))


def timing_figures(
    mode: str,
    speed_mm_s: float,
    belt_s: float,
    model: Path | None,
    defect_rate: float,
    latencies: dict[str, Any] | None = None,
    ramp_ms: float = 0.0,
) -> list[str]:
    """`latencies`: RigSpec's capture_ms, encoder_ms, output_ms and told, if any."""
    lat = latencies or {}
    spec = RigSpec(speed_mm_s, mode, belt_s=belt_s, model=model, defect_rate=defect_rate,  # type: ignore[arg-type]
                   ramp_ms=ramp_ms, **lat)  # fmt: skip
    res = _run(spec)
    told = "" if not lat else (" (latencies told)" if lat.get("told") else " (latencies NOT told)")
    lines = [
        f"{mode}-timed at {speed_mm_s / 1000:.1f} m/s{told}: {len(res.pulses)} pulses, "
        f"missed {len(res.missed)}, good rejected {len(res.good_rejected)}",
        "  " + stats("pulse timing error at the simulator", res.timing_errors_ms()),
        "  " + stats("item position error at the push", res.position_errors_ms()),
    ]
    if ramp_ms > 0:
        # Pushes aimed at items (not ranges over blind belt) while the belt still ramped up.
        rising = [p["error_ms"] for p in res.pulses if p.get("error_ms") is not None
                  and "end_count" not in p and not res.aims_unseen(p)
                  and p.get("speed_mm_s", speed_mm_s) < 0.99 * speed_mm_s]  # fmt: skip
        lines.append("  " + stats("  of which pushed while the belt still ramped up", rising))
    if res.timer_errors_ns:
        lines.append(
            "  " + stats("ejector timer switch-on error", [e / 1e6 for e in res.timer_errors_ns])
        )
    return lines


def zero_miss_speed(mode: str, ejector_mm: float, model: Path | None) -> list[str]:
    """Raise the speed until a run misses or bins a good item; report each run's verdict."""
    lines, best = [], None
    for v in SWEEP_MM_S:
        belt_s = min(4.0, max(1.5, 2500.0 / v))
        spec = RigSpec(v, mode, ejector_mm=ejector_mm, belt_s=belt_s, model=model)  # type: ignore[arg-type]
        res = _run(spec)
        errors = np.abs(res.position_errors_ms()) if res.pulses else np.zeros(1)
        lines.append(
            f"  {v / 1000:.1f} m/s: {len(res.defective_passed)} defective passed, "
            f"missed {len(res.missed)} (late {res.counters['missed']}), "
            f"good rejected {len(res.good_rejected)}, |position error| max "
            f"{errors.max():.2f} ms = {errors.max() * v / 1000:.1f} mm"
        )
        if res.missed or res.good_rejected:
            break
        best = v
    head = f"{mode}-timed, ejector {ejector_mm:.0f} mm from the camera's reference line: "
    head += (
        "no speed without misses" if best is None else f"zero misses up to {best / 1000:.1f} m/s"
    )
    return [head, *lines]


def loaded_figures(spec: LoadedSpec, rounds: int, other: Path | None) -> list[str]:
    """Box-timed pulse error under a loaded loop, per checkout (pooled over `rounds`)."""
    here = Path(__file__).resolve().parents[2]
    lines = [
        f"loaded loop: belt camera writing its image at {spec.fps:g} fps, the PLC answering each "
        f"image write {spec.image_delay_ms:g} ms late; box-timed at {spec.speed_mm_s / 1000:.1f} "
        f"m/s, {rounds} x {spec.belt_s:g} s per checkout, interleaved"
    ]
    for name, res in compare(spec, rounds, here, other).items():
        lines += [
            f"{name}: {len(res['timing_ms'])} pulses, missed {sum(res['missed'])}, "
            f"good rejected {sum(res['good_rejected'])}",
            "  " + stats("pulse timing error at the simulator", res["timing_ms"]),
            "  " + stats("  of plans armed >= 1 ms ahead", res["timing_ahead_ms"]),
            "  " + stats("item position error at the push", res["position_ms"]),
            "  " + stats("ejector timer switch-on error", res["timer_ms"]),
            "  " + stats("  of plans armed >= 1 ms ahead", res["timer_ahead_ms"]),
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.plc.pulse_bench", description=__doc__)
    p.add_argument("--speed-mm-s", type=float, default=1000.0, help="belt speed for the figures")
    p.add_argument("--belt-s", type=float, default=10.0, help="seconds of running belt per mode")
    p.add_argument("--defect-rate", type=float, default=0.9, help="share of defective items")
    p.add_argument("--ejector-mm", type=float, default=700.0, help="camera to ejector, mm")
    p.add_argument("--model", type=Path, help="ONNX detector (default: scene truth)")
    p.add_argument("--no-sweep", action="store_true", help="only the timing figures")
    p.add_argument("--capture-ms", type=float, default=0.0, help="simulated capture latency")
    p.add_argument("--encoder-ms", type=float, default=0.0, help="simulated encoder latency")
    p.add_argument("--output-ms", type=float, default=0.0, help="simulated output latency")
    p.add_argument(
        "--ramp-ms", type=float, default=0.0, help="the belt accelerates to speed over this"
    )
    p.add_argument("--loaded", type=float, metavar="DELAY_MS", help="loaded-loop mode (above)")
    p.add_argument("--fps", type=float, default=50.0, help="--loaded: belt camera rate")
    p.add_argument("--rounds", type=int, default=3, help="--loaded: runs per checkout")
    p.add_argument("--compare-with", type=Path, help="--loaded: another checkout to measure")
    p.add_argument("--network", action="store_true", help="network-camera mode (above)")
    p.add_argument("--speeds-mm-s", type=float, nargs="+", default=[1000.0, 2000.0],
                   help="--network: belt speeds")  # fmt: skip
    p.add_argument("--plant", choices=("process", "thread", "both"), default="process",
                   help="--network: where the PLC simulator and camera run (both: side by "
                        "side, taking turns)")  # fmt: skip
    args = p.parse_args(argv)
    _quiet()
    if args.loaded is not None:
        spec = LoadedSpec(args.speed_mm_s, args.belt_s, args.fps, args.loaded, args.defect_rate)
        for line in loaded_figures(spec, args.rounds, args.compare_with):
            print(line, flush=True)
        return 0
    if args.network:
        plants: tuple[PlantWhere, ...] = (
            ("process", "thread") if args.plant == "both" else (args.plant,)
        )
        for line in network_figures(
            args.speeds_mm_s, args.belt_s, args.fps, args.rounds, args.model, plants
        ):
            print(line, flush=True)
        return 0
    detector = args.model or "perfect detector (scene truth)"
    print(f"loopback 127.0.0.1, 640x480 scene camera at 20 fps, detector: {detector}")
    sim = {"capture_ms": args.capture_ms, "encoder_ms": args.encoder_ms}
    sim["output_ms"] = args.output_ms
    runs: list[dict[str, Any] | None] = [None]
    if any(sim.values()):
        print(
            f"simulated cell: capture {args.capture_ms:g} ms, encoder {args.encoder_ms:g} ms, "
            f"output {args.output_ms:g} ms"
        )
        runs = [sim | {"told": False}, sim | {"told": True}]
    if args.ramp_ms:
        print(f"the belt ramps up to speed over {args.ramp_ms:g} ms after each start")
    for mode in ("box", "plc"):
        for lat in runs:
            for line in timing_figures(
                mode,
                args.speed_mm_s,
                args.belt_s,
                args.model,
                args.defect_rate,
                lat,
                args.ramp_ms,
            ):
                print(line, flush=True)
    if not args.no_sweep:
        for mode in ("box", "plc"):
            for line in zero_miss_speed(mode, args.ejector_mm, args.model):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
