"""`plantvision fleet --mqtt HOST[:PORT]`: every box on the plant's broker on one page.

Subscribes to `<prefix>/#` and serves the fleet page (plantvision/voices/fleet.py) until
SIGINT or SIGTERM. Read-only; loopback unless `--http` names another address, which then needs
`--token-env` (a bearer token, as for the status page). Broker credentials come from the
environment variables `--username-env` and `--password-env` name, never from the command line.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

from plantvision.errors import ConfigError
from plantvision.loop.voices_config import is_loopback
from plantvision.voices import mqtt_client as mc
from plantvision.voices.fleet import FleetServer


def register(sub: Any) -> None:
    p = sub.add_parser("fleet", help="serve a page of every box on an MQTT broker")
    p.add_argument("--mqtt", required=True, metavar="HOST[:PORT]", help="the broker (port 1883)")
    p.add_argument("--http", default="127.0.0.1:8090", metavar="HOST:PORT",
                   help="page address (default 127.0.0.1:8090; port 0: any free port)")  # fmt: skip
    p.add_argument("--prefix", default="plantvision", help="topic prefix (default plantvision)")
    p.add_argument("--token-env", default=None, help="variable holding the page's bearer token")
    p.add_argument("--username-env", default=None, help="variable holding the broker user")
    p.add_argument("--password-env", default=None, help="variable holding the broker password")
    p.set_defaults(handler=run)


def _address(arg: str, default_port: int | None, flag: str) -> tuple[str, int]:
    host, sep, port = arg.rpartition(":")
    if not sep:
        host, port = arg, str(default_port) if default_port else ""
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(flag, flag, f"{arg!r} is not HOST:PORT", "e.g. 127.0.0.1:1883")
    return host.strip("[]"), int(port)


def _env(name: str | None, flag: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(flag, flag, f"environment variable {name} is unset or empty", "")
    return value


def run(args: argparse.Namespace) -> int:
    broker = _address(args.mqtt, 1883, "--mqtt")
    http = _address(args.http, None, "--http")
    token = _env(args.token_env, "--token-env")
    if not is_loopback(http[0]) and token is None:
        raise ConfigError("--http", "--http", f"{http[0]} is reachable from the network",
                          "give --token-env NAME (a bearer token), or bind 127.0.0.1")  # fmt: skip
    secrets = mc.Secrets(_env(args.username_env, "--username-env"),
                         _env(args.password_env, "--password-env"))  # fmt: skip
    client = mc.new_client("", "5", secrets, tls=False)
    server = FleetServer(client, broker, args.prefix, http, token)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    url = server.start()
    print(f"fleet page: {url}  (broker {broker[0]}:{broker[1]}, {args.prefix}/#)", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0
