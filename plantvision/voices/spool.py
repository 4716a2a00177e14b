"""Store-and-forward: events wait on disk, in order, until the broker has acknowledged them.

One SQLite file (the standard library's, WAL journal): a table of (n, topic, payload) where n
is the event's number, assigned once when it is stored and never reused (AUTOINCREMENT), so a
subscriber can tell order and spot a repeat. The buffer is bounded: past `max_events` the oldest
are dropped and the drops are counted in the file itself, so a restart neither loses what was
stored nor forgets what was dropped. A process crash loses nothing that `put` returned from; a
power cut may lose the last moments (synchronous=NORMAL: fsync at checkpoints, not per event).

Single-threaded by design: the MQTT voice's own thread opens, fills and empties it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('dropped', 0);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    n: int  # the event's number: its order, for ever
    topic: str
    payload: bytes  # a JSON object; `numbered` adds "n"

    def numbered(self) -> bytes:
        """The payload with its number as the first key (payloads are JSON objects)."""
        head = b'{"n":%d' % self.n
        return head + (b"," + self.payload[1:] if self.payload != b"{}" else b"}")


class Spool:
    """A bounded, ordered, persistent queue of (topic, payload)."""

    def __init__(self, path: Path, max_events: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.max_events = path, max_events
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put(self, items: Iterable[tuple[str, bytes]]) -> int:
        """Store events in order (one transaction); drop the oldest past the bound. Returns how
        many were dropped now."""
        rows = list(items)
        if not rows:
            return 0
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO events (topic, payload) VALUES (?, ?)", rows)
            over = self.count() - self.max_events
            if over > 0:
                db.execute(
                    "DELETE FROM events WHERE n IN (SELECT n FROM events ORDER BY n LIMIT ?)",
                    (over,),
                )
                db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (over,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return max(over, 0)

    def after(self, n: int, limit: int) -> list[Entry]:
        """Up to `limit` events numbered above `n`, oldest first."""
        cur = self._db.execute(
            "SELECT n, topic, payload FROM events WHERE n > ? ORDER BY n LIMIT ?", (n, limit)
        )
        return [Entry(int(a), str(b), bytes(c)) for a, b, c in cur]

    def done(self, n: int) -> None:
        """The broker has it: forget event `n` (already dropped: nothing to do)."""
        self._db.execute("DELETE FROM events WHERE n = ?", (n,))

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    @property
    def dropped(self) -> int:
        """Events dropped for lack of room, over the file's whole life."""
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()[0])

    def close(self) -> None:
        self._db.close()
