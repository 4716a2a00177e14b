"""The page process: the status page, /api/state and /metrics served outside the box's process.

    python -m plantvision.face.serve LISTEN_FD PIPE_FD   (started by face/server.py only)

The box binds the socket and hands it over with one end of a socket pair; the first message on
the pair is this process's configuration. Every client request is handled here, so no client
runs Python in the loop's process (its interpreter lock is the loop's alone). Answers are asked
of the box at most once per period (/api/state 0.1 s, /metrics 0.5 s, a camera's view
1/view_fps), one request in flight per answer shared by every waiting client; in between the
last answer is served from here. Read-only and bounded as before: GET and HEAD only (405), at
most `max_clients` connections (503 at accept), `max_requests_per_s` requests in all (429),
idle connections closed after 5 s, the bearer token when there is one. When the box's end of
the pair closes (the box stopped or died) this process ends: no page outlives its box.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

from plantvision.face.web import RateBound, asset, no_icon
from plantvision.face.wire import COUNTERS_S, METRICS_TTL_S, STATE_TTL_S, pack, unpack

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ_ONLY = ("GET", "HEAD")
PUBLIC = frozenset({"/", "/app.js", "/style.css", "/favicon.ico"})
KEEPALIVE_S = 5.0
ANSWER_TIMEOUT_S = 5.0  # the box answers within a drain period; this bounds a hung box
_REFUSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
)


class _Refuse(asyncio.Protocol):
    """Over the connection bound: a 503 and close, before reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSE)
        transport.close()


class Answer:
    """One answer from the box, asked for at most every `ttl_s`; every client waiting for it
    shares the one request in flight."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.body: bytes | None = None
        self.header: dict[str, Any] = {}
        self.t = -1e9
        self.failed = False  # the box's last try raised (logged there): a 500, not old bytes
        self.inflight: asyncio.Future[None] | None = None


class PageProcess:
    def __init__(self, config: dict[str, Any], conn: Connection) -> None:
        self.cfg, self.conn = config, conn
        self.cameras = frozenset(str(c) for c in config["cameras"])
        self.token: str | None = config.get("token")
        view_s = 1.0 / float(config["view_fps"])
        self.answers = {"state": Answer(STATE_TTL_S), "metrics": Answer(METRICS_TTL_S)}
        self.answers |= {f"view/{c}": Answer(view_s) for c in self.cameras}
        self.static = {name: asset(name) for name in ("index.html", "app.js", "style.css")}
        self.bound = RateBound(float(config["max_requests_per_s"]), time.monotonic())
        self.refused = self.limited = 0
        self.handler: web.Server | None = None
        self.stop: asyncio.Event | None = None

    # -- the box's side of the pair -----------------------------------------------------------

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: the box's answers onto the event loop; the box gone ends the page."""
        try:
            while True:
                msg = self.conn.recv_bytes()
                loop.call_soon_threadsafe(self._arrived, msg)
        except (EOFError, OSError):
            pass
        finally:
            assert self.stop is not None
            loop.call_soon_threadsafe(self.stop.set)

    def _arrived(self, msg: bytes) -> None:
        header, body = unpack(msg)
        ans = self.answers.get(str(header.get("key")))
        if ans is None:
            return
        ans.failed = "error" in header
        if not ans.failed:
            ans.body, ans.header, ans.t = body, header, time.monotonic()
        if ans.inflight is not None and not ans.inflight.done():
            ans.inflight.set_result(None)

    async def answer(self, key: str, want: dict[str, str]) -> Answer:
        ans = self.answers[key]
        if time.monotonic() - ans.t < ans.ttl_s and ans.body is not None:
            return ans
        if ans.inflight is None or ans.inflight.done():
            ans.inflight = asyncio.get_running_loop().create_future()
            self.conn.send_bytes(pack({"kind": "want", **want}))
        try:
            await asyncio.wait_for(asyncio.shield(ans.inflight), ANSWER_TIMEOUT_S)
        except TimeoutError:
            raise web.HTTPServiceUnavailable(text="the box did not answer\n") from None
        if ans.failed or ans.body is None:
            raise web.HTTPInternalServerError(text="the box could not build this answer\n")
        return ans

    async def _counters(self) -> None:
        """Tell the box the page's counters when they change (at most every 0.1 s)."""
        sent: tuple[int, int, int] | None = None
        while True:
            now = (self.refused, self.limited, self.connections)
            if now != sent:
                self.conn.send_bytes(pack({"kind": "counters", **dict(zip(
                    ("refused", "limited", "connections"), now, strict=True))}))  # fmt: skip
                sent = now
            await asyncio.sleep(COUNTERS_S)

    @property
    def connections(self) -> int:
        return 0 if self.handler is None else len(self.handler.connections)

    # -- serving ----------------------------------------------------------------------------

    async def serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        runner = web.AppRunner(
            self._app(), handle_signals=False, access_log=None, keepalive_timeout=KEEPALIVE_S
        )
        await runner.setup()
        handler = self.handler = runner.server
        assert handler is not None

        def factory() -> asyncio.Protocol:
            if len(handler.connections) >= int(self.cfg["max_clients"]):
                self.refused += 1
                return _Refuse()
            return handler()

        server = await loop.create_server(factory, sock=sock)
        threading.Thread(target=self._read, args=(loop,), name="box", daemon=True).start()
        counters = asyncio.create_task(self._counters())
        self.conn.send_bytes(pack({"kind": "ready"}))
        try:
            await self.stop.wait()
        finally:
            counters.cancel()
            server.close()
            await runner.cleanup()

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        for path in ("/", "/app.js", "/style.css"):
            app.router.add_get(path, self._page)
        app.router.add_get("/favicon.ico", no_icon)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/camera/{camera}/frame.jpg", self._frame)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Read-only, bounded, and behind the token when there is one."""
        if request.method not in READ_ONLY:
            return web.Response(
                status=405,
                headers={"Allow": ", ".join(READ_ONLY)},
                text="read-only: GET and HEAD only\n",
            )
        if not self.bound.take(time.monotonic()):
            self.limited += 1
            return web.Response(status=429, headers={"Retry-After": "1"}, text="too many\n")
        if self.token is not None and request.path not in PUBLIC:
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    async def _page(self, request: web.Request) -> web.Response:
        name = request.path.lstrip("/") or "index.html"
        body, ctype = self.static[name]
        return web.Response(body=body, content_type=ctype, headers={"Cache-Control": "no-cache"})

    async def _state(self, request: web.Request) -> web.Response:
        ans = await self.answer("state", {"want": "state"})
        return web.Response(
            body=ans.body, content_type="application/json", headers={"Cache-Control": "no-store"}
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        ans = await self.answer("metrics", {"want": "metrics"})
        return web.Response(body=ans.body, headers={"Content-Type": str(ans.header["type"])})

    async def _frame(self, request: web.Request) -> web.Response:
        cam = request.match_info["camera"]
        if cam not in self.cameras:
            raise web.HTTPNotFound(text=f"no camera {cam!r}\n")
        ans = await self.answer(f"view/{cam}", {"want": "view", "camera": cam})
        return web.Response(
            body=ans.body,
            content_type="image/jpeg",
            headers={"Cache-Control": "no-store", "X-Frame-Seq": str(ans.header["seq"])},
        )


def main(argv: list[str]) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the box stops first and this
    # process follows when the box's end of the pair closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[0]))
    conn = Connection(int(argv[1]))
    config, _ = unpack(conn.recv_bytes())
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, int(config["nice"]))
    asyncio.run(PageProcess(config, conn).serve(sock))


if __name__ == "__main__":
    main(sys.argv[1:])
