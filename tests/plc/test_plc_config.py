"""The PLC section is refused at load, naming the field, whenever it could drive the wrong thing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from plantvision.errors import ConfigError
from plantvision.plc.config import DEFAULT_SIGNAL_MAP, SignalMap, load_plc_config

EXAMPLE = Path(__file__).resolve().parents[2] / "deployments" / "plc-map.example.yaml"


def _write(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    edit(data["plc"])
    path = tmp_path / "plc.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sig(name: str, **kw: Any) -> Any:
    def edit(plc: dict[str, Any]) -> None:
        plc["signals"][name] = {**plc["signals"].get(name, {}), **kw}

    return edit


def test_example_file_loads_and_matches_the_simulator_default_map() -> None:
    """The shipped example is valid and is the map the simulator serves by default."""
    cfg = load_plc_config(EXAMPLE)
    assert cfg.signals == DEFAULT_SIGNAL_MAP
    assert cfg.retries <= 1
    assert cfg.request_timeout_ms <= 250


def _set(key: str, value: Any) -> Any:
    return lambda plc: plc.__setitem__(key, value)


def _del_sig(name: str) -> Any:
    return lambda plc: plc["signals"].pop(name)


def _eject(i: int, **kw: Any) -> Any:
    return lambda plc: plc["signals"]["ejectors"][i].update(kw)


def _add_sig(name: str, value: Any) -> Any:
    return lambda plc: plc["signals"].__setitem__(name, value)


ENC_IN_HR0 = {"type": "holding_register", "address": 0, "width": 32}

BAD = [
    ("unknown signal name", _add_sig("permitt", {"type": "coil", "address": 9}),
     "plc.signals.permitt", "remove this key"),
    ("missing permit", _del_sig("permit"),
     "plc.signals.permit", "add this required key"),
    ("duplicate coil", _sig("warning", address=0),
     "plc.signals.warning.address", "already used by permit"),
    ("overlapping 32-bit", _add_sig("encoder", ENC_IN_HR0),
     "plc.signals.encoder.address", "already used by heartbeat"),
    ("fifo overlaps fault_code", _sig("reject_fifo", address=0),
     "plc.signals.reject_fifo.address", "already used"),
    ("address over 65535", _sig("heartbeat", address=65536),
     "plc.signals.heartbeat.address", "less than or equal to 65535"),
    ("32-bit past the end", _sig("encoder", address=65535),
     "plc.signals.encoder.address", "past 65535"),
    ("fifo over 123 registers", _sig("reject_fifo", count=124),
     "plc.signals.reject_fifo.count", "limit of 123"),
    ("fifo sized for 4-register entries", _sig("reject_fifo", count=67),
     "plc.signals.reject_fifo.count", "use 63 or 68"),
    ("fifo without a whole entry", _sig("reject_fifo", count=7),
     "plc.signals.reject_fifo.count", "use 8 or 13"),
    ("gap in output coils", _eject(1, address=9),
     "plc.signals.ejectors[1].address", "contiguous"),
    ("input bits over 2000 apart", _sig("reject_confirm", address=2000),
     "plc.signals.reject_confirm.address", "2000"),
    ("permit in a register", _sig("permit", type="holding_register", address=5),
     "plc.signals.permit.type", "must be coil"),
    ("32-bit coil", _sig("warning", width=32),
     "plc.signals.warning", "width 16"),
    ("unit id 0", _set("unit_id", 0),
     "plc.unit_id", "greater than or equal to 1"),
    ("unit id 256", _set("unit_id", 256),
     "plc.unit_id", "less than or equal to 255"),
    ("host not allowed", _set("host", "10.0.0.9"),
     "plc.host", "not in allowed_hosts"),
    ("timeout too long", _set("request_timeout_ms", 3000),
     "plc.request_timeout_ms", "1000"),
    ("three retries", _set("retries", 3),
     "plc.retries", "less than or equal to 1"),
    ("backoff reversed", _set("reconnect_backoff_ms", [500, 100]),
     "plc.reconnect_backoff_ms", "first <= longest"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "field", "problem"), BAD, ids=[b[0] for b in BAD])
def test_bad_plc_section_is_refused_naming_the_field(
    tmp_path: Path, case: str, edit: Any, field: str, problem: str
) -> None:
    """Each bad value is refused at load with the file, the dotted field and a fix."""
    with pytest.raises(ConfigError) as err:
        load_plc_config(_write(tmp_path, edit))
    assert err.value.field.startswith(field), str(err.value)
    assert problem in str(err.value)
    assert str(tmp_path / "plc.yaml") in str(err.value)


def test_good_edits_still_load(tmp_path: Path) -> None:
    """A little-endian encoder and one ejector fewer are fine."""

    def edit(plc: dict[str, Any]) -> None:
        plc["signals"]["encoder"]["word_order"] = "little"
        plc["signals"]["ejectors"] = copy.deepcopy(plc["signals"]["ejectors"][:1])

    cfg = load_plc_config(_write(tmp_path, edit))
    assert cfg.signals.encoder is not None
    assert cfg.signals.encoder.word_order == "little"
    assert len(cfg.signals.ejectors) == 1


def test_bin_counters_need_one_per_ejector_of_16_bits() -> None:
    """reject_confirm_counters: one 16-bit register per ejector coil, or the map is refused."""
    base = DEFAULT_SIGNAL_MAP.model_dump()
    one = [{"type": "input_register", "address": 8}]
    with pytest.raises(ValidationError, match="1 bin counters for 2 ejectors"):
        SignalMap.model_validate(base | {"reject_confirm_counters": one})
    wide = [{"type": "input_register", "address": 8, "width": 32}, one[0] | {"address": 12}]
    with pytest.raises(ValidationError, match="one 16-bit register"):
        SignalMap.model_validate(base | {"reject_confirm_counters": wide})
    coil = [{"type": "coil", "address": 8}, {"type": "coil", "address": 9}]
    with pytest.raises(ValidationError, match="reject_confirm_counters must be"):
        SignalMap.model_validate(base | {"reject_confirm_counters": coil})
    two = [one[0], one[0] | {"address": 9}]
    assert SignalMap.model_validate(base | {"reject_confirm_counters": two}) \
        .reject_confirm_counters[1].address == 9  # fmt: skip
