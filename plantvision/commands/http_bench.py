"""`plantvision loop-bench --http-clients N`: the loop's latency with and without page clients.

The status page is served (on a free loopback port) over the bench's own loop throughout. Three
phases take turns in rounds of short blocks (so a shared machine's changing load falls on all
alike) until each has run `--http-seconds`:
- nobody looking;
- N clients in another process polling the page, /api/state, the image and /metrics
  (plantvision/face/hammer.py);
- the same N clients polling a copy of the page's answers served from a third process
  (plantvision/face/replica.py, same rate bound and priority): the clients' and a server's CPU
  on this machine, with nothing in the box's process. The page's own cost to the loop is the
  difference between the page and the copy; the copy is the floor for a page in a process of
  its own, which would also pay a copy of every published frame (measured here too).
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
from dataclasses import dataclass, field
from multiprocessing import shared_memory

import numpy as np

from plantvision.commands.cpu_split import Split, ThreadTimes
from plantvision.face.events import EventInbox
from plantvision.face.server import FACE_NICE, FaceServer
from plantvision.face.state import RunInfo
from plantvision.loop.camera import CameraRuntime
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import HttpModel
from plantvision.timing import Summary, summarize_ns
from plantvision.types import ImageArray

BLOCK_S = 2.5
COPY_EVERY = 10  # frames between two timed copies into shared memory


@dataclass
class Phase:
    label: str
    clients: subprocess.Popen[str] | None = None
    split: Split = field(default_factory=Split)
    counts: dict[str, int] = field(default_factory=dict)


class CopyProbe:
    """Times copying a frame into shared memory: what a page in its own process would cost
    the loop per publish (the loop hands frames over by reference today)."""

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
        cpu0 = face.cpu_seconds(), face.page_cpu_seconds()
        for _ in range(rounds):
            # Always the same order: every client process is paused for exactly two blocks
            # (a reversed order would pause one for four, past its 10 s request timeout).
            for ph in phases:
                if ph.clients is not None:
                    ph.clients.send_signal(signal.SIGCONT)
                _block(ctl, cam, seconds / rounds, ph, clock, probe)
                if ph.clients is not None:
                    ph.clients.send_signal(signal.SIGSTOP)
        cpu_s = face.cpu_seconds() - cpu0[0], face.page_cpu_seconds() - cpu0[1]
        for ph in phases:
            if ph.clients is not None:
                ph.counts = _counts(ph.clients)
    _report(name, cam, url, seconds, rounds, phases, face, cpu_s, probe, load0)


def _line(label: str, s: Summary) -> str:
    return (
        f"  {label:<34} median {s.median_ms:6.2f} ms  p99 {s.p99_ms:6.2f} ms  "
        f"max {s.max_ms:7.2f} ms  (n={s.n})"
    )


def _report(
    name: str,
    cam: CameraRuntime,
    url: str,
    seconds: float,
    rounds: int,
    phases: list[Phase],
    face: FaceServer,
    cpu_s: tuple[float, float],
    probe: CopyProbe,
    load0: tuple[float, float, float],
) -> None:
    load1 = os.getloadavg()
    print(
        f"loop-bench '{name}' camera {cam.id}: page served at {url}; {seconds:g} s per phase "
        f"in {rounds} rounds of {BLOCK_S:g} s blocks taking turns; load average "
        f"{load0[0]:.2f} at the start, {load1[0]:.2f} at the end (1 min), on {os.cpu_count()} CPUs"
    )
    print("  frame in hand -> permit write acknowledged:")
    sums = [summarize_ns(ph.split.wall) for ph in phases]
    for ph, s in zip(phases, sums, strict=True):
        print(_line(ph.label, s))
        parts = ph.split.parts()
        means = ph.split.means_ms()
        print("      " + "; ".join(
            f"{k} {v.median_ms:.2f}/{v.p99_ms:.2f}/{means[k]:.2f}" for k, v in parts.items()
        ) + "  (median/p99/mean ms)")  # fmt: skip
    quiet, page, copy = sums

    def ratio(a: Summary, b: Summary) -> str:
        p99 = a.p99_ms / b.p99_ms if b.p99_ms > 0 else float("inf")
        return f"{p99:.3f}x (median {a.ratio_to(b):.3f}x)"

    print(f"  p99 with / without clients: {ratio(page, quiet)}")
    print(f"  p99 clients of a copy elsewhere / without: {ratio(copy, quiet)}")
    print(f"  p99 page / copy elsewhere (the page's own cost): {ratio(page, copy)}")
    served = sum(phases[1].counts.values())
    print(
        f"  client requests by status: page {phases[1].counts}, copy {phases[2].counts}; "
        f"refused at accept: {face.refused}, over the rate: {face.limited}; JPEG encodes: "
        f"{face.encodes}"
    )
    per_k = 1000 * cpu_s[1] / served if served else float("nan")
    print(
        f"  over {3 * seconds:g} s the face's thread in the box used {cpu_s[0]:.1f} s of CPU, "
        f"the page process {cpu_s[1]:.1f} s ({per_k:.2f} s per 1000 requests)"
    )
    c = summarize_ns(probe.ns)
    print(
        f"  one frame {probe.shape} copied into shared memory: median {c.median_ms:.3f} ms, "
        f"p99 {c.p99_ms:.3f} ms (n={c.n}): the loop's cost per publish to a page in its own "
        "process"
    )
