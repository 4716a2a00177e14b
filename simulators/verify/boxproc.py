"""Run a scenario with the box as a child process: for faults that kill or freeze the process,
and for its stderr blocked.

The child is `python -m simulators.verify.boxmain -- run <generated deployment>`: the command a
site runs (`plantvision run`), against the PLC simulator in this process (its port written into
the generated deployment). boxmain pins the scene camera's clock and writes its start to a file,
so the scene's own truth (workers in stop zones included) is judged on the box's timeline;
fault times are scene seconds from that start. With `RunOptions.mutant`, boxmain installs that
planted broken box in the child first (simulators.verify.mutants).

log_blocked: the child's stderr is a pipe this process reads. While the fault lasts, nothing
reads it and a filler fills it, so the box's next write to stderr blocks (a console nobody
reads, a full pipe): the trip path must not notice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import yaml

from plantvision.loop.build import check_camera_files
from simulators.verify.analysis import Timeline, analyse
from simulators.verify.faults import Window, windows
from simulators.verify.plcside import Operator, PlcFaults, permit_writes
from simulators.verify.runner import (
    TICK_S,
    Prepared,
    Progress,
    RunOptions,
    RunOutcome,
    fault_spans,
    limits_of,
    start_simulator,
    truth_spans,
)
from simulators.verify.scenario import PLC_FAULTS

REPO = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT_S = 60.0


def generated_deployment(p: Prepared, port: int, path: Path) -> Path:
    """The deployment with absolute paths, the simulator's port and no demo wiring."""
    files = check_camera_files(p.dep_file, 0, p.camera, safety=p.dep.safety)
    cam = p.camera.model_dump(mode="json")
    cam["model"] = files.model.model_dump(mode="json", exclude_none=True)
    cam["zones"] = str(Path(files.zones.source).resolve())
    dep = p.dep.model_dump(mode="json")
    dep.update(cameras=[cam], demo={"plc_simulator": False}, log_json=True)
    dep["plc"]["port"] = port
    path.write_text(yaml.safe_dump(dep), encoding="utf-8")
    return path


class StderrPipe:
    """The child's stderr: a pipe drained into `path`, which log_blocked stops and fills."""

    FILL = b"\0" * 4096  # filler bytes, dropped from the saved log

    def __init__(self, path: Path) -> None:
        self._r, self.w = os.pipe()
        self._fill_fd = os.dup(self.w)  # blocking, like the child's end
        self._out = path.open("wb")
        self._draining, self._filling, self._closed = threading.Event(), False, False
        self._draining.set()
        self._drainer = threading.Thread(target=self._drain, name="box-stderr", daemon=True)
        self._drainer.start()
        self._filler: threading.Thread | None = None

    def _drain(self) -> None:
        while True:
            self._draining.wait()
            data = os.read(self._r, 65536)
            if not data:
                break
            self._out.write(data.replace(b"\0", b""))
        self._out.close()

    def _fill(self) -> None:
        while self._filling:
            os.write(self._fill_fd, self.FILL)  # blocks once the pipe is full

    def block(self) -> None:
        """Stop reading and fill the pipe: the child's next stderr write blocks."""
        if self._filler is None:
            self._draining.clear()
            self._filling = True
            self._filler = threading.Thread(target=self._fill, name="box-stderr-fill", daemon=True)
            self._filler.start()

    def unblock(self) -> None:
        if self._filler is not None:
            self._filling = False
            self._draining.set()
            self._filler.join(5)
            self._filler = None

    def child_started(self) -> None:
        os.close(self.w)  # the child holds its own copy

    def close(self) -> None:
        self.unblock()
        self._draining.set()
        with contextlib.suppress(OSError):
            os.close(self._fill_fd)
        self._drainer.join(5)


class LogFaults:
    """Applies log_blocked windows to the child's stderr pipe; call `tick` often."""

    def __init__(self, pipe: StderrPipe | None, faults: tuple[Window, ...]) -> None:
        self._pipe, self._faults = pipe, faults

    def tick(self, t_s: float) -> None:
        if self._pipe is None:
            return
        if any(w.active(t_s) for w in self._faults):
            self._pipe.block()
        else:
            self._pipe.unblock()


def _wait_for_box(child: subprocess.Popen[bytes], epoch_file: Path, err: Path) -> int:
    """Monotonic ns of the box's scene clock start (its camera opened: it is up)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not epoch_file.is_file():
        if child.poll() is not None or time.monotonic() > deadline:
            tail = err.read_text(encoding="utf-8", errors="replace")[-800:]
            raise RuntimeError(f"the box did not start (rc {child.returncode}): {tail}")
        time.sleep(0.02)
    return int(epoch_file.read_text(encoding="utf-8"))


def _box_command(dep_path: Path, epoch_file: Path, mutant: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "simulators.verify.boxmain", "--epoch-file", str(epoch_file)]
    if mutant is not None:
        cmd += ["--mutant", mutant]
    return [*cmd, "--", "run", str(dep_path), "--quiet"]


def _start_child(
    cmd: list[str], out_path: Path, err_path: Path, blocked: bool
) -> tuple[subprocess.Popen[bytes], StderrPipe | None]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    pipe = StderrPipe(err_path) if blocked else None
    with out_path.open("wb") as out, contextlib.ExitStack() as stack:
        err: IO[bytes] | int = pipe.w if pipe is not None else stack.enter_context(
            err_path.open("wb"))  # fmt: skip
        child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
    if pipe is not None:
        pipe.child_started()
    return child, pipe


def _signal_faults(p: Prepared) -> list[tuple[float, signal.Signals]]:
    sc = p.scenario
    return sorted(
        [(f.at_s, signal.SIGKILL if f.kind == "box_sigkill" else signal.SIGSTOP) for f in sc.faults
         if f.kind.startswith("box_")]
        + [(f.at_s + f.duration_s, signal.SIGCONT) for f in sc.faults if f.kind == "box_sigstop"]
    )  # fmt: skip


def run_box_process(p: Prepared, opts: RunOptions, progress: Progress | None = None) -> RunOutcome:
    """One real-time run with the box in a child process; SIGKILL/SIGSTOP act on it, and
    log_blocked on its stderr."""
    sc = p.scenario
    sim, machine = start_simulator(p)
    dep_path = generated_deployment(p, sim.port, opts.workdir / "box-deployment.yaml")
    out_path, err_path = opts.workdir / "box.stdout", opts.workdir / "box.stderr"
    epoch_file = opts.workdir / "box-epoch"
    epoch_file.unlink(missing_ok=True)
    log_windows = windows(sc.faults, ("log_blocked",))
    child, pipe = _start_child(_box_command(dep_path, epoch_file, opts.mutant), out_path,
                               err_path, bool(log_windows))  # fmt: skip
    plc_faults = PlcFaults(sim, machine, windows(sc.faults, PLC_FAULTS))
    log_faults = LogFaults(pipe, log_windows)
    box_faults = _signal_faults(p)
    operator = Operator.of(sim, sc.operator)
    try:
        epoch = _wait_for_box(child, epoch_file, err_path)
        while (t_s := (time.monotonic_ns() - epoch) / 1e9) < sc.duration_s:
            now = time.monotonic_ns()
            plc_faults.tick(t_s, now)
            log_faults.tick(t_s)
            while box_faults and box_faults[0][0] <= t_s:
                if child.poll() is None:
                    os.kill(child.pid, box_faults.pop(0)[1])
                else:
                    box_faults.pop(0)
            operator.tick(now, t_s)
            if progress is not None:
                progress(t_s / sc.duration_s)
            time.sleep(TICK_S)
        t_end_ns = time.monotonic_ns()
    finally:
        if pipe is not None:
            pipe.unblock()  # a box blocked on stderr must be able to wind down
        _end_child(child)
        if pipe is not None:
            pipe.close()
        plc_faults.finish()
        _ = sim.machine_running
        sim.stop()
    tl = Timeline(epoch, t_end_ns, truth_spans(p, epoch, sc.duration_s), list(machine.events),
                  fault_spans(sc, epoch, t_end_ns), permit_writes(sim),
                  operator.press_times_ns, list(machine.ready_ns))  # fmt: skip
    info: dict[str, Any] = {
        "mode": "box_process",
        "box_returncode": child.returncode,
        "resets_pressed": operator.presses,
        "starts_pressed": operator.starts,
        "plc_writes": len(sim.write_log),
        "box_log": str(err_path),
    }
    return RunOutcome(analyse(tl, limits_of(sc)), tl, info)


def _end_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.kill(child.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(5)
