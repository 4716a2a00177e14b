"""What the box and its page process say to each other over their socket pair.

A message is one JSON header line, then an optional body of bytes (an answer's JSON, metrics
text or JPEG). Nothing is unpickled on either side. The page process can only ask for one of a
fixed set of answers (`Want`) and report its counters; the box reads nothing else from it, so a
page process taken over by a hostile client still cannot reset, write or edit anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KINDS = ("state", "metrics", "view")
MAX_MESSAGE = 1 << 20  # from the page process: a want or counters are a few dozen bytes
# How old an answer may be: the page process asks again only after, the box rebuilds only after.
STATE_TTL_S = 0.1
METRICS_TTL_S = 0.5
COUNTERS_S = 0.1  # the page process tells its counters at most this often


@dataclass(frozen=True, slots=True)
class Want:
    """An answer the page process needs: state, metrics, or one camera's view."""

    kind: str
    camera: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.camera}" if self.camera else self.kind


def pack(header: dict[str, Any], body: bytes = b"") -> bytes:
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def unpack(message: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, body = message.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict):
        raise ValueError(f"a message header must be an object, got {type(header).__name__}")
    return header, body


def want_of(header: dict[str, Any], cameras: frozenset[str]) -> Want | None:
    """The want in a page process's message, or None for anything else (ignored)."""
    kind, camera = header.get("want"), header.get("camera", "")
    if header.get("kind") != "want" or kind not in KINDS or not isinstance(camera, str):
        return None
    if (kind == "view") != (camera in cameras):
        return None  # a view names a known camera; nothing else names one
    return Want(kind, camera)


class MessageBudget:
    """How many messages the box reads from the page process: a token bucket of `rate_per_s`
    holding one second's worth. A page process asks at most for each answer once per period
    (its own caches), so a budget of twice that is never met by an honest one; one taken over
    could otherwise keep the box's face thread (and its share of the interpreter lock) busy."""

    def __init__(self, rate_per_s: float, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self._tokens, self._t = rate_per_s, now_s

    def take(self, now_s: float) -> float:
        """0 and one message taken, or the seconds to wait before one may be."""
        self._tokens = min(self.rate_per_s, self._tokens + (now_s - self._t) * self.rate_per_s)
        self._t = now_s
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s


def counters_of(header: dict[str, Any]) -> dict[str, int] | None:
    """The page process's counters (refused, limited, connections), or None."""
    if header.get("kind") != "counters":
        return None
    out = {k: header.get(k) for k in ("refused", "limited", "connections")}
    if not all(isinstance(v, int) and v >= 0 for v in out.values()):
        return None
    return {k: int(v) for k, v in out.items() if isinstance(v, int)}
