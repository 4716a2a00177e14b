"""Start the voices a deployment asks for, and stop them; for `plantvision run`.

`plan` runs before anything is energised (credentials missing from the environment are a
ConfigError then, not a surprise later); `start` runs once the loop is built. A voice that
cannot start (a port in use) is reported and the box runs on without it: it is an outside
voice, never part of the permit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from plantvision.face.events import EventInbox, EventTap
from plantvision.loop.deployment import DeploymentModel
from plantvision.voices.cell import CellLike, Identity, cell_states
from plantvision.voices.mqtt import MqttVoice
from plantvision.voices.mqtt_client import Secrets, read_secrets
from plantvision.voices.udp import UdpVoice


class Voice(Protocol):
    def stop(self) -> None: ...


@dataclass
class Plan:
    """What to start, read and checked before the run energises anything."""

    dep: DeploymentModel
    dep_file: Path
    secrets: Secrets | None = None
    inbox: EventInbox | None = None  # the voices' own tap on the log (MQTT only needs it)

    def tap(self, log: Any) -> Any:
        """The run's logger with the voices' tap in front (unchanged when none listens)."""
        return log if self.inbox is None else EventTap(log, self.inbox)


@dataclass
class Voices:
    running: list[Voice] = field(default_factory=list)

    def stop(self) -> None:
        for v in reversed(self.running):
            v.stop()


def plan(dep: DeploymentModel, dep_file: Path) -> Plan:
    p = Plan(dep, dep_file)
    if dep.mqtt is not None:
        p.secrets = read_secrets(dep.mqtt, str(dep_file))
        p.inbox = EventInbox()
    return p


def start(p: Plan, cell: CellLike, identity: Identity, log: Any) -> Voices:
    voices = Voices()
    dep = p.dep
    if dep.mqtt is not None and p.inbox is not None:
        spool = p.dep_file.parent / dep.mqtt.spool_file
        mqtt = MqttVoice(
            dep.mqtt,
            identity,
            lambda: cell_states(cell),
            p.inbox,
            spool,
            secrets=p.secrets,
            log=log,
        )
        mqtt.start()
        voices.running.append(mqtt)
        print(f"mqtt: {dep.mqtt.host}:{dep.mqtt.port} as {mqtt.root}/#", flush=True)
    if dep.udp is not None:
        zones = {c.id: getattr(c, "zones", None) for c in cell.cameras}
        udp = UdpVoice(dep.udp, cell, zones)
        udp.start()
        voices.running.append(udp)
        print(f"udp results: {dep.udp.host}:{dep.udp.port}", flush=True)
    return voices
