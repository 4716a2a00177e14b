"""The status page, /api/state and /metrics: an aiohttp server in its own thread and event loop.

Read-only by design: GET and HEAD only (any other method gets 405); no endpoint resets, changes
outputs or edits zones. Bounded: at most `max_clients` open connections (more are refused with
503 at accept), at most `max_requests_per_s` requests a second for all clients together (429),
idle connections closed after a few seconds, one JPEG encode per camera per view period, and
/metrics and /api/state built at most a few times a second whatever the number of clients. The
loop is never waited on: everything here reads the loop's published snapshots by reference.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from plantvision.configio import validation_error
from plantvision.errors import ConfigError
from plantvision.face.events import EventInbox
from plantvision.face.metrics import Observer
from plantvision.face.state import RunInfo, state_json
from plantvision.face.view import ViewEncoder
from plantvision.face.web import asset, bind, no_icon
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import HttpModel, is_loopback

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ_ONLY = ("GET", "HEAD")
DRAIN_S = 0.1  # how often the face drains the loop's tapes and events
STATE_TTL_S = 0.1
METRICS_TTL_S = 0.5
KEEPALIVE_S = 5.0
# A Python thread keeps the GIL up to the switch interval (5 ms by default) while another waits:
# the loop, back from inference or a socket, must not wait that long behind a busy page.
SWITCH_INTERVAL_S = 0.0005
# And the page's threads run at a lower CPU priority than the loop (Linux: per thread).
FACE_NICE = 10
PUBLIC = frozenset({"/", "/app.js", "/style.css", "/favicon.ico"})
_REFUSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
)


def http_override(cfg: HttpModel, arg: str | None) -> HttpModel:
    """`--http HOST:PORT` or `--http off` on top of the deployment's `http:` section."""
    if arg is None:
        return cfg
    if arg == "off":
        return cfg.model_copy(update={"enabled": False})
    host, sep, port = arg.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError("--http", "--http", f"{arg!r} is not HOST:PORT", "e.g. 127.0.0.1:8080")
    try:
        return HttpModel.model_validate(
            {**cfg.model_dump(), "enabled": True, "host": host.strip("[]"), "port": int(port)}
        )
    except ValidationError as exc:
        raise validation_error("--http", exc) from None


def bearer_token(cfg: HttpModel, dep_file: str) -> str | None:
    """The token every data request must carry (from `http.token_env`), or None on loopback."""
    if cfg.token_env is None:
        return None
    token = os.environ.get(cfg.token_env, "")
    if not token:
        raise ConfigError(
            dep_file,
            "http.token_env",
            f"environment variable {cfg.token_env} is unset or empty",
            f"export {cfg.token_env}=<a long random token>",
        )
    return token


def lower_priority() -> None:
    """Nice the calling thread (Linux sets priorities per thread; elsewhere a no-op)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), FACE_NICE))
    except (AttributeError, OSError):
        pass


class _Refuse(asyncio.Protocol):
    """Over the connection bound: a 503 and close, before reading anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSE)
        transport.close()


class _Cache:
    """One value rebuilt at most every `ttl_s` (single-threaded: the face's event loop)."""

    def __init__(self, ttl_s: float, build: Callable[[], Any]) -> None:
        self._ttl_s, self._build = ttl_s, build
        self._value: Any = None
        self._t = -1e9

    def get(self) -> Any:
        now = time.monotonic()
        if now - self._t >= self._ttl_s:
            self._value, self._t = self._build(), now
        return self._value


class FaceServer:
    """Serve the page for `controller` on `cfg.host:cfg.port` from a thread of its own."""

    def __init__(
        self,
        controller: Controller,
        cfg: HttpModel,
        info: RunInfo,
        inbox: EventInbox,
        *,
        token: str | None = None,
        log: Any = None,
    ) -> None:
        self.cfg, self.info, self.token, self.log = cfg, info, token, log
        self.observer = Observer(controller, inbox)
        self._tids: list[int] = []  # native ids of the page's threads
        self._pool = ThreadPoolExecutor(
            1, thread_name_prefix="face-encode", initializer=self._own_thread
        )
        self.views = {
            c.id: ViewEncoder(self._pool, cfg.view_fps, cfg.jpeg_quality)
            for c in controller.cameras
        }
        self._state = _Cache(STATE_TTL_S, lambda: state_json(self.observer, info))
        self._metrics = _Cache(METRICS_TTL_S, lambda: generate_latest(self.observer.registry))
        self._bucket, self._bucket_t = cfg.max_requests_per_s, time.monotonic()
        self._static = {name: asset(name) for name in ("index.html", "app.js", "style.css")}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self.url = ""
        self.refused = self.limited = 0
        self._handler: web.Server | None = None

    @property
    def connections(self) -> int:
        """Connections open now."""
        return 0 if self._handler is None else len(self._handler.connections)

    # -- life cycle (caller's thread) --------------------------------------------------------

    def start(self) -> str:
        """Bind (a busy port is a ConfigError, before anything is energised), serve, return
        the page's address."""
        sock = bind(self.cfg.host, self.cfg.port)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        self._thread = threading.Thread(target=self._run, args=(sock,), name="face", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0) or self._failed is not None:
            raise RuntimeError(f"status page failed to start: {self._failed!r}")
        if self.log is not None:
            self.log.info("http_started", url=self.url, clients=self.cfg.max_clients)
            if not is_loopback(self.cfg.host):
                self.log.warning("http_exposed", host=self.cfg.host, token_env=self.cfg.token_env)
        return self.url

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(5.0)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the face's thread -----------------------------------------------------------------

    def _own_thread(self) -> None:
        self._tids.append(threading.get_native_id())
        lower_priority()

    def cpu_seconds(self) -> float:
        """CPU time the page's threads have used (Linux; NaN elsewhere)."""
        total = 0.0
        for tid in self._tids:
            try:
                stat = Path(f"/proc/self/task/{tid}/stat").read_text()
            except OSError:
                return float("nan")
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def _run(self, sock: socket.socket) -> None:
        self._own_thread()
        try:
            asyncio.run(self._serve(sock))
        except BaseException as exc:  # reported to start(); never reaches the loop
            self._failed = exc
            self._ready.set()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        runner = web.AppRunner(
            self._app(), handle_signals=False, access_log=None, keepalive_timeout=KEEPALIVE_S
        )
        await runner.setup()
        handler = self._handler = runner.server
        assert handler is not None

        def factory() -> asyncio.Protocol:
            if len(handler.connections) >= self.cfg.max_clients:
                self.refused += 1
                return _Refuse()
            return handler()

        server = await self._loop.create_server(factory, sock=sock)
        drain = asyncio.create_task(self._drain())
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            drain.cancel()
            server.close()
            await runner.cleanup()

    async def _drain(self) -> None:
        while True:
            try:
                self.observer.drain()
            except Exception as exc:  # a bug here must not end the page
                if self.log is not None:
                    self.log.error("face_error", error=repr(exc))
            await asyncio.sleep(DRAIN_S)

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._page)
        app.router.add_get("/app.js", self._page)
        app.router.add_get("/style.css", self._page)
        app.router.add_get("/favicon.ico", no_icon)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_get("/metrics", self._api_metrics)
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
        if not self._take_token():
            self.limited += 1
            return web.Response(status=429, headers={"Retry-After": "1"}, text="too many\n")
        if self.token is not None and request.path not in PUBLIC:
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = self.cfg.max_requests_per_s
        self._bucket = min(rate, self._bucket + (now - self._bucket_t) * rate)
        self._bucket_t = now
        if self._bucket < 1.0:
            return False
        self._bucket -= 1.0
        return True

    async def _page(self, request: web.Request) -> web.Response:
        name = request.path.lstrip("/") or "index.html"
        body, ctype = self._static[name]
        return web.Response(body=body, content_type=ctype, headers={"Cache-Control": "no-cache"})

    async def _api_state(self, request: web.Request) -> web.Response:
        return web.json_response(self._state.get(), headers={"Cache-Control": "no-store"})

    async def _api_metrics(self, request: web.Request) -> web.Response:
        body: bytes = self._metrics.get()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _frame(self, request: web.Request) -> web.Response:
        cam_id = request.match_info["camera"]
        view = self.views.get(cam_id)
        if view is None:
            raise web.HTTPNotFound(text=f"no camera {cam_id!r}\n")
        cam = next(c for c in self.observer.controller.cameras if c.id == cam_id)
        jpeg = await view.get(cam.published)
        return web.Response(
            body=jpeg.data,
            content_type="image/jpeg",
            headers={"Cache-Control": "no-store", "X-Frame-Seq": str(jpeg.seq)},
        )


def start_face(
    controller: Controller,
    cfg: HttpModel,
    info: RunInfo,
    inbox: EventInbox,
    token: str | None,
    log: Any,
) -> FaceServer | None:
    """Start the page for `plantvision run` and print its address. The page is an outside voice:
    one that cannot start (a port in use) is reported and the box runs on without it."""
    if not cfg.enabled:
        return None
    face = FaceServer(controller, cfg, info, inbox, token=token, log=log)
    try:
        url = face.start()
    except Exception as exc:
        face.stop()
        log.warning("http_unavailable", error=str(exc))
        print(f"status page unavailable: {exc}", flush=True)
        return None
    print(f"status page: {url}  (metrics: {url}metrics)", flush=True)
    return face
