"""Figures for the PLC link under faults, against the in-process simulator over loopback TCP.

    python -m simulators.plc.link_bench heal [--rtt-ms 60] [--cycle-ms 33] [-n 10]
        time from a dropped connection to a healed link, while a loop stand-in hands the link a
        permit-ON image every cycle and the PLC answers after --rtt-ms
    python -m simulators.plc.link_bench verdict [--verdict-ms 400] [-n 20]
        PLC-timed rejects: frame capture -> the PLC holds permit OFF, for a person entering a stop
        zone in the frame that also decides a verdict, while the PLC takes --verdict-ms to answer
        each verdict write (the real controller cycle, link and reject runtime)

Each prints median, p99 and max in ms.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog
import yaml

from plantvision.plc.config import PlcConfig
from plantvision.plc.link import PlcLink
from plantvision.plc.values import PlcInputs, PlcOutputs
from plantvision.types import Detections, Frame, ImageArray, StageTimes
from simulators.plc.bench import summary
from simulators.plc.server import PlcSimulator, SimConfig

NAMES = ("item", "defect", "person")


def _quiet_log() -> Any:
    return structlog.wrap_logger(structlog.ReturnLogger())


def _wait(cond: Any, timeout_s: float, step_s: float = 0.001) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(step_s)
    return True


# -- heal ---------------------------------------------------------------------------------------


def run_heal(n: int, rtt_ms: float, cycle_ms: float, cap_s: float) -> list[str]:
    sim = PlcSimulator(SimConfig(watchdog_ms=600_000))
    port = sim.start()
    cfg = PlcConfig(host="127.0.0.1", port=port, allowed_hosts=("127.0.0.1",))
    link = PlcLink(cfg, _quiet_log())
    link.start()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(cycle_ms / 1000):
            link.write(PlcOutputs(permit=True))

    writer = threading.Thread(target=loop, daemon=True)
    writer.start()
    heal_ms: list[float] = []
    stuck = 0
    try:
        sim.set_delay_ms(rtt_ms)
        if not _wait(lambda: link.healthy, cap_s):
            raise RuntimeError("the link never came up")
        for _ in range(n):
            t0 = time.monotonic_ns()
            sim.drop_connections()
            _wait(lambda: not link.healthy, cap_s)
            if not _wait(lambda: link.healthy, cap_s):
                stuck += 1  # still down: no later drop can be timed
                break
            heal_ms.append((time.monotonic_ns() - t0) / 1e6)
    finally:
        stop.set()
        writer.join()
        link.stop()
        sim.stop()
    head = (
        f"dropped connection -> link healthy again, PLC round trip {rtt_ms:g} ms, loop writing "
        f"every {cycle_ms:g} ms, request timeout {cfg.request_timeout_ms} ms, first backoff "
        f"{cfg.reconnect_backoff_ms[0]} ms"
    )
    lines = [head]
    if heal_ms:
        lines.append(summary("heal time", heal_ms))
    if stuck:
        lines.append(f"drop {len(heal_ms) + 1} of {n}: still down after {cap_s:g} s (stopped)")
    return lines


# -- verdict ------------------------------------------------------------------------------------


class _Detector:
    def __init__(self) -> None:
        self.next = Detections.empty(NAMES)

    def detect(self, image: ImageArray, times: StageTimes | None = None) -> Detections:
        return self.next


def _boxes(items: list[tuple[float, float, str]]) -> Detections:
    xyxy = [[x - 20, y - 20, x + 20, y + 20] for x, y, _ in items]
    return Detections.from_arrays(
        xyxy, [0.9] * len(items), [NAMES.index(c) for *_, c in items], NAMES
    )


def _deployment(folder: Path) -> Path:
    (folder / "model.onnx").touch()
    stop = {
        "id": "press",
        "kind": "stop",
        "polygon": [[0, 0], [0.5, 0], [0.5, 0.4], [0, 0.4]],
        "classes": ["person"],
    }
    zones = {"version": 1, "camera": "belt", "units": "normalized", "zones": [stop]}
    (folder / "zones.yaml").write_text(yaml.safe_dump(zones))
    ejector = {"id": "kicker", "position_mm": 5000.0, "pulse_ms": 30, "output": 0}
    camera = {
        "id": "belt",
        "source": {"kind": "simulated", "scenario": "zones.yaml"},
        "model": {"path": "model.onnx"},
        "zones": "zones.yaml",
        "conveyor": {
            "belt": {"encoder": {"signal": "encoder", "counts_per_mm": 10}},
            "mapping": {"mm_per_px": 1.0},
            "ejectors": [ejector],
            "timing_mode": "plc",
            "longest_item_mm": 40.0,  # _boxes: 40 px at 1 mm/px
        },
    }
    plc = {
        "host": "127.0.0.1",
        "allowed_hosts": ["127.0.0.1"],
        "request_timeout_ms": 1000,  # the slow verdict write succeeds: only its wait is measured
        "retries": 0,
        "heartbeat_period_ms": 50,
        "loop_stale_ms": 60000,
    }
    guard = {"clear_hold_ms": 0, "min_off_ms": 0}
    dep = {"name": "bench", "cameras": [camera], "plc": plc, "guard": guard}
    path = folder / "dep.yaml"
    path.write_text(yaml.safe_dump(dep))
    return path


def run_verdict(n: int, verdict_ms: float) -> list[str]:
    from plantvision.loop.build import build_cameras
    from plantvision.loop.controller import Controller
    from plantvision.loop.deployment import load_deployment

    with tempfile.TemporaryDirectory() as tmp:
        path = _deployment(Path(tmp))
        dep = load_deployment(path)
        sim = PlcSimulator(SimConfig(signals=dep.plc.signals, watchdog_ms=600_000))
        port = sim.start()
        log = _quiet_log()
        link = PlcLink(dep.plc.model_copy(update={"port": port}), log)
        det = _Detector()
        cams = build_cameras(
            dep,
            path,
            log=log,
            simulated=lambda *_: None,  # type: ignore[arg-type]
            detectors={"belt": det},  # type: ignore[dict-item]
        )
        ctl = Controller(cams, link, log=log)
        reject = cams[0].reject
        assert reject is not None
        link.start()
        reject.start(ctl._set_ejector, link.write_verdicts)  # as Controller.start wires it
        try:
            sim.set_write_delay_ms("reject_fifo", verdict_ms)
            off_ms = _trips(sim, link, ctl, cams[0], det, n, verdict_ms)
        finally:
            reject.close()
            link.stop()
            sim.stop()
    return [
        f"PLC-timed rejects, each verdict write answered after {verdict_ms:g} ms; a person enters "
        "the stop zone in the frame that decides a verdict",
        summary("frame capture -> PLC holds permit OFF", off_ms),
    ]


def _trips(
    sim: PlcSimulator, link: PlcLink, ctl: Any, cam: Any, det: _Detector, n: int, verdict_ms: float
) -> list[float]:
    image = np.full((480, 640, 3), 128, np.uint8)
    image[::7, ::5] = 200  # not a frozen or dark frame
    seq = [0]

    def cycle(items: list[tuple[float, float, str]], press: bool = False) -> int:
        now = time.monotonic_ns()
        ctl.latest_inputs = PlcInputs(False, encoder=0, t_read_ns=now, t_encoder_ns=now)
        if press:
            ctl.resets.press(now)
        det.next = _boxes(items)
        seq[0] += 1
        image[0, 0] = seq[0] % 256  # a fresh frame each time
        ctl.cycle(cam, Frame(image, seq[0], now))
        return now

    if not _wait(lambda: link.healthy, 5.0):
        raise RuntimeError("the PLC link never came up")
    off_ms: list[float] = []
    for k in range(n):
        cycle([])
        cycle([], press=True)
        if not _wait(lambda: sim.values.get("permit") == 1, 5.0):
            raise RuntimeError("the permit never came on")
        mark = len(sim.write_log)
        # A new defect each trip (25 mm apart on the standing belt: a new item, a new verdict).
        defect = (130.0 + 25.0 * (k % 19), 260.0 + 50.0 * (k // 19 % 4), "defect")
        t_capture = cycle([(100.0, 100.0, "person"), defect])
        if not _wait(lambda: sim.values.get("permit") == 0, 5.0):
            raise RuntimeError("the permit never went off")
        held = next(e for e in sim.write_log[mark:] if e["signals"].get("permit") == 0)
        off_ms.append((held["t_mono_ns"] - t_capture) / 1e6)
        time.sleep(verdict_ms / 1000 + 0.1)  # let the verdict write finish before the next trip
        cycle([])  # its outcome comes back
    return off_ms


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.plc.link_bench", description=__doc__)
    p.add_argument("what", choices=("heal", "verdict"))
    p.add_argument("-n", type=int, default=10, help="drops (heal) or trips (verdict)")
    p.add_argument("--rtt-ms", type=float, default=60.0, help="heal: PLC round trip")
    p.add_argument("--cycle-ms", type=float, default=33.0, help="heal: loop write period")
    p.add_argument("--cap-s", type=float, default=8.0, help="heal: give up on one drop after")
    p.add_argument("--verdict-ms", type=float, default=400.0, help="verdict: its write's answer")
    args = p.parse_args(argv)
    if args.what == "heal":
        lines = run_heal(args.n, args.rtt_ms, args.cycle_ms, args.cap_s)
    else:
        lines = run_verdict(args.n, args.verdict_ms)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
