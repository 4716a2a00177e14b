"""`plantvision zones edit`: a local page to draw a zone file's zones and masks over a picture.

The page shows a snapshot (an image file, or one frame grabbed from a deployment's camera) with
the file's zones and masks; vertices are dragged, zones and masks added and deleted, kind,
classes, anchor and confidence set. Saving writes the candidate next to the file, validates it
with the very function `check` uses (`parse_zone_file`) and only then renames it over the file,
so the file on disk always passes `check`; the first problem comes back to the page, which shows
it next to the zone it names. The header comments (the yaml-language-server line first) are
kept; comments further down are not.

It never talks to a running box: a box picks up new zones when it is restarted, on purpose.
Loopback only; saving needs the page's session token in a JSON request (a custom header), which
another web site's page cannot send or read.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from aiohttp import web

from plantvision.configio import file_sha256, read_yaml
from plantvision.errors import ConfigError
from plantvision.face.web import asset, bind, no_icon
from plantvision.zones import floor
from plantvision.zones.checks import to_normalised
from plantvision.zones.config import parse_zone_file
from plantvision.zones.geometry import Anchor
from plantvision.zones.model import ZoneFileModel

TOP_ORDER = ("version", "camera", "units", "frame_size", "calibration", "hazard_mm")
ITEM_ORDER = ("id", "kind", "polygon", "classes", "anchor", "min_confidence")
_WHERE = re.compile(r"^(zones|masks)\[(\d+)\]")
_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:")


class FlowList(list[Any]):
    """A list written on one line: points and polygons."""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as the shipped files are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_Dumper.add_representer(
    FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)


def _flow(value: Any) -> Any:
    """Points and lists of points on one line; mappings and other lists recursed into."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return FlowList(FlowList(v) for v in value)
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return FlowList(value)
    if isinstance(value, list):
        return [_flow(v) for v in value]
    if isinstance(value, dict):
        return {k: _flow(v) for k, v in value.items()}
    return value


def _ordered(d: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {**{k: d[k] for k in order if k in d}, **{k: v for k, v in d.items() if k not in order}}


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(_flow(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def top_blocks(text: str) -> list[tuple[str | None, list[str], list[str]]]:
    """The file cut at its top-level keys: (key, comment lines just above it, its lines).
    The first block (key None) holds what precedes the first key."""
    blocks: list[tuple[str | None, list[str], list[str]]] = [(None, [], [])]
    pending: list[str] = []
    for line in text.splitlines(keepends=True):
        m = _TOP_KEY.match(line)
        if m:
            blocks.append((m.group(1), pending, [line]))
            pending = []
        elif not line.strip() or line.startswith("#"):
            pending.append(line)  # belongs to the next key, unless the block goes on
        else:
            blocks[-1][2].extend([*pending, line])
            pending = []
    blocks[-1][2].extend(pending)
    return blocks


def render_yaml(original: str, data: dict[str, Any]) -> str:
    """`data` as YAML. Only the zones and masks are written anew: every other top-level key
    keeps its original lines and the comments above it, the header first."""
    items: dict[str, Any] = {
        k: [_ordered(i, ITEM_ORDER) for i in data[k]] for k in ("zones", "masks") if k in data
    }
    if not any(key for key, _, _ in top_blocks(original)):
        header = "".join(top_blocks(original)[0][2])
        return header + _dump({**_ordered(data, TOP_ORDER), **items})
    out: list[str] = []
    for key, comments, lines in top_blocks(original):
        if key in ("zones", "masks"):
            if key in items:
                out += [*comments, _dump({key: items.pop(key)})]
        else:
            out += [*comments, *lines]
    text = "".join(out)
    for key, value in items.items():  # a list the file did not have yet
        text += ("" if text.endswith("\n") else "\n") + _dump({key: value})
    return text


class ZoneDocument:
    """A zone file on disk and the conversions between its units and the page's (0..1)."""

    def __init__(self, path: Path, camera: str = "cam0") -> None:
        self.path = path
        if path.exists():
            self.model: ZoneFileModel | None = parse_zone_file(path)  # must pass `check` first
            self.text = path.read_text(encoding="utf-8")
            self.raw: dict[str, Any] = read_yaml(path)
        else:  # a new file: normalised units, zones drawn from scratch
            schema = Path(__file__).resolve().parents[1] / "schemas" / "zones.schema.json"
            rel = os.path.relpath(schema, path.resolve().parent)
            self.model, self.text = None, f"# yaml-language-server: $schema={rel}\n"
            self.raw = {"version": 1, "camera": camera, "units": "normalized", "zones": []}

    def to_page(self) -> dict[str, Any]:
        items = {}
        for key in ("zones", "masks"):
            items[key] = [
                {**item, "polygon_norm": self._normalise(item["polygon"])}
                for item in self.raw.get(key) or []
            ]
        return {
            "file": str(self.path),
            "units": self.raw.get("units"),
            "camera": self.raw.get("camera"),
            **items,
            "anchors": [a.value for a in Anchor],
        }

    def _normalise(self, pts: list[list[float]]) -> list[list[float]]:
        if self.model is None:
            return pts
        norm = to_normalised(self.model, [(float(x), float(y)) for x, y in pts])
        return [[round(float(x), 5), round(float(y), 5)] for x, y in norm]

    def from_page(self, pts: list[list[float]]) -> list[list[float]]:
        """Page points (0..1 of the image) in the file's units, rounded sensibly."""
        p = np.clip(np.asarray(pts, np.float64).reshape(-1, 2), 0.0, 1.0)
        units, size = self.raw.get("units"), self.raw.get("frame_size")
        if units == "normalized" or size is None:
            return [[round(float(x), 4), round(float(y), 4)] for x, y in p]
        px = p * np.asarray(size, np.float64)
        if units == "pixels":
            return [[round(float(x), 1), round(float(y), 1)] for x, y in px]
        assert self.model is not None
        assert self.model.calibration is not None
        mm = floor.apply(self.model.calibration.homography(), px)
        return [[round(float(x)), round(float(y))] for x, y in mm]

    def candidate(self, page: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in self.raw.items() if k not in ("zones", "masks")}
        for key in ("zones", "masks"):
            items = []
            for item in page.get(key) or []:
                clean = {k: v for k, v in item.items() if k != "polygon_norm" and v is not None}
                clean["polygon"] = self.from_page(item["polygon_norm"])
                items.append(clean)
            if items or key == "zones":
                data[key] = items
        return data

    def save(self, page: dict[str, Any]) -> dict[str, Any]:
        """Validate the page's zones as `check` would and write them, or say what is wrong."""
        text = render_yaml(self.text, self.candidate(page))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.edit")
        tmp.write_text(text, encoding="utf-8")
        try:
            model = parse_zone_file(tmp)
        except ConfigError as exc:
            tmp.unlink()
            return {"ok": False, **_error_json(exc, str(self.path))}
        os.replace(tmp, self.path)
        self.model, self.text, self.raw = model, text, read_yaml(self.path)
        return {"ok": True, "sha256": file_sha256(self.path), "file": str(self.path)}


def _error_json(exc: ConfigError, shown_file: str) -> dict[str, Any]:
    m = _WHERE.match(exc.field)
    fix = f" (fix: {exc.fix})" if exc.fix else ""
    return {
        "message": f"{shown_file}: {exc.field}: {exc.problem}{fix}",
        "field": exc.field,
        "problem": exc.problem,
        "fix": exc.fix,
        "item": f"{m.group(1)}:{m.group(2)}" if m else None,
    }


class ZoneEditor:
    """Serves the editor for one zone file over one picture on loopback, in its own thread."""

    def __init__(self, doc: ZoneDocument, image: bytes, image_type: str, port: int = 0) -> None:
        self.doc, self.image, self.image_type, self.port = doc, image, image_type, port
        self.session = secrets.token_urlsafe(16)
        self.url = ""
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> str:
        sock = bind("127.0.0.1", self.port)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(sock),), name="zone-editor", daemon=True
        )
        self._thread.start()
        self._ready.wait(10.0)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5.0)

    async def _serve(self, sock: Any) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_get("/", self._asset)
        app.router.add_get("/editor.js", self._asset)
        app.router.add_get("/image", self._image)
        app.router.add_get("/favicon.ico", no_icon)
        app.router.add_get("/api/zones", self._zones)
        app.router.add_post("/api/save", self._save)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _asset(self, request: web.Request) -> web.Response:
        body, ctype = asset("editor.html" if request.path == "/" else "editor.js")
        return web.Response(body=body, content_type=ctype, headers={"Cache-Control": "no-cache"})

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=self.image, content_type=self.image_type)

    async def _zones(self, request: web.Request) -> web.Response:
        return web.json_response({**self.doc.to_page(), "session": self.session})

    async def _save(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json" or not secrets.compare_digest(
            request.headers.get("X-Editor-Session", ""), self.session
        ):
            return web.json_response({"ok": False, "message": "not this editor's page"}, status=403)
        page = await request.json()
        return web.json_response(self.doc.save(page))
