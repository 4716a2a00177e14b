"""Run a scenario with the box as a child process, for faults that kill or freeze the process.

The child is `python -m plantvision run <generated deployment>`, the same command a site runs,
against the PLC simulator in this process (its port written into the generated deployment). The
child renders the scene on its own clock, which this process cannot read, so these scenarios
must keep workers out of every stop zone: their truth is "never occupied", at any offset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from plantvision.errors import ConfigError
from plantvision.loop.build import check_camera_files
from simulators.plc import PlcSimulator
from simulators.verify.analysis import Timeline, analyse
from simulators.verify.faults import windows
from simulators.verify.plcside import Operator, PlcFaults
from simulators.verify.runner import (
    TICK_S,
    Prepared,
    Progress,
    RunOptions,
    RunOutcome,
    fault_spans,
    limits_of,
    start_simulator,
)
from simulators.verify.scenario import PLC_FAULTS
from simulators.verify.truth import scene_truth

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


def _check_truth_clear(p: Prepared, duration_s: float) -> None:
    spans = scene_truth(p.scene, p.zones_file, duration_s, step_ms=50.0)
    busy = [z for z, s in spans.items() if s]
    if busy:
        raise ConfigError(str(p.path), "scene", f"workers enter stop zone(s) {busy}; with the "
                          "box as a child process its scene clock is not shared",
                          "use a scene whose workers stay out of stop zones")  # fmt: skip


def _wait_for_box(sim: PlcSimulator, child: subprocess.Popen[bytes], err: Path) -> int:
    """Monotonic ns of the box's first write to the PLC (it is up and driving outputs)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not sim.write_log:
        if child.poll() is not None or time.monotonic() > deadline:
            tail = err.read_text(encoding="utf-8", errors="replace")[-800:]
            raise RuntimeError(f"the box did not start (rc {child.returncode}): {tail}")
        time.sleep(0.02)
    return int(sim.write_log[0]["t_mono_ns"])


def run_box_process(p: Prepared, opts: RunOptions, progress: Progress | None = None) -> RunOutcome:
    """One real-time run with the box in a child process; SIGKILL/SIGSTOP act on it."""
    sc = p.scenario
    _check_truth_clear(p, sc.duration_s + BOOT_TIMEOUT_S / 6)
    sim, machine = start_simulator(p)
    dep_path = generated_deployment(p, sim.port, opts.workdir / "box-deployment.yaml")
    out_path, err_path = opts.workdir / "box.stdout", opts.workdir / "box.stderr"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "plantvision", "run", str(dep_path), "--quiet"]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
    plc_faults = PlcFaults(sim, machine, windows(sc.faults, PLC_FAULTS))
    box_faults = sorted(
        [(f.at_s, signal.SIGKILL if f.kind == "box_sigkill" else signal.SIGSTOP) for f in sc.faults
         if f.kind.startswith("box_")]
        + [(f.at_s + f.duration_s, signal.SIGCONT) for f in sc.faults if f.kind == "box_sigstop"]
    )  # fmt: skip
    o = sc.operator
    operator = Operator(sim, o.reset_after_ms, o.enabled, o.until_s, o.start, o.maintenance_at_s)
    try:
        epoch = _wait_for_box(sim, child, err_path)
        while (t_s := (time.monotonic_ns() - epoch) / 1e9) < sc.duration_s:
            now = time.monotonic_ns()
            plc_faults.tick(t_s, now)
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
        _end_child(child)
        plc_faults.finish()
        _ = sim.machine_running
        sim.stop()
    stop_ids = tuple(z.id for z in p.zones.zones if z.kind == "stop")
    tl = Timeline(epoch, t_end_ns, {z: [] for z in stop_ids}, list(machine.events),
                  fault_spans(sc, epoch, t_end_ns), list(machine.ready_ns))  # fmt: skip
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
