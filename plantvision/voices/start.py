"""Start the voices a deployment asks for, and stop them; for `plantvision run`.

`plan` runs before anything is energised (credentials missing from the environment are a
ConfigError then, not a surprise later); `start` runs once the loop is built. A voice that
cannot start (a port in use) is reported and the box runs on without it: it is an outside
voice, never part of the permit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from plantvision.errors import ConfigError
from plantvision.face.events import EventInbox, EventTap
from plantvision.loop.deployment import DeploymentModel
from plantvision.loop.voices_config import TOPIC_WORD
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
    opcua_class: Any = None  # found (the optional extra) and its files checked

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
        if dep.mqtt.box_id is None and not re.fullmatch(TOPIC_WORD, dep.name):
            raise ConfigError(
                str(dep_file), "mqtt.box_id", f"the deployment's name {dep.name!r} cannot be a "
                "topic level", "set mqtt.box_id (letters, digits, '_', '.', '-')",
            )  # fmt: skip
        p.secrets = read_secrets(dep.mqtt, str(dep_file))
        p.inbox = EventInbox()
    if dep.opcua is not None:
        p.opcua_class = _opcua_class(dep_file)
        p.opcua_class.check_files(dep.opcua, str(dep_file))
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
    if dep.opcua is not None:
        _start_opcua(p, cell, identity.box, voices, log)
    return voices


def _opcua_class(dep_file: Path) -> Any:
    try:
        from plantvision.voices.opcua import OpcuaVoice  # the optional extra
    except ImportError as exc:
        raise ConfigError(
            str(dep_file), "opcua", f"the OPC UA server needs asyncua ({exc})",
            "pip install 'plantvision[opcua]', or remove the opcua: section",
        ) from None  # fmt: skip
    return OpcuaVoice


def _start_opcua(p: Plan, cell: CellLike, box: str, voices: Voices, log: Any) -> None:
    assert p.dep.opcua is not None
    assert p.opcua_class is not None
    server = p.opcua_class(p.dep.opcua, box, cell, str(p.dep_file))
    try:
        url = server.start()
    except Exception as exc:  # an outside voice: reported, and the box runs on without it
        server.stop()
        log.warning("opcua_unavailable", error=str(exc))
        print(f"OPC UA server unavailable: {exc}", flush=True)
        return
    voices.running.append(server)
    log.info("opcua_started", url=url, security=p.dep.opcua.security)
    print(f"opc ua: {url}  (read-only)", flush=True)
