"""A copy of the page served from another process, for the bench's "clients elsewhere" phase.

    python -m plantvision.face.replica URL [--rate 200]

Fetches the page's answers from URL once (the page, /api/state, every camera's image,
/metrics) and serves those bytes on a free loopback port with the page's own rate bound (429),
until stopped; its first line of stdout is its address (its caller sets its CPU priority, as
the page's threads have theirs). Clients polling it cost the machine what clients and a server
cost, but nothing runs in the box's process: the difference between polling the page and
polling this copy is the page's own cost to the loop, and the copy is the floor a page moved
into a process of its own could reach.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request

from aiohttp import web

from plantvision.face.web import RateBound


def fetch(url: str) -> dict[str, tuple[bytes, str]]:
    """path -> (body, content type) for every path the bench's clients poll."""

    def get(path: str) -> tuple[bytes, str]:
        with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as r:
            return r.read(), r.headers.get("Content-Type", "application/octet-stream")

    state = get("/api/state")
    cams = [c["id"] for c in json.loads(state[0])["cameras"]]
    paths = ["/", "/metrics", *[f"/camera/{c}/frame.jpg" for c in cams]]
    return {"/api/state": state, **{p: get(p) for p in paths}}


def app(answers: dict[str, tuple[bytes, str]], rate: float) -> web.Application:
    bound = RateBound(rate, time.monotonic())

    async def serve(request: web.Request) -> web.Response:
        if not bound.take(time.monotonic()):
            return web.Response(status=429, headers={"Retry-After": "1"}, text="too many\n")
        body, ctype = answers[request.path]
        return web.Response(body=body, headers={"Content-Type": ctype})

    a = web.Application()
    for path in answers:
        a.router.add_get(path, serve)
    return a


async def _serve(answers: dict[str, tuple[bytes, str]], rate: float) -> None:
    runner = web.AppRunner(app(answers, rate), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"http://127.0.0.1:{port}/", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m plantvision.face.replica")
    p.add_argument("url")
    p.add_argument("--rate", type=float, default=200.0, help="requests a second, all clients")
    a = p.parse_args()
    answers = fetch(a.url)
    asyncio.run(_serve(answers, a.rate))


if __name__ == "__main__":
    main()
