"""The real `plantvision run` on the demo, told to speak MQTT to the test's broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "deployments" / "demo.yaml"


def demo_deployment(tmp_path: Path, **sections: Any) -> Path:
    """deployments/demo.yaml with absolute paths, JSON logs and the given sections added."""
    data = yaml.safe_load(DEMO.read_text())
    cam = data["cameras"][0]
    base = DEMO.parent
    cam["source"]["scenario"] = str((base / cam["source"]["scenario"]).resolve())
    cam["model"]["path"] = str((base / cam["model"]["path"]).resolve())
    cam["zones"] = str((base / cam["zones"]).resolve())
    data["log_json"] = True
    data["demo"]["duration_s"] = 0
    data.update(sections)
    path = tmp_path / "demo-voices.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Box:
    """`plantvision run DEPLOYMENT` in a child process; its JSON log lines, parsed, as they come."""

    def __init__(self, deployment: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantvision", "run", str(deployment), "--quiet",
             "--http", "off", "--duration", "600", *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        self.log: list[dict[str, Any]] = []
        self.out: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read_err, daemon=True),
            threading.Thread(target=self._read_out, daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {"event": "(not json)", "line": line}
            with self._lock:
                self.log.append(doc)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    def events(self, camera: str = "cell") -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.log if e.get("camera") == camera]

    def kill(self) -> None:
        """SIGKILL: no goodbye, no shutdown write; the broker's will is all that speaks."""
        self.proc.kill()
        self.proc.wait(20)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in self._readers:
            t.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
