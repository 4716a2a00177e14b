"""Frame -> model input tensor, into buffers allocated once (no per-frame tensor allocation).

The resize writes straight into a view of a persistent uint8 canvas; cv2.split cuts it into
persistent planes, and one cast (with the scale) per plane fills the persistent NCHW tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from plantvision.detect.spec import ResolvedPreprocessing
from plantvision.errors import MediaError
from plantvision.types import ImageArray

_INTERPOLATION = {
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "nearest": cv2.INTER_NEAREST,
}


@dataclass(frozen=True, slots=True)
class InputTransform:
    """Maps model-input pixels back to original-image pixels: `orig = (inp - pad) / scale`.

    Letterbox uses one scale for both axes; stretch uses one per axis. `orig_hw` clips the result.
    """

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    orig_hw: tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Layout:
    transform: InputTransform
    resized_wh: tuple[int, int]
    offset_xy: tuple[int, int]


def plan_layout(
    image_hw: tuple[int, int], input_hw: tuple[int, int], pp: ResolvedPreprocessing
) -> _Layout:
    """Where an image of `image_hw` lands on the input canvas and how to map boxes back."""
    h, w = image_hw
    in_h, in_w = input_hw
    if pp.resize == "stretch":
        t = InputTransform(in_w / w, in_h / h, 0.0, 0.0, image_hw)
        return _Layout(t, (in_w, in_h), (0, 0))
    r = min(in_h / h, in_w / w)
    # int() truncation as YOLOX does; at least one pixel so tiny images still map back.
    nw, nh = max(1, int(w * r)), max(1, int(h * r))
    ox, oy = ((in_w - nw) // 2, (in_h - nh) // 2) if pp.letterbox_align == "center" else (0, 0)
    return _Layout(InputTransform(r, r, float(ox), float(oy), image_hw), (nw, nh), (ox, oy))


class Preprocessor:
    """Turns BGR uint8 HxWx3 frames into the model's NCHW tensor, reusing its buffers.

    The returned tensor is the same array every call: copy it if it must outlive the next frame.
    """

    def __init__(
        self,
        input_hw: tuple[int, int],
        pp: ResolvedPreprocessing,
        dtype: type[np.floating[Any]] = np.float32,
    ) -> None:
        self.input_hw = input_hw
        self.pp = pp
        self.tensor: npt.NDArray[Any] = np.zeros((1, 3, *input_hw), dtype=dtype)
        self._canvas: ImageArray = np.full((*input_hw, 3), pp.pad_value, dtype=np.uint8)
        self._layout: _Layout | None = None
        self._last_hw: tuple[int, int] = (-1, -1)
        # cv2.split into contiguous planes, then one contiguous cast per plane, is about three
        # times faster than numpy's strided HWC -> CHW copy. BGR -> RGB is the plane order.
        self._planes = [np.empty(input_hw, dtype=np.uint8) for _ in range(3)]
        self._order = (2, 1, 0) if pp.channel_order == "rgb" else (0, 1, 2)
        self._interp = _INTERPOLATION[pp.interpolation]
        self._scale = dtype(pp.scale)
        self._mean = [dtype(m) for m in pp.mean]
        self._inv_std = [dtype(1.0 / s) for s in pp.std]
        self._plain = pp.mean == (0.0, 0.0, 0.0) and pp.std == (1.0, 1.0, 1.0)

    def __call__(self, image: ImageArray) -> tuple[npt.NDArray[Any], InputTransform]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise MediaError(f"expected an HxWx3 uint8 BGR image, got {image.shape} {image.dtype}")
        hw = (int(image.shape[0]), int(image.shape[1]))
        if hw != self._last_hw or self._layout is None:
            self._layout = plan_layout(hw, self.input_hw, self.pp)
            self._last_hw = hw
            self._canvas.fill(self.pp.pad_value)  # padding left by a larger previous frame
        lay = self._layout
        (nw, nh), (ox, oy) = lay.resized_wh, lay.offset_xy
        view = self._canvas[oy : oy + nh, ox : ox + nw]
        if (nw, nh) == (hw[1], hw[0]):
            np.copyto(view, image)
        else:
            cv2.resize(image, (nw, nh), dst=view, interpolation=self._interp)
        cv2.split(self._canvas, self._planes)
        out = self.tensor[0]
        for c, src in enumerate(self._order):
            if self._scale == 1:
                np.copyto(out[c], self._planes[src], casting="unsafe")
            else:
                np.multiply(self._planes[src], self._scale, out=out[c], casting="unsafe")
            if not self._plain:
                out[c] -= self._mean[c]
                out[c] *= self._inv_std[c]
        return self.tensor, lay.transform
