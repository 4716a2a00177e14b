"""HTTP clients for the bench: N concurrent clients polling the page, the image and /metrics.

    python -m plantvision.face.hammer URL [--clients 50] [--seconds 60] [--pause 0.25]

Each client loads the page once, then, like the page's own script, loops over /api/state,
every camera's image and /metrics, pausing `--pause` seconds between rounds, until the time is
up or SIGTERM arrives; then one JSON line of counts by status is printed. (The bench pauses
it with SIGSTOP between its blocks.) Run it in its own process, so that its
own work does not land on the box's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections import Counter

import aiohttp


async def _client(
    session: aiohttp.ClientSession, paths: list[str], until: float, pause: float, c: Counter[str]
) -> None:
    first = True
    while time.monotonic() < until:
        for path in paths if first else paths[1:]:
            try:
                async with session.get(path) as r:
                    await r.read()
                    c[str(r.status)] += 1
                    if r.status in (429, 503):  # as the page does: wait as told
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            except (aiohttp.ClientError, TimeoutError) as exc:
                c[f"error {type(exc).__name__}"] += 1  # named, so a report says what failed
        first = False
        await asyncio.sleep(pause)


async def hammer(url: str, clients: int, seconds: float, pause: float) -> dict[str, int]:
    counts: Counter[str] = Counter()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    timeout = aiohttp.ClientTimeout(total=10)
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, timeout=timeout, connector=conn) as session:
        async with session.get("/api/state") as r:
            cams = [c["id"] for c in (await r.json())["cameras"]]
        paths = ["/", "/api/state", *[f"/camera/{c}/frame.jpg" for c in cams], "/metrics"]
        until = time.monotonic() + seconds
        tasks = [
            asyncio.create_task(_client(session, paths, until, pause, counts))
            for _ in range(clients)
        ]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in [waiter, *tasks]:
            t.cancel()
        await asyncio.gather(waiter, *tasks, return_exceptions=True)
    return dict(counts)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m plantvision.face.hammer")
    p.add_argument("url")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--pause", type=float, default=0.25)
    a = p.parse_args()
    counts = asyncio.run(hammer(a.url, a.clients, a.seconds, a.pause))
    print(json.dumps(counts, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
