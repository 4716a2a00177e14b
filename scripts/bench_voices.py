"""Figures for the MQTT voice (issue 19): event tell -> subscriber receipt, and the spool.

A real Mosquitto on a free loopback port, the product's MqttVoice fed through its event inbox
(as the log tap feeds it), a subscriber in the same process. Each event is put on the inbox
with its wall time; the latency is the subscriber's receipt time minus that (same clock).
Events are told one at a time, `--gap-ms` apart (as trips and refusals come). The spool is
timed alone: events stored one per transaction (as a drain of one event) and in batches.

    .venv/bin/python scripts/bench_voices.py [--events 500] [--gap-ms 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plantvision.face.events import EventInbox
from plantvision.voices.spool import Spool
from tests.voices.broker import Broker, Listener
from tests.voices.onebox import voice
from tests.waiting import wait_for


def _stats(name: str, values: list[float], unit: str = "ms") -> str:
    v = np.array(values)
    return (
        f"{name}: median {np.median(v):.2f} {unit}, p99 {np.percentile(v, 99):.2f} {unit}, "
        f"max {v.max():.2f} {unit} (n={len(v)})"
    )


def latency(folder: Path, events: int, gap_s: float) -> list[float]:
    broker = Broker(folder).start()
    sub = Listener(broker)
    received: dict[int, float] = {}
    lock = threading.Lock()
    inner = sub.client.on_message

    def on_message(c: object, u: object, msg: object) -> None:
        now = time.time()
        doc = json.loads(msg.payload)  # type: ignore[attr-defined]
        if doc.get("event") == "bench":
            with lock:
                received[doc["i"]] = now - doc["sent"]
        inner(c, u, msg)  # type: ignore[misc]

    sub.client.on_message = on_message
    inbox = EventInbox()
    v = voice(broker.port, "bench", folder / "spool.sqlite")
    v.inbox = inbox
    v.start()
    try:
        assert wait_for(lambda: v.connected, 30)
        for i in range(events):
            inbox.put("info", "bench", {"camera": "cam", "i": i, "sent": time.time()})
            time.sleep(gap_s)
        assert wait_for(lambda: len(received) == events, 60), f"{len(received)}/{events}"
    finally:
        v.stop()
        sub.close()
        broker.stop()
    return [received[i] * 1000 for i in range(events)]


def spool_rate(folder: Path, n: int, batch: int) -> float:
    spool = Spool(folder / f"rate-{batch}.sqlite", 10 * n)
    payload = json.dumps({"event": "trip", "seq": 1, "t": time.time(), "pad": "x" * 120}).encode()
    t0 = time.perf_counter()
    for _ in range(n // batch):
        spool.put([("plantvision/b/c/events", payload)] * batch)
    stored = time.perf_counter() - t0
    t0 = time.perf_counter()
    last = 0
    while True:
        entries = spool.after(last, 16)
        if not entries:
            break
        for e in entries:
            spool.done(e.n)
            last = e.n
    drained = time.perf_counter() - t0
    spool.close()
    print(f"spool, batches of {batch}: stored {n / stored:,.0f} events/s, "
          f"drained (read + delete one by one) {n / drained:,.0f} events/s")  # fmt: skip
    return n / stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lat = latency(folder, args.events, args.gap_ms / 1000)
        print(_stats("event told -> received by a subscriber (QoS 1, via the spool)", lat))
        spool_rate(folder, 5000, 1)
        spool_rate(folder, 20000, 100)


if __name__ == "__main__":
    main()
