"""Config of the plant's other voices (plantvision/voices): MQTT, the UDP result stream, OPC UA.

Validated data only. Secrets never live in a deployment file: credentials and TLS material are
named here by the environment variables that hold them (or the paths of their files), and read
at start. Servers bind to loopback unless a deployment says otherwise, and then only with
security configured.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, model_validator

from plantvision.configio import StrictModel

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
TOPIC_WORD = r"^[A-Za-z0-9_.-]{1,64}$"  # no MQTT wildcards, no separators


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this box only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MqttTlsModel(StrictModel):
    """TLS to the broker; every file is named by an environment variable, never here."""

    ca_file_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="environment variable holding the path of the CA bundle (unset: the "
        "system's trust store)",
    )
    cert_file_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="environment variable holding the path of the client certificate (PEM)",
    )
    key_file_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="environment variable holding the path of the client key (PEM)",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> MqttTlsModel:
        if (self.cert_file_env is None) != (self.key_file_env is None):
            raise ValueError("set both cert_file_env and key_file_env, or neither")
        return self


class MqttModel(StrictModel):
    """Events, state and status to the plant's MQTT broker (QoS 1), with store-and-forward."""

    host: str = Field(min_length=1, description="broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="broker TCP port")
    box_id: str | None = Field(
        default=None,
        pattern=TOPIC_WORD,
        description="this box's name in topics (default: the deployment's name)",
    )
    topic_prefix: str = Field(
        default="plantvision", pattern=TOPIC_WORD, description="first level of every topic"
    )
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version")
    keepalive_s: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="keepalive; the broker marks a dead box offline within 1.5 times this",
    )
    username_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="environment variable holding the user name"
    )
    password_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="environment variable holding the password"
    )
    tls: MqttTlsModel | None = Field(default=None, description="TLS to the broker (optional)")
    spool_file: str = Field(
        default=".plantvision/mqtt-spool.sqlite",
        min_length=1,
        description="store-and-forward buffer on disk (relative to this file)",
    )
    spool_max_events: int = Field(
        default=100_000,
        ge=10,
        le=10_000_000,
        description="events kept while the broker is unreachable; beyond, the oldest are "
        "dropped and counted",
    )

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttModel:
        if self.password_env is not None and self.username_env is None:
            raise ValueError("password_env needs username_env")
        return self


class UdpModel(StrictModel):
    """One JSON datagram per decided frame, fire-and-forget (the seed's results sink)."""

    host: str = Field(default="127.0.0.1", min_length=1, description="receiver address")
    port: int = Field(ge=1, le=65535, description="receiver UDP port")
    max_datagram_bytes: int = Field(
        default=8192,
        ge=512,
        le=65000,
        description="size bound; larger detection lists are truncated and flagged",
    )
    poll_ms: float = Field(
        default=5.0,
        gt=0,
        le=1000,
        description="how often the stream looks for a newly decided frame (a frame decided "
        "and replaced in between is skipped, and the next datagram counts it)",
    )


class OpcuaModel(StrictModel):
    """A read-only OPC UA server (the `opcua` extra: pip install 'plantvision[opcua]')."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="address to bind; anything but loopback needs security",
    )
    port: int = Field(default=4840, ge=0, le=65535, description="TCP port (0: any free port)")
    security: Literal["none", "basic256sha256"] = Field(
        default="none",
        description="none: anonymous, loopback only; basic256sha256: Sign&Encrypt with the "
        "server certificate and key named by cert_file_env and key_file_env",
    )
    cert_file_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="environment variable holding the path of the server certificate (DER/PEM)",
    )
    key_file_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="environment variable holding the path of the server private key (PEM)",
    )
    update_ms: float = Field(
        default=100.0, ge=10, le=10000, description="how often the variables are refreshed"
    )

    @model_validator(mode="after")
    def _exposed_needs_security(self) -> OpcuaModel:
        if self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is reachable from the network: anonymous access is "
                "loopback only; set security: basic256sha256 (with cert_file_env and "
                "key_file_env), or bind 127.0.0.1"
            )
        if self.security != "none" and (self.cert_file_env is None or self.key_file_env is None):
            raise ValueError(f"security {self.security!r} needs cert_file_env and key_file_env")
        return self
