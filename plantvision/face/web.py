"""Small helpers the pages share: a listening socket with a clear error, packaged assets, and
the request-rate bound."""

from __future__ import annotations

import socket
from importlib import resources

from aiohttp import web

from plantvision.errors import ConfigError


def asset(name: str) -> tuple[bytes, str]:
    ctype = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.split(".")[-1]]
    return resources.files("plantvision.face").joinpath("static", name).read_bytes(), ctype


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"http {host}:{port}",
            "http",
            f"cannot listen: {exc.strerror}",
            "pick another port with --http HOST:PORT, or --http off",
        ) from None
    sock.setblocking(False)
    return sock


async def no_icon(request: web.Request) -> web.Response:
    """Browsers ask for one; an empty answer keeps their consoles clean."""
    return web.Response(status=204)


class RateBound:
    """A token bucket: at most `rate_per_s` requests a second on average, bursts up to one
    second's worth. `now_s` is passed in (monotonic seconds)."""

    def __init__(self, rate_per_s: float, now_s: float) -> None:
        self.rate = rate_per_s
        self._tokens, self._t = rate_per_s, now_s

    def take(self, now_s: float) -> bool:
        self._tokens = min(self.rate, self._tokens + (now_s - self._t) * self.rate)
        self._t = now_s
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
