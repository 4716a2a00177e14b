"""The ejector child's pipe protocol: one JSON array per line, each way (pure: no I/O).

Parent to child (its stdin): `["arm", ejector_id, fire_at_ns, pulse_ns, item_id]`,
`["cancel", item_id]`, `["close"]`. Child to parent (its stdout): `["ready", refused]` (why
real-time priority was refused, or null), `["beat"]`, `["fired", ejector_id, fire_at_ns,
pulse_ns, item_id, t_ns, reached]`, `["lost", cause]`, `["restored"]`.

JSON, never pickle: a line is data, checked field by field, and cannot run code in the reader.
A line the reader cannot decode raises `WireError`; the reader treats that as a dead peer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from plantvision.conveyor.actions import FirePlan

MAX_LINE = 4000  # below PIPE_BUF (4096): a write of one line is atomic, never half a message


class WireError(ValueError):
    """A line that is not a message of this protocol."""


@dataclass(frozen=True, slots=True)
class Arm:
    plan: FirePlan


@dataclass(frozen=True, slots=True)
class Cancel:
    item_id: int


@dataclass(frozen=True, slots=True)
class Close:
    pass


@dataclass(frozen=True, slots=True)
class Ready:
    refused: str | None  # why the child runs at normal priority; None: real-time


@dataclass(frozen=True, slots=True)
class Beat:
    pass


@dataclass(frozen=True, slots=True)
class Fired:
    """A switch-on: the plan carried out, at `t_ns`; `reached` False: the coil write did not
    reach the PLC (the item was not pushed)."""

    plan: FirePlan
    t_ns: int
    reached: bool


@dataclass(frozen=True, slots=True)
class Lost:
    cause: str


@dataclass(frozen=True, slots=True)
class Restored:
    pass


ToChild = Arm | Cancel | Close
ToParent = Ready | Beat | Fired | Lost | Restored


def encode(msg: ToChild | ToParent) -> bytes:
    """One line (ends with a newline), at most MAX_LINE bytes."""
    match msg:
        case Arm(p) | Fired(p, _, _):
            fields: list[object] = [p.ejector_id, p.fire_at_ns, p.pulse_ns, p.item_id]
            if isinstance(msg, Fired):
                fields += [msg.t_ns, msg.reached]
            body: list[object] = ["arm" if isinstance(msg, Arm) else "fired", *fields]
        case Cancel(item_id):
            body = ["cancel", item_id]
        case Ready(refused):
            body = ["ready", refused]
        case Lost(cause):
            body = ["lost", cause[:200]]
        case _:
            body = [type(msg).__name__.lower()]
    line = (json.dumps(body, separators=(",", ":")) + "\n").encode()
    if len(line) > MAX_LINE:
        raise WireError(f"message of {len(line)} bytes exceeds {MAX_LINE}: {line[:80]!r}")
    return line


def _int(value: object, what: str) -> int:
    if type(value) is not int:
        raise WireError(f"{what} must be an integer, got {value!r}")
    return value


def _plan(fields: list[object]) -> FirePlan:
    eid, fire_at, pulse, item = fields
    if not isinstance(eid, str):
        raise WireError(f"ejector_id must be a string, got {eid!r}")
    return FirePlan(eid, _int(fire_at, "fire_at_ns"), _int(pulse, "pulse_ns"), _int(item, "item"))


def _split(line: bytes) -> tuple[str, list[object]]:
    try:
        body = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {line[:80]!r} ({exc})") from None
    if not isinstance(body, list) or not body or not isinstance(body[0], str):
        raise WireError(f"not a message: {line[:80]!r}")
    return body[0], body[1:]


# (kind, number of fields after it)
_ARITY = {"arm": 4, "cancel": 1, "close": 0, "ready": 1, "beat": 0, "fired": 6, "lost": 1,
          "restored": 0}  # fmt: skip


def decode(line: bytes) -> ToChild | ToParent:
    """The message on `line`; WireError for anything else."""
    kind, rest = _split(line)
    if _ARITY.get(kind) != len(rest):
        raise WireError(f"{kind!r} with {len(rest)} fields: {line[:80]!r}")
    match kind:
        case "arm":
            return Arm(_plan(rest))
        case "fired":
            if not isinstance(rest[5], bool):
                raise WireError(f"reached must be true or false, got {rest[5]!r}")
            return Fired(_plan(rest[:4]), _int(rest[4], "t_ns"), rest[5])
        case "cancel":
            return Cancel(_int(rest[0], "item"))
        case "ready" | "lost":
            text = rest[0]
            if not (text is None or isinstance(text, str)) or (kind == "lost" and not text):
                raise WireError(f"{kind} needs a text, got {rest[0]!r}")
            return Ready(text) if kind == "ready" else Lost(str(text))
    bare: dict[str, ToChild | ToParent] = {"close": Close(), "beat": Beat(), "restored": Restored()}
    return bare[kind]


class LineBuffer:
    """Bytes read from a pipe in, whole lines out (a read may end mid-line)."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> list[bytes]:
        lines = (self._tail + data).split(b"\n")
        self._tail = lines.pop()
        if len(self._tail) > MAX_LINE:
            raise WireError(f"a line longer than {MAX_LINE} bytes: {self._tail[:80]!r}")
        return [ln for ln in lines if ln]
