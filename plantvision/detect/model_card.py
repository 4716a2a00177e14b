"""What a model says about itself in its ONNX metadata: its output family and pre-processing.

An export that records how it must be fed runs unchanged with no config at all. Precedence, per
value: the deployment's config, then the model's metadata, then the family's upstream defaults.
Recognised keys: `family`, `resize`, `letterbox_align`, `pad_value`, `channel_order`, `scale`
(a number or a fraction such as "1/255"), `mean`, `std` (three numbers).
"""

from __future__ import annotations

import ast
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from plantvision.detect.spec import FAMILIES, Preprocessing
from plantvision.errors import ModelError

_PRE_KEYS = ("resize", "letterbox_align", "pad_value", "channel_order", "scale", "mean", "std")


def _value(key: str, raw: str) -> Any:
    if key == "scale":
        return float(Fraction(raw.strip()))
    if key in ("mean", "std", "pad_value"):
        return ast.literal_eval(raw)
    return raw.strip()


def card_family(metadata: dict[str, str]) -> str | None:
    """The family the model declares, if it is one this detector decodes."""
    family = metadata.get("family", "").strip()
    return family if family in FAMILIES else None


def card_preprocessing(metadata: dict[str, str], model: str) -> Preprocessing:
    """Pre-processing values the model declares (unset fields stay None)."""
    values: dict[str, Any] = {}
    for key in _PRE_KEYS:
        if key in metadata:
            try:
                values[key] = _value(key, metadata[key])
            except (ValueError, SyntaxError, ZeroDivisionError):
                raise ModelError(
                    f"{model}: metadata '{key}' = {metadata[key]!r} is not a valid value"
                ) from None
    try:
        return Preprocessing.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise ModelError(f"{model}: metadata '{err['loc'][0]}': {err['msg']}") from None


def merged_preprocessing(card: Preprocessing, config: Preprocessing) -> Preprocessing:
    """Config values where set, else the model card's."""
    explicit = {k: v for k, v in config.model_dump().items() if v is not None}
    return card.model_copy(update=explicit)
