"""Recent events for the page and the event counters for /metrics, fed by the log calls.

`EventTap` stands in front of the run's logger: every call goes on to the real logger unchanged
and is also dropped, as one small tuple, on a bounded deque (an atomic append: no lock, no I/O,
no formatting). The events are the ones the loop already logs after its write, so the tap adds
nothing to the trip path. The face's own thread drains the deque (`EventInbox.drain`).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

INBOX_LENGTH = 4096
# Chatty lines that are not events a person at the page wants to see.
QUIET = frozenset({"cycle", "started", "stopped"})


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    t_unix: float
    level: str
    event: str
    fields: dict[str, Any]


class EventInbox:
    """The bounded hand-off from logging threads to the face's thread."""

    def __init__(self, length: int = INBOX_LENGTH) -> None:
        self._q: deque[Event] = deque(maxlen=length)
        self._ids = itertools.count(1)  # next() on a count is atomic under the GIL
        self.taken = 0

    def put(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self._q.append(Event(next(self._ids), time.time(), level, event, fields))

    def drain(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                out.append(self._q.popleft())
            except IndexError:
                break
        self.taken += len(out)
        return out


class EventTap:
    """A logger proxy: `bind` returns a tap with the merged context; every other call is passed
    through to the wrapped logger, and the level methods also feed the inbox."""

    _LEVELS = ("debug", "info", "warning", "error", "critical", "exception")

    def __init__(self, inner: Any, inbox: EventInbox, context: dict[str, Any] | None = None):
        self._inner, self._inbox, self._context = inner, inbox, context or {}

    def bind(self, **kw: Any) -> EventTap:
        return EventTap(self._inner.bind(**kw), self._inbox, {**self._context, **kw})

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._LEVELS:
            return attr

        def call(event: str, *args: Any, **kw: Any) -> Any:
            try:
                result = attr(event, *args, **kw)
            finally:
                if event not in QUIET:
                    self._inbox.put(name, event, {**self._context, **kw})
            return result

        return call
