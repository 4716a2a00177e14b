"""Fixtures for the face: Debian's chromium for Playwright, and one real demo box to look at.

Playwright cannot download its own browsers here: it drives the system's chromium (`.ci/run`
installs it with apt-get). Without it the browser tests skip and say why; in CI they fail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("PLANTVISION_CHROMIUM", "/usr/bin/chromium"))
DOCS = REPO / "docs"
UI_TIMEOUT_MS = 120_000  # bounds a hang only: the machine is small and shared


def docs_shots() -> bool:
    """Screenshots go to docs/ only when asked (PLANTVISION_DOCS_SHOTS=1); else to tmp."""
    return os.environ.get("PLANTVISION_DOCS_SHOTS") == "1"


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces pytest-playwright's fallback (a plugin-class fixture that pytest 9 deprecates)."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


class Process:
    """A command line in a child process whose first matching stdout line gives its URL."""

    def __init__(self, args: list[str], pattern: str, timeout_s: float = 120.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plantvision", *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        self.lines: list[str] = []
        self.stderr: list[str] = []
        found = threading.Event()
        self.url = ""

        def read_out() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(pattern, line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()
            found.set()

        def read_err() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)

        self._readers = [threading.Thread(target=f, daemon=True) for f in (read_out, read_err)]
        for t in self._readers:
            t.start()
        if not found.wait(timeout_s) or not self.url:
            self.stop()
            tail = "".join(self.stderr[-20:])
            raise RuntimeError(f"{args} printed no address: {self.lines[-5:]} {tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
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


@pytest.fixture(scope="session")
def demo_box() -> Iterator[Process]:
    """The real `plantvision run` on the demo, its page on a free loopback port."""
    box = Process(
        ["run", "--duration", "600", "--quiet", "--http", "127.0.0.1:0"],
        r"status page: (http://\S+/)",
    )
    yield box
    box.stop()
