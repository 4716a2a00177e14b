"""The read-only OPC UA server, read by a real asyncua client over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from asyncua import Client, ua
from pydantic import ValidationError

from plantvision.loop.voices_config import OpcuaModel
from plantvision.voices.opcua import NAMESPACE, OpcuaVoice, node_id
from tests.loop.rig import INSIDE, Rig
from tests.voices.broker import free_port
from tests.waiting import wait_for

HANG_S = 60.0
T = TypeVar("T")


class Changes:
    """A data-change handler that records every value the server reports."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.values.append(val)


async def _watch_a_trip(url: str, rig: Rig) -> tuple[bool, list[Any], str, Exception | None]:
    async with Client(url, timeout=HANG_S) as client:
        ns = await client.get_namespace_index(NAMESPACE)
        permit = client.get_node(ua.NodeId(node_id("bx", "cam0", "Permit"), ns))
        cause = client.get_node(ua.NodeId(node_id("bx", "cam0", "Cause"), ns))
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, wait_for, lambda: rig.cam.published is not None)
        assert ok
        for _ in range(int(HANG_S * 20)):
            if await permit.read_value() is True:
                break
            await asyncio.sleep(0.05)
        before = bool(await permit.read_value())
        changes = Changes()
        sub = await client.create_subscription(50, changes)
        await sub.subscribe_data_change(permit)
        await loop.run_in_executor(None, rig.step, [INSIDE])  # the trip
        for _ in range(int(HANG_S * 20)):
            if False in changes.values:
                break
            await asyncio.sleep(0.05)
        refused: Exception | None = None
        try:
            await permit.write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
        except ua.UaStatusCodeError as exc:
            refused = exc
        return before, list(changes.values), str(await cause.read_value()), refused


def _in_a_thread(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a fresh thread: pytest-playwright's sync API leaves a loop running on
    this one when browser tests ran first in the session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=HANG_S * 3)


def test_a_client_reads_the_permit_watches_it_drop_on_a_trip_and_cannot_write(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    rig.start_running()
    voice = OpcuaVoice(OpcuaModel(port=free_port(), update_ms=20), "bx", rig.ctl)
    url = voice.start()
    try:
        before, seen, cause, refused = _in_a_thread(_watch_a_trip(url, rig))
    finally:
        voice.stop()
    assert before is True
    assert seen[0] is True, seen
    assert False in seen, seen
    assert cause == "stop_zone"
    assert refused is not None, "a write was accepted"
    assert "BadUserAccessDenied" in repr(refused) or "BadNotWritable" in repr(refused)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"host": "0.0.0.0"}, "anonymous access is loopback only"),
        ({"host": "10.0.0.5", "security": "basic256sha256"}, "needs cert_file_env"),
    ],
)
def test_anonymous_access_is_loopback_only(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        OpcuaModel.model_validate(fields)
    assert OpcuaModel.model_validate({"host": "::1"}).security == "none"
