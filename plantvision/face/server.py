"""The status page, /api/state and /metrics: served by a process of its own, fed by the box.

The page's clients never run Python in the loop's process. The box binds the port (a busy one
is a ConfigError before anything is energised) and starts the page process
(plantvision/face/serve.py) with the socket and one end of a socket pair. In the box one niced
thread (`FaceServer`) drains the loop's tapes and events into the metrics every 0.1 s and
answers the page process's wants: /api/state at most every 0.1 s, /metrics every 0.5 s, each
camera's annotated JPEG at most `view_fps` times a second, whatever the page process asks
(face/wire.py: it can ask for nothing else). The loop is never waited on: everything here reads
the loop's published snapshots by reference. A page process that dies is logged
(`http_stopped`) and counted, and the box runs on; the page process ends when the box does.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from plantvision.configio import validation_error
from plantvision.errors import ConfigError
from plantvision.face.events import EventInbox
from plantvision.face.metrics import Observer
from plantvision.face.state import RunInfo, state_json
from plantvision.face.view import ViewCache
from plantvision.face.web import bind
from plantvision.face.wire import (
    COUNTERS_S,
    MAX_MESSAGE,
    METRICS_TTL_S,
    STATE_TTL_S,
    MessageBudget,
    Want,
    counters_of,
    pack,
    unpack,
    want_of,
)
from plantvision.loop.controller import Controller
from plantvision.loop.deployment import HttpModel, is_loopback

DRAIN_S = 0.1  # how often the face drains the loop's tapes and events
START_S = 30.0  # the page process's start (an interpreter and aiohttp) on a loaded machine
# The box's thread (draining, building answers) runs at a lower CPU priority than the loop
# (Linux: per thread), and so does the page process.
FACE_NICE = 10
# A Python thread keeps the GIL up to the switch interval (5 ms by default) while another waits:
# the loop, back from inference or a socket, must not wait that long behind the face's thread.
SWITCH_INTERVAL_S = 0.0005


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


class _Cache:
    """One answer rebuilt at most every `ttl_s` (the face's thread only)."""

    def __init__(self, ttl_s: float, build: Callable[[], bytes]) -> None:
        self._ttl_s, self._build = ttl_s, build
        self._value = b""
        self._t = -1e9

    def get(self) -> bytes:
        now = time.monotonic()
        if now - self._t >= self._ttl_s:
            self._value, self._t = self._build(), now
        return self._value


def proc_cpu_seconds(stat_path: Path) -> float:
    """user + system CPU seconds from a /proc .../stat file (NaN when unreadable)."""
    try:
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class FaceServer:
    """Serve the page for `controller` on `cfg.host:cfg.port` from a process of its own."""

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
        self.cameras = {c.id: c for c in controller.cameras}
        self.views = {c.id: ViewCache(cfg.jpeg_quality) for c in controller.cameras}
        self._view_s = 1.0 / cfg.view_fps
        self._view_t = dict.fromkeys(self.cameras, -1e9)
        self._state = _Cache(
            STATE_TTL_S, lambda: json.dumps(state_json(self.observer, info)).encode()
        )
        self._metrics = _Cache(METRICS_TTL_S, lambda: generate_latest(self.observer.registry))
        self._tid: int | None = None  # native id of the face's thread
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._stopping = threading.Event()
        self.url = ""
        self.refused = self.limited = self.connections = 0
        self.failures = 0  # page process deaths and faults of the face's thread, each logged
        self.floods = 0  # spells of the page process asking faster than it honestly can
        self._flood_told = False
        self.answered: Counter[str] = Counter()  # answers built for the page process, by kind

    @property
    def pid(self) -> int:
        """The page process's id (0 before start)."""
        return 0 if self._proc is None else self._proc.pid

    @property
    def encodes(self) -> int:
        return sum(v.encodes for v in self.views.values())

    # -- life cycle (caller's thread) --------------------------------------------------------

    def start(self) -> str:
        """Bind, start the page process and the face's thread, return the page's address."""
        sock = bind(self.cfg.host, self.cfg.port)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        ours, theirs = socket.socketpair()
        with sock, theirs:
            fds = (sock.fileno(), theirs.fileno())
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "plantvision.face.serve", *map(str, fds)], pass_fds=fds
            )
        conn = self._conn = Connection(ours.detach())
        conn.send_bytes(pack({
            "cameras": list(self.cameras), "token": self.token, "nice": FACE_NICE,
            "view_fps": self.cfg.view_fps, "max_clients": self.cfg.max_clients,
            "max_requests_per_s": self.cfg.max_requests_per_s,
        }))  # fmt: skip
        try:
            ready = conn.poll(START_S) and unpack(conn.recv_bytes(MAX_MESSAGE))[0]["kind"]
        except (EOFError, OSError, ValueError, KeyError):
            ready = False
        if ready != "ready":
            raise RuntimeError(f"status page process did not start (exit {self._proc.poll()})")
        self._thread = threading.Thread(target=self._run, name="face", daemon=True)
        self._thread.start()
        if self.log is not None:
            self.log.info(
                "http_started", url=self.url, clients=self.cfg.max_clients, pid=self._proc.pid
            )
            if not is_loopback(self.cfg.host):
                self.log.warning("http_exposed", host=self.cfg.host, token_env=self.cfg.token_env)
        return self.url

    def stop(self) -> None:
        """Stop the face's thread, close the pair (the page process ends on it), reap it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            try:
                self._proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5.0)

    def cpu_seconds(self) -> float:
        """CPU time the face's thread in the box has used (Linux; NaN elsewhere)."""
        if self._tid is None:
            return 0.0
        return proc_cpu_seconds(Path(f"/proc/self/task/{self._tid}/stat"))

    def page_cpu_seconds(self) -> float:
        """CPU time the page process has used (Linux; NaN elsewhere)."""
        if self._proc is None:
            return 0.0
        return proc_cpu_seconds(Path(f"/proc/{self._proc.pid}/stat"))

    # -- the face's thread -----------------------------------------------------------------

    def _run(self) -> None:
        self._tid = threading.get_native_id()
        lower_priority()
        conn = self._conn
        assert conn is not None
        drained = 0.0
        budget = MessageBudget(self.message_rate_per_s, time.monotonic())
        while not self._stopping.is_set():
            wait_s = budget.take(time.monotonic())
            if wait_s > 0:  # flooded: leave the rest in the pair (the page process waits)
                self._flooded(wait_s)
                continue
            try:
                if conn.poll(DRAIN_S):
                    self._on_message(conn, conn.recv_bytes(MAX_MESSAGE))
                else:  # nothing waiting: any flood is over
                    self._flood_told = False
            except (EOFError, OSError) as exc:
                if not self._stopping.is_set():
                    self._fault("http_stopped", exc)
                return
            except ValueError as exc:  # a malformed message (not a JSON object): ignored
                self._fault("face_error", exc)
            if time.monotonic() - drained >= DRAIN_S:
                drained = time.monotonic()
                try:
                    self.observer.drain()
                except Exception as exc:  # a bug here must not end the page
                    self._fault("face_error", exc)

    @property
    def message_rate_per_s(self) -> float:
        """Twice what an honest page process can ask for: state, metrics and its counters at
        most once per period, each camera's view at `view_fps`."""
        honest = 1 / STATE_TTL_S + 1 / METRICS_TTL_S + 1 / COUNTERS_S
        return 2 * (honest + len(self.cameras) * self.cfg.view_fps)

    def _flooded(self, wait_s: float) -> None:
        """Over budget: logged and counted once per spell, then wait for the bucket."""
        if not self._flood_told:
            self._flood_told = True
            self.floods += 1
            if self.log is not None:
                self.log.error("face_flooded", rate_per_s=round(self.message_rate_per_s, 1))
        self._stopping.wait(min(wait_s, DRAIN_S))

    def _fault(self, event: str, exc: BaseException) -> None:
        """Log, then count (a reader of the count finds the line written)."""
        if self.log is not None:
            code = None
            if self._proc is not None and event == "http_stopped":
                with contextlib.suppress(subprocess.TimeoutExpired):  # it follows the pair's end
                    code = self._proc.wait(2.0)
            self.log.error(event, error=repr(exc), exit_code=code)
        self.failures += 1

    def _on_message(self, conn: Connection, msg: bytes) -> None:
        header, _ = unpack(msg)
        counters = counters_of(header)
        if counters is not None:
            self.refused, self.limited = counters["refused"], counters["limited"]
            self.connections = counters["connections"]
            return
        want = want_of(header, frozenset(self.cameras))
        if want is None:
            return  # the page process can ask for nothing else
        try:
            head, body = self._answer(want)
        except Exception as exc:  # a bug here must not end the page: that answer is a 500
            self._fault("face_error", exc)
            head, body = {"error": repr(exc)}, b""
        conn.send_bytes(pack({"key": want.key, **head}, body))

    def _answer(self, want: Want) -> tuple[dict[str, Any], bytes]:
        """Built at most once per period whatever the page process asks."""
        self.observer.drain()
        self.answered[want.kind] += 1
        if want.kind == "state":
            return {}, self._state.get()
        if want.kind == "metrics":
            return {"type": CONTENT_TYPE_LATEST}, self._metrics.get()
        now = time.monotonic()
        snap = None
        if now - self._view_t[want.camera] >= self._view_s:
            self._view_t[want.camera] = now
            snap = self.cameras[want.camera].published
        jpeg = self.views[want.camera].get(snap)
        return {"seq": jpeg.seq}, jpeg.data


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
