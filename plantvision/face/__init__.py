"""Face: the cell as people and monitoring see it. Read-only, never on the trip path.

    server.py   the status page, /api/state and /metrics (aiohttp, its own thread and loop);
                read-only (GET/HEAD), bounded in clients and rate, bearer token off loopback
    metrics.py  Prometheus metrics (prometheus-client, a registry per server) and the windows
                behind the page, drained from the loop's tapes in the face's thread
    state.py    /api/state as plain JSON from the loop's snapshots
    view.py     the annotated view: boxes drawn and JPEG encoded in the face's encoder thread
    events.py   a logger proxy feeding recent events to the page (a bounded, lock-free inbox)
    editor.py   `plantvision zones edit`: a local page to draw zones over a snapshot
    hammer.py   the bench's HTTP clients (`loop-bench --http-clients N`)
    static/     the pages: plain HTML, one script each, SVG overlays; no build step

The loop publishes by reference (loop/publish.py); everything here reads, copies, draws and
encodes in its own threads.
"""
