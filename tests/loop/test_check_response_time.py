"""`check` builds T from the worst case of what it measures and what the deployment configures:
the Modbus write that still lands after every try timed out but the last, the source's own frame
period, and the model timed on the source's own frames (DESIGN, proof rules)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from plantvision.cli import main
from plantvision.plc.config import write_worst_ms
from simulators.plc import PlcSimulator, SimConfig
from tests.loop.test_bad_deployments import base
from tests.loop.test_check_fault_bounds import BIG_ZONE


@pytest.fixture(scope="module")
def sim() -> Iterator[PlcSimulator]:
    s = PlcSimulator(SimConfig())
    s.start()
    yield s
    s.stop()


def _frames(folder: Path, n: int = 3) -> None:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (480, 640, 3), np.uint8))


def _check(
    tmp_path: Path, port: int, capsys: pytest.CaptureFixture[str], changes: dict[str, Any]
) -> tuple[int, str, str]:
    data = base(tmp_path, port)
    _frames(tmp_path / "frames")
    data["cameras"][0]["source"] = {"kind": "folder", "uri": "frames", "fps": 10}
    data["safety"] = {"stopping_time_ms": 100}
    for section, values in changes.items():
        target = data["cameras"][0] if section == "camera" else data[section]
        target.update(values)
    (tmp_path / "zones.yaml").write_text(BIG_ZONE)
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump(data))
    code = main(["check", str(dep), "--runs", "3"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ms(pattern: str, out: str) -> float:
    m = re.search(pattern, out)
    assert m is not None, f"{pattern!r} not in:\n{out}"
    return float(m.group(1))


@pytest.mark.parametrize(
    ("timeout_ms", "retries", "worst_ms"),
    [(150, 1, 300.0), (500, 2, 1500.0), (50, 1, 100.0), (20, 0, 20.0)],
)
def test_the_modbus_term_is_every_try_timing_out_but_the_last(
    timeout_ms: int, retries: int, worst_ms: float
) -> None:
    """A write that still lands can take request_timeout_ms on each of its 1 + retries tries."""
    assert write_worst_ms(timeout_ms, retries) == worst_ms


def test_check_charges_the_configured_modbus_worst_case_to_t(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """request_timeout_ms 500 with a retry: 1000 ms of Modbus in T, printed with its
    derivation, and the same 1000 ms after each fault bound (T charged)."""
    code, out, _ = _check(
        tmp_path, sim.port, capsys, {"plc": {"request_timeout_ms": 500, "retries": 1}}
    )
    assert _ms(r"([\d.]+) ms Modbus", out) == 1000.0
    assert "Modbus: request_timeout_ms 500 x (1 + retries 1) = 1000 ms" in out
    # After the worst fault bound come the write, the PLC scan and the stop: 1000 + 10 + 100.
    assert _ms(r"\+ ([\d.]+) ms write, scan, stopping", out) == 1000.0 + 10 + 100
    assert code == 1  # S = 1600 x 1.735 s + 1200 + 400 > the 2400 mm boundary
    assert "FAIL stop zone press" in out


def test_retries_above_one_are_refused(
    tmp_path: Path, sim: PlcSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two retries (1500 ms for a 500 ms timeout) are refused by the file check: at most one."""
    plc = {"request_timeout_ms": 500, "retries": 2}
    code, _, err = _check(tmp_path, sim.port, capsys, {"plc": plc})
    assert code == 2
    assert "plc.retries" in err
