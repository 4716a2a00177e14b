"""The only module that knows paho-mqtt's keywords (STYLE 5): clients for the box and the fleet.

paho-mqtt 2.x, callback API version 2. Credentials and TLS files come from the environment
variables the config names; a missing one is a ConfigError naming the field and the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from plantvision.errors import ConfigError
from plantvision.loop.voices_config import MqttModel

Client = paho.Client
SUCCESS = paho.MQTT_ERR_SUCCESS
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Secrets:
    """What the environment holds for the broker (read once, at start)."""

    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def _env(where: str, field: str, name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(
            where, field, f"environment variable {name} is unset or empty", f"export {name}=..."
        )
    return value


def read_secrets(cfg: MqttModel, where: str) -> Secrets:
    """Credentials and TLS paths from the environment (never from the deployment file)."""
    tls = cfg.tls
    return Secrets(
        username=_env(where, "mqtt.username_env", cfg.username_env),
        password=_env(where, "mqtt.password_env", cfg.password_env),
        ca_file=_env(where, "mqtt.tls.ca_file_env", tls.ca_file_env) if tls else None,
        cert_file=_env(where, "mqtt.tls.cert_file_env", tls.cert_file_env) if tls else None,
        key_file=_env(where, "mqtt.tls.key_file_env", tls.key_file_env) if tls else None,
    )


def new_client(
    client_id: str,
    protocol: str,
    secrets: Secrets,
    tls: bool,
    will: tuple[str, bytes] | None = None,
) -> paho.Client:
    """A paho client; the will (topic, payload) is retained, QoS 1."""
    version = paho.MQTTv5 if protocol == "5" else paho.MQTTv311
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=version,
        reconnect_on_failure=False,
    )
    client.connect_timeout = CONNECT_TIMEOUT_S
    if secrets.username is not None:
        client.username_pw_set(secrets.username, secrets.password)
    if tls:
        client.tls_set(
            ca_certs=secrets.ca_file, certfile=secrets.cert_file, keyfile=secrets.key_file
        )
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    return client


def reason_ok(reason_code: Any) -> bool:
    """A CONNACK/PUBACK reason code that means success (ReasonCode in v5, int-like in 3.1.1)."""
    failure = getattr(reason_code, "is_failure", None)
    return not failure if failure is not None else int(reason_code) == 0
