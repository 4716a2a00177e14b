"""`plantvision fleet`: every box on the broker on one page, the status page's stack (aiohttp).

The broker is the engine that scales it (Mosquitto here, EMQX or any MQTT broker in a plant):
this subscribes to `<prefix>/#` and keeps, per box, its retained status (online, or the
broker's will: offline), per camera its retained state and its last trip (the `permit_off`
event with its response time). paho's network thread only appends messages to a bounded deque;
the page's thread folds them into the book and serves it. Read-only (GET and HEAD), loopback
unless a bearer token is configured, like the status page.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from plantvision.face.server import lower_priority
from plantvision.face.web import bind, no_icon
from plantvision.voices import mqtt_client as mc

INBOX_LENGTH = 65536
READ_ONLY = ("GET", "HEAD")
STATIC = {"/": ("fleet.html", "text/html"), "/fleet.js": ("fleet.js", "text/javascript")}


@dataclass
class Camera:
    state: dict[str, Any] = field(default_factory=dict)
    last_trip: dict[str, Any] | None = None


@dataclass
class Box:
    status: dict[str, Any] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)


class FleetBook:
    """What the broker has told about every box (pure: fed messages, asked for JSON)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.boxes: dict[str, Box] = {}
        self.messages = 0

    def apply(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != self.prefix:
            return
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            return
        if not isinstance(doc, dict):
            return  # an empty retained message clears a topic: nothing to show
        self.messages += 1
        box = self.boxes.setdefault(parts[1], Box())
        if parts[2:] == ["status"]:
            box.status = box.status | doc  # offline keeps what the box last said of itself
        elif len(parts) == 4 and parts[3] == "state":
            box.cameras.setdefault(parts[2], Camera()).state = doc
        elif len(parts) == 4 and parts[3] == "events" and _is_trip(doc):
            box.cameras.setdefault(parts[2], Camera()).last_trip = {
                k: doc.get(k) for k in ("t", "response_ms", "cause", "zone", "seq")
            }

    def json(self) -> dict[str, Any]:
        rows = []
        for name in sorted(self.boxes):
            box = self.boxes[name]
            online = bool(box.status.get("online", False))
            common = {"box": name, "box_online": online, "page": box.status.get("page"),
                      "deployment": box.status.get("deployment"),
                      "version": box.status.get("version")}  # fmt: skip
            cam_ids: list[str | None] = [*sorted(box.cameras)] or [None]
            for cam_id in cam_ids:
                cam = box.cameras.get(cam_id) if cam_id is not None else None
                st = cam.state if cam is not None else {}
                rows.append(common | {
                    "camera": cam_id,
                    "online": online and bool(st.get("online", False)),
                    "permit": bool(st.get("permit", False)) if online else None,
                    "cause": st.get("cause"),
                    "fault_code": st.get("fault_code"),
                    "last_trip": cam.last_trip if cam is not None else None,
                })  # fmt: skip
        n_online = sum(1 for b in self.boxes.values() if b.status.get("online"))
        return {"boxes": len(self.boxes), "online": n_online, "rows": rows}


def _is_trip(doc: dict[str, Any]) -> bool:
    return doc.get("event") == "permit_off" and doc.get("cause") not in (None, "shutdown")


class FleetServer:
    """The subscriber and the page, each in a thread of its own."""

    def __init__(
        self,
        client: mc.Client,
        broker: tuple[str, int],
        prefix: str,
        http: tuple[str, int],
        token: str | None = None,
    ) -> None:
        self.client, self.broker, self.prefix = client, broker, prefix
        self.http, self.token = http, token
        self.book = FleetBook(prefix)
        self._inbox: deque[tuple[str, bytes]] = deque(maxlen=INBOX_LENGTH)
        self._static = {
            path: (resources.files("plantvision.voices").joinpath("static", f).read_bytes(), ct)
            for path, (f, ct) in STATIC.items()
        }
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        sock = bind(*self.http)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self._inbox.append(
            (msg.topic, bytes(msg.payload))
        )
        self.client.connect_async(self.broker[0], self.broker[1], keepalive=30)
        self.client.loop_start()  # paho's thread: reconnects by itself
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fleet", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0):
            raise RuntimeError("fleet page failed to start")
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5.0)
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if mc.reason_ok(reason):
            c.subscribe(f"{self.prefix}/#", qos=1)

    def _run(self, sock: Any) -> None:
        lower_priority()
        asyncio.run(self._serve(sock))

    async def _serve(self, sock: Any) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application(middlewares=[self._guard])
        for path in STATIC:
            app.router.add_get(path, self._page)
        app.router.add_get("/favicon.ico", no_icon)
        app.router.add_get("/api/fleet", self._api)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method not in READ_ONLY:
            return web.Response(status=405, headers={"Allow": ", ".join(READ_ONLY)})
        if self.token is not None and request.path == "/api/fleet":
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        result: web.StreamResponse = await handler(request)
        return result

    async def _page(self, request: web.Request) -> web.Response:
        body, ctype = self._static[request.path]
        return web.Response(body=body, content_type=ctype, headers={"Cache-Control": "no-cache"})

    async def _api(self, request: web.Request) -> web.Response:
        while True:
            try:
                self.book.apply(*self._inbox.popleft())
            except IndexError:
                break
        return web.json_response(self.book.json(), headers={"Cache-Control": "no-store"})
