"""The rig's plant in a process of its own (simulators.plc.plant_process): it dies with the box
that started it, and a plant that fails or hangs is an error in the box's process, never a hang
or an orphaned simulator left listening."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.plc.plant_process import PlantError, ProcessPlant
from simulators.plc.rig import RigSpec, write_cell

MODEL = Path(__file__).resolve().parents[2] / "plantvision" / "models" / "cell_detector.onnx"
SPEC = RigSpec(1000.0, "box", model=MODEL, network=True)
BOX = """
import os, signal, sys
from pathlib import Path
from simulators.plc.plant_process import ProcessPlant
from simulators.plc.rig import RigSpec, write_cell
spec = RigSpec(1000.0, "box", model=Path(sys.argv[2]), network=True)
write_cell(spec, Path(sys.argv[1]))
plant = ProcessPlant(spec, Path(sys.argv[1]))
print(plant.pid, plant.port, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the box dies with no chance to close its plant
"""


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a reparented one may wait long to be reaped; its
    other threads may still be closing its files when its first shows Z)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _within(cond: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG, /proc")
def test_the_plant_dies_with_the_box_that_started_it(tmp_path: Path) -> None:
    """A box process killed outright (SIGKILL: no finally, no close) leaves no simulator
    behind: its plant process is gone and its Modbus port no longer listens."""
    box = subprocess.Popen(
        [sys.executable, "-c", BOX, str(tmp_path), str(MODEL)], stdout=subprocess.PIPE, text=True
    )
    assert box.stdout is not None
    try:
        line = box.stdout.readline()  # the plant's pid and port, once it answered its start
        assert box.wait(60.0) == -signal.SIGKILL
    finally:
        box.stdout.close()
        if box.poll() is None:
            box.kill()
            box.wait()
    pid, port = (int(x) for x in line.split())
    assert _within(lambda: not _running(pid), 10.0), f"plant process {pid} outlived its box"
    assert _within(lambda: not _listening(port), 5.0), f"port {port} still listens"


def test_a_plant_whose_box_end_closes_exits(tmp_path: Path) -> None:
    """EOF on the plant's socket (the box closed it, however) ends the plant: it closes its
    simulator and camera and exits 0, with no close request."""
    write_cell(SPEC, tmp_path)
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.plc.plant_process", str(theirs.fileno()),
         str(os.getpid())],
        pass_fds=(theirs.fileno(),),
    )  # fmt: skip
    theirs.close()
    try:
        start = {"op": "start", "spec": SPEC.to_json(), "folder": str(tmp_path)}
        ours.sendall(json.dumps(start).encode() + b"\n")
        ours.settimeout(60.0)
        with ours.makefile("rb") as reader:
            answer = json.loads(reader.readline())
        port = answer["ok"]["port"]
        assert _listening(port)
    finally:
        ours.close()
    assert proc.wait(15.0) == 0
    assert not _listening(port)


def test_a_failure_inside_the_plant_is_an_error_here(tmp_path: Path) -> None:
    """A plant that cannot build its cell (no deployment in the folder) answers with its
    traceback, raised here as PlantError naming the step and the missing file."""
    with pytest.raises(PlantError, match=r"failed at start:(.|\n)*deployment\.yaml"):
        ProcessPlant(SPEC, tmp_path)


def test_a_hung_plant_is_killed_and_named(tmp_path: Path) -> None:
    """A plant that stops answering (here: stopped by SIGSTOP) is killed when its step's bound
    runs out, and the call raises instead of waiting for ever."""
    write_cell(SPEC, tmp_path)
    plant = ProcessPlant(SPEC, tmp_path, step_s=1.0)
    try:
        os.kill(plant.pid, signal.SIGSTOP)
        with pytest.raises(PlantError, match="no answer within 1 s: killed at begin"):
            plant.begin()
        assert _within(lambda: not _running(plant.pid), 5.0)
    finally:
        plant.close()


def test_a_plant_process_needs_a_network_camera() -> None:
    """The rendered camera reads the belt's truth in the box's process: asking for its plant
    in a process of its own is refused, naming the field and the fix."""
    with pytest.raises(ValueError, match=r"RigSpec.plant: 'process' needs network=True"):
        _ = RigSpec(1000.0, "box", plant="process").plant_where
    assert RigSpec(1000.0, "box").plant_where == "thread"
    assert SPEC.plant_where == "process"
