"""`plantvision loop-bench --http-clients N`: the loop's latency with and without page clients.

The status page is served (on a free loopback port) over the bench's own loop in both phases,
which alternate in blocks of about 5 s (so a shared machine's changing load falls on both
alike) until each has run `--http-seconds`: nobody looking, then N clients in another process
polling the page, /api/state, the image and /metrics (plantvision/face/hammer.py, started once
and paused with SIGSTOP during the quiet blocks). The clients run at nice 19: they stand in
for browsers and scrapers on other machines, whose own CPU is not what should be measured on a
small box. Both phases are printed side by side: frame in hand ->
permit write acknowledged, median, p99 and max, and the ratio of the p99s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from plantvision.face.events import EventInbox
from plantvision.face.server import FaceServer
from plantvision.face.state import RunInfo
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import HttpModel
from plantvision.timing import Summary, summarize_ns

BLOCK_S = 5.0


def _phase(ctl: Controller, cam: CameraRuntime, seconds: float) -> list[int]:
    """Cycle on every frame for `seconds`."""
    loop_ns: list[int] = []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        frame = cam.source.read(5.0)
        if frame is None:
            break
        t0 = time.perf_counter_ns()
        ctl.cycle(cam, frame)
        loop_ns.append(time.perf_counter_ns() - t0)
    return loop_ns


def _line(label: str, s: Summary) -> str:
    return (
        f"  {label:<28} median {s.median_ms:6.2f} ms  p99 {s.p99_ms:6.2f} ms  "
        f"max {s.max_ms:7.2f} ms  (n={s.n})"
    )


def run_with_clients(
    ctl: Controller, cam: CameraRuntime, name: str, http: HttpModel, clients: int, seconds: float
) -> None:
    cfg = http.model_copy(update={"host": "127.0.0.1", "port": 0, "enabled": True})
    face = FaceServer(ctl, cfg, RunInfo(name, "-", "-", "-", time.time()), EventInbox())
    url = face.start()
    blocks = max(1, round(seconds / BLOCK_S))
    quiet_ns: list[int] = []
    busy_ns: list[int] = []
    cmd = [sys.executable, "-m", "plantvision.face.hammer", url,
           "--clients", str(clients), "--seconds", str(10 * seconds + 60)]  # fmt: skip
    nice = lambda: os.nice(19)  # noqa: E731
    cpu0 = face.cpu_seconds()
    try:
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=nice) as hammer:
            for _ in range(blocks):
                hammer.send_signal(signal.SIGSTOP)
                quiet_ns += _phase(ctl, cam, seconds / blocks)
                hammer.send_signal(signal.SIGCONT)
                busy_ns += _phase(ctl, cam, seconds / blocks)
            cpu_s = face.cpu_seconds() - cpu0
            hammer.send_signal(signal.SIGTERM)
            out, _ = hammer.communicate(timeout=60)
    finally:
        face.stop()
    lines = out.strip().splitlines()
    counts = json.loads(lines[-1]) if lines else {}
    quiet, busy = summarize_ns(quiet_ns), summarize_ns(busy_ns)
    print(
        f"loop-bench '{name}' camera {cam.id}: page served at {url}; {seconds:g} s per phase "
        f"in {blocks} alternating blocks"
    )
    print("  frame in hand -> permit write acknowledged:")
    print(_line("no page clients", quiet))
    print(_line(f"{clients} clients polling", busy))
    ratio = busy.p99_ms / quiet.p99_ms if quiet.p99_ms > 0 else float("inf")
    print(f"  p99 with / without clients: {ratio:.3f}x (median {busy.ratio_to(quiet):.3f}x)")
    print(
        f"  client requests by status: {dict(counts)}; refused at accept: {face.refused}, "
        f"over the rate: {face.limited}; JPEG encodes: "
        f"{sum(v.encodes for v in face.views.values())}"
    )
    print(f"  the page's threads used {cpu_s:.1f} s of CPU over {2 * seconds:g} s")
