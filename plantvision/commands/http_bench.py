"""`plantvision loop-bench --http-clients N`: the loop's latency with and without page clients.

The status page is served (on a free loopback port) over the bench's own loop throughout. Three
phases take turns in rounds of short blocks (so a shared machine's changing load falls on all
alike) until each has run `--http-seconds`:
- nobody looking;
- N clients in another process polling the page, /api/state, the image and /metrics
  (plantvision/face/hammer.py);
- the same N clients polling a copy of the page's answers served from a third process
  (plantvision/face/replica.py, same rate bound and priority): what clients and a bare server
  cost on this machine, with nothing asked of the box. The page's own cost to the loop (its
  process, its thread in the box) is the difference between the page and the copy.
Also timed: copying a frame into shared memory, what handing every published frame to another
process would cost the loop (the page process is handed JPEGs at view_fps instead).
The idle client processes are paused with SIGSTOP. Clients run at nice 19: they stand in for
browsers and scrapers on other machines, whose own CPU is not what should be measured on a small
box. Each phase prints frame in hand -> permit write acknowledged (median, p99, max) and where
the cycle's time went (plantvision/commands/cpu_split.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from plantvision.commands.cpu_split import ThreadTimes
from plantvision.commands.http_report import BenchRun, Phase, report
from plantvision.face.events import EventInbox
from plantvision.face.server import FACE_NICE, FaceServer, proc_cpu_seconds
from plantvision.face.state import RunInfo
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import HttpModel
from plantvision.types import ImageArray

# Each client process is paused for two blocks: 4 s, under the page's 5 s keep-alive, so no
# connection is closed under a paused client (a close raced with its next request on waking).
BLOCK_S = 2.0
COPY_EVERY = 10  # frames between two timed copies into shared memory


class CopyProbe:
    """Times copying a frame into shared memory: what handing every published frame to another
    process would cost the loop (it publishes by reference)."""

    def __init__(self) -> None:
        self.ns: list[int] = []
        self._shm: shared_memory.SharedMemory | None = None
        self.shape: tuple[int, ...] = ()

    def copy(self, image: ImageArray) -> None:
        if self._shm is None:
            self._shm = shared_memory.SharedMemory(create=True, size=image.nbytes)
            self.shape = image.shape
        dst: ImageArray = np.ndarray(image.shape, image.dtype, buffer=self._shm.buf)
        t0 = time.perf_counter_ns()
        np.copyto(dst, image)
        self.ns.append(time.perf_counter_ns() - t0)
        del dst  # the view must go before the segment closes

    def close(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()


def _block(
    ctl: Controller,
    cam: CameraRuntime,
    seconds: float,
    ph: Phase,
    clock: ThreadTimes,
    probe: CopyProbe,
) -> None:
    """Cycle on every frame for `seconds`, splitting each cycle's time."""
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        frame = cam.source.read(5.0)
        if frame is None:
            break
        before = clock.read()
        t0 = time.perf_counter_ns()
        ctl.cycle(cam, frame)
        wall = time.perf_counter_ns() - t0
        ph.split.add(wall, before, clock.read())
        if frame.seq % COPY_EVERY == 0:
            probe.copy(frame.image)


def _spawn(args: list[str], stack: ExitStack, nice: int = 19) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice),
    )  # fmt: skip
    stack.callback(_end, proc)
    return proc


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
    proc.wait(30)


def _counts(proc: subprocess.Popen[str]) -> dict[str, int]:
    """Stop a client process and read its counts by status."""
    proc.send_signal(signal.SIGCONT)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    lines = out.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def run_with_clients(
    ctl: Controller, cam: CameraRuntime, name: str, http: HttpModel, clients: int, seconds: float
) -> None:
    cfg = http.model_copy(update={"host": "127.0.0.1", "port": 0, "enabled": True})
    face = FaceServer(ctl, cfg, RunInfo(name, "-", "-", "-", time.time()), EventInbox())
    url = face.start()
    rounds = max(1, round(seconds / BLOCK_S))
    clock, probe = ThreadTimes(), CopyProbe()
    with ExitStack() as stack:
        stack.callback(face.stop)
        stack.callback(probe.close)
        stack.callback(clock.close)
        _block(ctl, cam, 1.0, Phase("warm-up"), clock, probe)  # a frame for the copy to serve
        probe.ns.clear()
        load0 = os.getloadavg()
        replica = _spawn(["plantvision.face.replica", url, "--rate",
                          str(cfg.max_requests_per_s)], stack, nice=FACE_NICE)  # fmt: skip
        assert replica.stdout is not None
        copy_url = replica.stdout.readline().strip()
        hammer = ["plantvision.face.hammer", "--clients", str(clients),
                  "--seconds", str(20 * seconds + 60)]  # fmt: skip
        phases = [
            Phase("no page clients"),
            Phase(f"{clients} clients: the page", _spawn([*hammer[:1], url, *hammer[1:]], stack)),
            Phase(f"{clients} clients: a copy elsewhere",
                  _spawn([*hammer[:1], copy_url, *hammer[1:]], stack)),
        ]  # fmt: skip
        for ph in phases:
            if ph.clients is not None:
                ph.clients.send_signal(signal.SIGSTOP)
        copy_stat = Path(f"/proc/{replica.pid}/stat")
        cpu0 = face.cpu_seconds(), face.page_cpu_seconds(), proc_cpu_seconds(copy_stat)
        for _ in range(rounds):
            # Always the same order: every client process is paused for exactly two blocks
            # (a reversed order would pause one for four, past its request timeout).
            for ph in phases:
                if ph.clients is not None:
                    ph.clients.send_signal(signal.SIGCONT)
                _block(ctl, cam, seconds / rounds, ph, clock, probe)
                if ph.clients is not None:
                    ph.clients.send_signal(signal.SIGSTOP)
        cpu = {
            "the face's thread in the box": face.cpu_seconds() - cpu0[0],
            "the page process": face.page_cpu_seconds() - cpu0[1],
            "the copy": proc_cpu_seconds(copy_stat) - cpu0[2],
        }
        for ph in phases:
            if ph.clients is not None:
                ph.cpu_s = proc_cpu_seconds(Path(f"/proc/{ph.clients.pid}/stat"))
                ph.counts = _counts(ph.clients)
    title = f"loop-bench '{name}' camera {cam.id}: page served at {url}"
    run = BenchRun(title, seconds, rounds, BLOCK_S, phases, load0, cpu, probe.ns, probe.shape)
    report(run, face.refused, face.limited, face.encodes)
