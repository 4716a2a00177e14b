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


def counters_of(header: dict[str, Any]) -> dict[str, int] | None:
    """The page process's counters (refused, limited, connections), or None."""
    if header.get("kind") != "counters":
        return None
    out = {k: header.get(k) for k in ("refused", "limited", "connections")}
    if not all(isinstance(v, int) and v >= 0 for v in out.values()):
        return None
    return {k: int(v) for k, v in out.items() if isinstance(v, int)}
