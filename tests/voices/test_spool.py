"""The store-and-forward buffer, and the MQTT voice across a restart of the box."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plantvision.face.events import EventInbox
from plantvision.loop.voices_config import MqttModel
from plantvision.voices.cell import Identity
from plantvision.voices.mqtt import MqttVoice
from plantvision.voices.spool import Entry, Spool
from tests.voices.broker import HANG_S, Broker, Listener, free_port
from tests.waiting import wait_for


def _rows(k: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [("t/events", json.dumps({"i": i}).encode()) for i in range(start, start + k)]


def test_events_come_out_in_order_and_leave_only_when_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 100)
    spool.put(_rows(5))
    first = spool.after(0, 3)
    assert [json.loads(e.payload)["i"] for e in first] == [0, 1, 2]
    spool.done(first[1].n)
    assert [json.loads(e.payload)["i"] for e in spool.after(0, 10)] == [0, 2, 3, 4]
    assert json.loads(first[0].numbered()) == {"n": first[0].n, "i": 0}
    assert json.loads(Entry(7, "t", b"{}").numbered()) == {"n": 7}


def test_overflow_drops_the_oldest_and_counts_them_across_a_restart(tmp_path: Path) -> None:
    """Bounded at 10: 25 stored, the first 15 dropped and counted; a reopened file still has
    the newest 10 and the count; numbers are never reused."""
    path = tmp_path / "s.sqlite"
    spool = Spool(path, 10)
    assert spool.put(_rows(20)) == 10
    assert spool.put(_rows(5, start=20)) == 5
    last_n = spool.after(0, 100)[-1].n
    spool.close()
    again = Spool(path, 10)
    kept = again.after(0, 100)
    assert [json.loads(e.payload)["i"] for e in kept] == list(range(15, 25))
    assert again.dropped == 15
    again.put(_rows(1, start=25))
    assert again.after(last_n, 1)[0].n == last_n + 1


def _stored(path: Path) -> list[Entry]:
    spool = Spool(path, 100)
    try:
        return spool.after(0, 100)
    finally:
        spool.close()


def _voice(port: int, inbox: EventInbox, spool: Path) -> MqttVoice:
    cfg = MqttModel(host="127.0.0.1", port=port, box_id="bx", keepalive_s=5)
    ident = Identity("bx", "dep", "0" * 64, {"cam": "1" * 64}, 0.0)
    states: list[dict[str, Any]] = [
        {"camera": "cam", "permit": True, "cause": None, "zone": None, "fault_code": 0,
         "online": True, "trips": 0}
    ]  # fmt: skip
    return MqttVoice(cfg, ident, lambda: states, inbox, spool)


def test_what_a_box_buffered_without_a_broker_is_delivered_after_its_restart(
    tmp_path: Path,
) -> None:
    """A box with no broker stores its events and stops; started again with a broker there,
    it delivers them, in order, with the times they were told."""
    spool = tmp_path / "spool.sqlite"
    inbox = EventInbox()
    first = _voice(free_port(), inbox, spool)  # nothing listens on that port
    first.start()
    for i in range(6):
        inbox.put("warning", "trip", {"camera": "cam", "seq": i})
    assert wait_for(lambda: inbox.taken == 6, HANG_S)
    first.stop()
    told = [json.loads(e.payload) for e in _stored(spool)]
    assert [d["seq"] for d in told] == list(range(6))

    broker = Broker(tmp_path).start()
    sub = Listener(broker)
    second = _voice(broker.port, EventInbox(), spool)
    second.start()
    try:
        assert wait_for(lambda: len(sub.on("bx/cam/events")) == 6, HANG_S)
        got = [h.doc for h in sub.on("bx/cam/events")]
        assert [d["seq"] for d in got] == list(range(6))
        assert [d["t"] for d in got] == [d["t"] for d in told]
        assert wait_for(lambda: not _stored(spool), HANG_S)
    finally:
        second.stop()
        sub.close()
        broker.stop()


def test_a_bug_in_the_voice_costs_a_slice_not_the_voice(tmp_path: Path) -> None:
    """States that raise: the voice logs `mqtt_error`, reconnects, and events still arrive."""
    broker = Broker(tmp_path).start()
    sub = Listener(broker)
    inbox, said = EventInbox(), []

    class Log:
        def error(self, event: str, **kw: Any) -> None:
            said.append(event)

        def __getattr__(self, name: str) -> Any:
            return lambda *a, **k: None

    calls = [0]

    def states() -> list[dict[str, Any]]:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("a bug")
        return []

    cfg = MqttModel(host="127.0.0.1", port=broker.port, box_id="bx", keepalive_s=5)
    ident = Identity("bx", "dep", "0" * 64, {}, 0.0)
    v = MqttVoice(cfg, ident, states, inbox, tmp_path / "s.sqlite", log=Log())
    v.start()
    try:
        inbox.put("warning", "trip", {"camera": "cam", "seq": 1})
        assert wait_for(lambda: len(sub.on("bx/cam/events")) == 1, HANG_S)
        assert said == ["mqtt_error"]
        assert v.errors == 1
    finally:
        v.stop()
        sub.close()
        broker.stop()
