"""The seam between the detector and an inference runtime: what a session offers, which one opens.

Two runtimes sit behind it, chosen by `ModelSpec.backend`: onnxruntime (session.py, the
default) and OpenVINO's own runtime (ov_session.py, the `openvino` extra). Each is the only
module that knows its library; the detector, its decoders and the zone path get the same
arrays whichever runs the model. This module imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from plantvision.errors import ModelError

_DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float16": np.float16}


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One model output: its name and shape, with symbolic dimensions as None."""

    name: str
    shape: tuple[int | None, ...]


class ModelSession(Protocol):
    """An opened model. `provider` names what actually runs it (an onnxruntime execution
    provider, or OpenVINO and its device); `metadata` is the ONNX file's metadata (the card)."""

    provider: str
    input_name: str
    input_shape: tuple[int | None, ...]
    input_dtype: type[np.floating[Any]]
    outputs: tuple[OutputInfo, ...]
    metadata: dict[str, str]

    def run(self, tensor: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run once on an NCHW tensor; any failure is a ModelError."""
        ...


def dims(shape: list[Any]) -> tuple[int | None, ...]:
    """A shape with every symbolic or unknown dimension as None."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def checked_input(
    path: Path, names: list[str], shape: list[Any], dtype: str
) -> tuple[str, tuple[int | None, ...], type[np.floating[Any]]]:
    """(name, shape, numpy dtype) of the model's one image input, or a ModelError saying why
    the model cannot be fed frames. `dtype` is the numpy name of the input's element type."""
    if len(names) != 1:
        raise ModelError(f"{path}: expected one image input, the model has {', '.join(names)}")
    fixed = dims(shape)
    if len(fixed) != 4 or fixed[1] not in (3, None):
        raise ModelError(
            f"{path}: input {names[0]} has shape {shape}, expected NCHW with 3 channels"
        )
    if dtype not in _DTYPES:
        raise ModelError(f"{path}: input type {dtype} unsupported (float32/float16)")
    return names[0], fixed, _DTYPES[dtype]


def inference_error(exc: Exception) -> ModelError:
    """A runtime's failure during a run, as one line (both raise their own classes)."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ModelError(f"inference failed: {first}")
