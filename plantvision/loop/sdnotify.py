"""systemd notification (sd_notify) without libsystemd: READY=1, WATCHDOG=1, STOPPING=1.

With `Type=notify` and `WatchdogSec=` in the unit, systemd restarts a box whose loop stops
petting the watchdog; the PLC has already tripped on the missing heartbeat by then.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send `state` to $NOTIFY_SOCKET; False when not running under systemd (or on error)."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace socket
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), addr)
    except OSError:
        return False
    return True


def watchdog_period_s() -> float | None:
    """Half the watchdog interval systemd asked for (WATCHDOG_USEC), or None when unset."""
    usec = os.environ.get("WATCHDOG_USEC")
    return int(usec) / 2e6 if usec and usec.isdigit() and int(usec) > 0 else None
