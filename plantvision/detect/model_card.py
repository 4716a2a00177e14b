"""What a model says about itself in its ONNX metadata: family, pre-processing, thresholds.

An export that records how it must be fed and read runs unchanged with no config at all.
Precedence, per value: the deployment's config, then the model's metadata, then the family's
upstream defaults (thresholds: 0.3 and 0.45). Recognised keys: `family`, `resize`,
`letterbox_align`, `pad_value`, `channel_order`, `scale` (a number or a fraction such as
"1/255"), `mean`, `std` (three numbers), `conf_threshold` (0..1), `nms_iou` (0 < x <= 1): a
model whose card says it was validated at 0.55 is run at 0.55 unless the deployment says
otherwise.

An INT8 model made by `plantvision quantize` also carries its quantization card
(`plantvision_quantization`, quant_card.py).
"""

from __future__ import annotations

import ast
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from plantvision.detect.spec import FAMILIES, Preprocessing
from plantvision.errors import ModelError

DEFAULT_CONF_THRESHOLD = 0.3
DEFAULT_NMS_IOU = 0.45
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


def _unit(metadata: dict[str, str], key: str, model: str, zero_ok: bool) -> float | None:
    raw = metadata.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0.0 <= value <= 1.0) or (value == 0.0 and not zero_ok):
        low = "0" if zero_ok else "above 0"
        raise ModelError(f"{model}: metadata '{key}' = {raw!r} is not a number from {low} to 1")
    return value


def resolved_thresholds(
    metadata: dict[str, str], conf: float | None, iou: float | None, model: str
) -> tuple[float, float]:
    """(conf_threshold, nms_iou): config where set, else the model card's, else the defaults."""
    card_conf = _unit(metadata, "conf_threshold", model, zero_ok=True)
    card_iou = _unit(metadata, "nms_iou", model, zero_ok=False)
    conf = conf if conf is not None else card_conf
    iou = iou if iou is not None else card_iou
    return (
        DEFAULT_CONF_THRESHOLD if conf is None else conf,
        DEFAULT_NMS_IOU if iou is None else iou,
    )
