"""Face: the cell as people and monitoring see it. Read-only, never on the trip path.

    server.py   the box's side: binds the port, starts the page process, and in one niced
                thread drains the metrics and answers the page process at most once per period
    serve.py    the page process: the status page, /api/state and /metrics (aiohttp); read-only
                (GET/HEAD), bounded in clients and rate, bearer token off loopback
    wire.py     what the two say over their socket pair (JSON; the page can only ask answers)
    metrics.py  Prometheus metrics (prometheus-client, a registry per server) and the windows
                behind the page, drained from the loop's tapes in the face's thread
    state.py    /api/state as plain JSON from the loop's snapshots
    view.py     the annotated view: boxes drawn and JPEG encoded in the face's thread
    events.py   a logger proxy feeding recent events to the page (a bounded, lock-free inbox)
    editor.py   `plantvision zones edit`: a local page to draw zones over a snapshot
    hammer.py   the bench's HTTP clients (`loop-bench --http-clients N`)
    replica.py  the bench's copy of the page's answers, served from another process
    static/     the pages: plain HTML, one script each, SVG overlays; no build step

The loop publishes by reference (loop/publish.py); everything here reads, copies, draws and
encodes in its own thread, and no client request runs in the loop's process.
"""
