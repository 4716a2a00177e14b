"""A read-only OPC UA server (asyncua, the `opcua` extra) for SCADA and MES.

Address space, in namespace `urn:plantvision` (string node ids, browse names alike):
    Objects/plantvision/<box>/PlcPermit, PlcConnected, PlcLosses
    Objects/plantvision/<box>/<camera>/Permit, Cause, Zone, FaultCode, Online, Frames, Trips,
                                       LatencyMedianMs, LatencyP99Ms
No node is writable (a client's write is refused with BadUserAccessDenied or BadNotWritable),
and no method exists: nothing here resets, changes outputs or edits zones. The values are
refreshed every `update_ms` from the loop's published snapshots (the latency figures once a
second, from the camera's window), in the server's own thread and event loop.

Anonymous access without security binds to loopback only (the config refuses anything else);
with `security: basic256sha256` only Sign&Encrypt endpoints are offered, with the certificate
and key named by the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from typing import Any

from asyncua import ua
from asyncua.server.server import Server

from plantvision.errors import ConfigError
from plantvision.face.server import lower_priority
from plantvision.loop.voices_config import OpcuaModel
from plantvision.voices.cell import CellLike, camera_state

NAMESPACE = "urn:plantvision"
LATENCY_EVERY_S = 1.0
V = ua.VariantType
CAMERA_VARS = {
    "Permit": V.Boolean, "Cause": V.String, "Zone": V.String, "FaultCode": V.Int32,
    "Online": V.Boolean, "Frames": V.Int64, "Trips": V.Int64,
    "LatencyMedianMs": V.Double, "LatencyP99Ms": V.Double,
}  # fmt: skip
BOX_VARS = {"PlcPermit": V.Boolean, "PlcConnected": V.Boolean, "PlcLosses": V.Int64}
_ZERO = {V.Boolean: False, V.String: "", V.Int32: 0, V.Int64: 0, V.Double: 0.0}


def node_id(box: str, *path: str) -> str:
    return ".".join(("plantvision", box, *path))


class OpcuaVoice:
    """Serve `cell`'s state as variables; `controller`-like: `.cameras`, optional `.link`."""

    def __init__(self, cfg: OpcuaModel, box: str, cell: CellLike, where: str = "opcua") -> None:
        self.cfg, self.box, self.cell = cfg, box, cell
        self.url = f"opc.tcp://{cfg.host}:{cfg.port}/plantvision/"
        self._cert, self._key = self.check_files(cfg, where)
        self._vars: dict[str, Any] = {}
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.updates = 0

    @staticmethod
    def check_files(cfg: OpcuaModel, where: str) -> tuple[str | None, str | None]:
        """The certificate and key the environment names (None, None without security)."""
        if cfg.security == "none":
            return None, None
        return (
            _path(where, "opcua.cert_file_env", cfg.cert_file_env),
            _path(where, "opcua.key_file_env", cfg.key_file_env),
        )

    def start(self) -> str:
        self._thread = threading.Thread(target=self._run, name="voice-opcua", daemon=True)
        self._thread.start()
        if not self._ready.wait(30.0) or self._failed is not None:
            raise RuntimeError(f"OPC UA server failed to start: {self._failed!r}")
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10.0)

    def _run(self) -> None:
        lower_priority()
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); never reaches the loop
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name(f"plantvision {self.box}")
        if self._cert is not None and self._key is not None:
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            await server.load_certificate(self._cert)
            await server.load_private_key(self._key)
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(NAMESPACE)
        await self._build(server, ns)
        async with server:
            self._ready.set()
            await self._update_until_stopped()

    async def _build(self, server: Server, ns: int) -> None:
        top = await server.nodes.objects.add_folder(
            _nid(node_id(self.box), ns), ua.QualifiedName(self.box, ns)
        )
        for name, kind in BOX_VARS.items():
            await self._var(top, ns, (name,), kind)
        for cam in self.cell.cameras:
            folder = await top.add_object(
                _nid(node_id(self.box, cam.id), ns), ua.QualifiedName(cam.id, ns)
            )
            for name, kind in CAMERA_VARS.items():
                await self._var(folder, ns, (cam.id, name), kind)

    async def _var(self, parent: Any, ns: int, path: tuple[str, ...], kind: V) -> None:
        nid = node_id(self.box, *path)
        var = await parent.add_variable(
            _nid(nid, ns), ua.QualifiedName(path[-1], ns), ua.Variant(_ZERO[kind], kind)
        )
        self._vars[nid] = (var, kind)  # never set_writable(): read-only for every client

    async def _update_until_stopped(self) -> None:
        assert self._stop is not None
        next_latency = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            values = self._values(latency=now >= next_latency)
            if now >= next_latency:
                next_latency = now + LATENCY_EVERY_S
            for nid, value in values.items():
                var, kind = self._vars[nid]
                await var.write_value(ua.DataValue(ua.Variant(value, kind)))
            self.updates += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.cfg.update_ms / 1000)

    def _values(self, latency: bool) -> dict[str, Any]:
        now_ns = time.monotonic_ns()
        out: dict[str, Any] = {}
        link = getattr(self.cell, "link", None)
        if link is not None:
            out[node_id(self.box, "PlcConnected")] = bool(link.healthy)
            out[node_id(self.box, "PlcLosses")] = int(link.losses)
        newest = (-1, False)  # the combined coil, as the latest write of any camera set it
        for cam in self.cell.cameras:
            st = camera_state(cam, now_ns)
            snap = cam.published
            if snap is not None and snap.t_ack_ns > newest[0]:
                newest = (snap.t_ack_ns, bool(snap.plc.permit))
            vals: dict[str, Any] = {
                "Permit": st["permit"], "Cause": st["cause"] or "", "Zone": st["zone"] or "",
                "FaultCode": int(st["fault_code"]), "Online": bool(st["online"]),
                "Trips": int(st["trips"]), "Frames": int(snap.frames if snap is not None else 0),
            }  # fmt: skip
            window = getattr(cam, "latency", None)
            if latency and window is not None:
                e2e = window.end_to_end()
                vals |= {"LatencyMedianMs": float(e2e.median_ms), "LatencyP99Ms": float(e2e.p99_ms)}
            out |= {node_id(self.box, cam.id, k): v for k, v in vals.items()}
        out[node_id(self.box, "PlcPermit")] = newest[1]
        return out


def _nid(ident: str, ns: int) -> ua.NodeId:
    return ua.NodeId.from_string(f"ns={ns};s={ident}")


def _path(where: str, field: str, env: str | None) -> str:
    value = os.environ.get(env or "", "")
    if not value or not os.path.isfile(value):
        raise ConfigError(
            where, field, f"environment variable {env} names no readable file ({value!r})",
            f"export {env}=/path/to/the/file",
        )  # fmt: skip
    return value
