"""The box tells systemd it is ready and alive, over the notify socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from plantvision.loop.sdnotify import notify, watchdog_period_s


def test_notify_sends_state_to_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 arrives as one datagram on $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1")
        assert server.recv(64) == b"READY=1"


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd notify() is a no-op that says so."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")


@pytest.mark.parametrize(("usec", "period"), [("4000000", 2.0), ("0", None), ("x", None)])
def test_watchdog_period_is_half_the_interval(
    monkeypatch: pytest.MonkeyPatch, usec: str, period: float | None
) -> None:
    """The watchdog is petted at twice the rate systemd demands."""
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    assert watchdog_period_s() == period
