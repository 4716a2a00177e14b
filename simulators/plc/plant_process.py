"""The rig's plant in a process of its own: `ProcessPlant` here, `python -m
simulators.plc.plant_process FD PARENT_PID` there, running a `LocalPlant` (simulators.plc.plant).

In the box's process the PLC simulator stamps a coil write only once it gets that process's GIL
and a core back from the loop: on a loaded machine pushes the ejector child sent on time were
stamped 4.5-36 ms late (p99). A real PLC and camera are devices of their own; so is this plant,
at SCHED_FIFO where permitted (as simulators.plc.timer_ab's simulator, but one step below the
box's ejector child, which the camera's rendering must not delay; else at normal priority, said
in `note`), with a short switch interval so its Modbus server does not wait long for the
camera thread's GIL.

Protocol: JSON lines over a socket pair, one request, one answer (`{"ok": ...}` or
`{"error": text}`), in this order:
  {"op": "start", "spec": RigSpec.to_json(), "folder": path} -> {port, url, note}
  {"op": "begin"} -> {start_mm}
  {"op": "run_belt", "belt_s": s} -> {}       (reset, start, run; an error if it never started)
  {"op": "finish"} -> PlantLog's fields
  {"op": "close"} -> {}, and the process exits.
Every wait here has a bound; a plant that does not answer in time is killed and the call raises
`PlantError`, as does one that exits or answers an error (its traceback in the message). The
plant dies with the box: it exits on EOF (the box's end closed, however the box died) and has
the kernel kill it when its parent does (PR_SET_PDEATHSIG, Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from plantvision.plc.realtime import RT_PRIORITY, make_realtime
from simulators.plc.conveyor import EjectorSite
from simulators.plc.plant import RUN_BELT_BOUND_S, LocalPlant, PlantLog
from simulators.plc.rig_spec import RigSpec

# Below the box's ejector child: the plant's camera renders and encodes at 50 fps, and a real
# camera takes none of the box's CPU; above every normal thread of the box.
PRIORITY = RT_PRIORITY - 1
SWITCH_INTERVAL_S = 0.0005  # the Modbus server's wait for the GIL the camera thread holds
START_S = 60.0  # spawn, imports (cv2, pymodbus) and the simulator's start on a loaded machine
STEP_S = 15.0  # begin, finish, close
PR_SET_PDEATHSIG = 1


class PlantError(RuntimeError):
    """The plant process failed, died, or did not answer in time."""


class ProcessPlant:
    """The plant in a child process; same steps as `LocalPlant`. `step_s` bounds each answer
    but `start`'s (`start_s`) and `run_belt`'s (the belt's time plus its own waits)."""

    in_box = False

    def __init__(
        self, spec: RigSpec, folder: Path, start_s: float = START_S, step_s: float = STEP_S
    ) -> None:
        self._step_s = step_s
        self._sock, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "simulators.plc.plant_process", str(theirs.fileno()),
                 str(os.getpid())],
                pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except BaseException:
            self._sock.close()
            raise
        finally:
            theirs.close()  # the child's end: ours closed, its EOF is the child's exit
        self._buf = b""
        try:
            ready = self._call(
                {"op": "start", "spec": spec.to_json(), "folder": str(folder.resolve())}, start_s
            )
        except BaseException:
            self._end()
            raise
        self.port, self.url = int(ready["port"]), str(ready["url"])
        self.note = f"a process of its own, {ready['note']}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def begin(self) -> float:
        return float(self._call({"op": "begin"}, self._step_s)["start_mm"])

    def run_belt(self, belt_s: float) -> None:
        self._call({"op": "run_belt", "belt_s": belt_s}, belt_s + RUN_BELT_BOUND_S + self._step_s)

    def finish(self) -> PlantLog:
        got = self._call({"op": "finish"}, self._step_s)
        return PlantLog(**(got | {"site": EjectorSite(**got["site"])}))

    def close(self) -> None:
        """Stop the plant; one that does not exit in time is killed."""
        if self._proc.poll() is None and self._sock.fileno() >= 0:
            with contextlib.suppress(PlantError):
                self._call({"op": "close"}, self._step_s)
        self._end()

    def _end(self) -> None:
        self._sock.close()
        try:
            self._proc.wait(self._step_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        op = request["op"]
        try:
            self._sock.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(self._line(op, timeout_s))
        except OSError as exc:  # a broken pipe: it died
            raise self._failed(op, f"unreachable ({exc})") from exc
        if "error" in answer:
            raise PlantError(f"plant process (pid {self.pid}) failed at {op}:\n{answer['error']}")
        result: dict[str, Any] = answer["ok"]
        return result

    def _line(self, op: str, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise self._failed(op, f"no answer within {timeout_s:g} s: killed")
            self._sock.settimeout(left_s)
            try:
                data = self._sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                raise self._failed(op, "exited")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _failed(self, op: str, what: str) -> PlantError:
        """Kill the child (if still there) and name what happened at `op`."""
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        status = self._proc.wait()
        self._sock.close()
        return PlantError(f"plant process (pid {self.pid}) {what} at {op} (exit status {status})")


# -- the child ------------------------------------------------------------------------------


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when `parent` dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _answer(plant: LocalPlant | None, request: dict[str, Any]) -> tuple[LocalPlant | None, Any]:
    op = request["op"]
    if op == "start":
        plant = LocalPlant(RigSpec.from_json(request["spec"]), Path(request["folder"]))
        return plant, {"port": plant.port, "url": plant.url}
    if plant is None:
        raise RuntimeError(f"{op} before start")
    if op == "begin":
        return plant, {"start_mm": plant.begin()}
    if op == "run_belt":
        plant.run_belt(float(request["belt_s"]))
        return plant, {}
    if op == "finish":
        return plant, asdict(plant.finish())
    if op == "close":
        return plant, {}
    raise ValueError(f"unknown op {op!r}")


def serve(sock: socket.socket, note: str) -> None:
    """Answer requests until close or EOF; the plant is closed on the way out."""
    plant: LocalPlant | None = None
    reader = sock.makefile("rb")
    try:
        for line in reader:
            request = json.loads(line)
            try:
                plant, result = _answer(plant, request)
                if request["op"] == "start":
                    result["note"] = note
                answer: dict[str, Any] = {"ok": result}
            except Exception:
                answer = {"error": traceback.format_exc()}
            sock.sendall(json.dumps(answer).encode() + b"\n")
            if request["op"] == "close":
                return
    finally:
        reader.close()
        if plant is not None:
            plant.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fd, parent = int(args[0]), int(args[1])
    _die_with(parent)
    refused = make_realtime(PRIORITY)  # before any thread: they inherit it
    note = f"SCHED_FIFO {PRIORITY}" if refused is None else f"normal priority ({refused})"
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    with socket.socket(fileno=fd) as sock:
        serve(sock, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
