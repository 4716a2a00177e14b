"""Which decoder fits a model: from the configured family, or from its output shapes.

Auto-detection only answers when the shapes leave one reading; otherwise the error lists the
shapes and asks for `family` in the model config. An explicit family is checked against the
shapes too, so a wrong family fails at load, not as garbage boxes at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

from plantvision.detect.decoders import (
    YOLO_STRIDES,
    DetrDecoder,
    End2endDecoder,
    GridDecoder,
    Yolov5Decoder,
    Yolov8Decoder,
    YoloxDecoder,
)
from plantvision.errors import ModelError

Shape = tuple[int | None, ...]
Decoder = YoloxDecoder | Yolov5Decoder | Yolov8Decoder | End2endDecoder | GridDecoder | DetrDecoder

LAYOUTS = (
    "yolox [1,N,5+C] with N anchor points at strides 8/16/32; "
    "yolov5 [1,3N,5+C]; yolov8 [1,4+C,N]; end2end [1,K,6]; grid [1,5+C,GH,GW]; "
    "detr [1,Q,4] + [1,Q,C]"
)


def anchor_points(input_hw: tuple[int, int], strides: Sequence[int] = YOLO_STRIDES) -> int:
    """Number of anchor points of a multi-stride head at this input size."""
    return sum(-(-input_hw[0] // s) * -(-input_hw[1] // s) for s in strides)


def _fits(
    family: str, shapes: Sequence[Shape], input_hw: tuple[int, int], any_n: bool = False
) -> bool:
    """Whether output shapes are that family's layout at this input size (None dims fit any).

    `any_n`: the family was named, so a YOLOv5/v8 head need not have the usual 8/16/32 strides
    (their boxes come out decoded; only YOLOX needs the grid to decode).
    """
    n = anchor_points(input_hw)

    def eq(dim: int | None, want: int) -> bool:
        return dim is None or dim == want or (any_n and family in ("yolov5", "yolov8"))

    if family == "detr":
        if len(shapes) == 2:
            a, b = shapes
            same_q = a[1] is None or b[1] is None or a[1] == b[1]
            return len(a) == len(b) == 3 and same_q and 4 in (a[2], b[2])
        return len(shapes) == 1 and len(shapes[0]) == 3 and (shapes[0][2] or 5) > 4
    if len(shapes) != 1:
        return False
    s = shapes[0]
    if family == "grid":
        return len(s) == 4 and (s[1] or 6) > 5 and _divides(input_hw, s[2], s[3])
    if len(s) != 3:
        return False
    if family == "yolox":
        return eq(s[1], n) and (s[2] or 6) > 5
    if family == "yolov5":
        return eq(s[1], 3 * n) and (s[2] or 6) > 5
    if family == "yolov8":
        return eq(s[2], n) and (s[1] or 5) > 4
    if family == "end2end":
        return s[2] == 6
    return False


def _divides(input_hw: tuple[int, int], gh: int | None, gw: int | None) -> bool:
    if gh is None or gw is None:
        return True
    return gh > 0 and gw > 0 and input_hw[0] % gh == 0 and input_hw[1] % gw == 0


def detect_family(shapes: Sequence[Shape], input_hw: tuple[int, int]) -> str | None:
    """The one family whose layout the fully-known output shapes match, else None."""
    if any(d is None for s in shapes for d in s[1:]):
        return None
    # yolox and end2end both fit [1,N,6] for a one-class yolox; the anchor count decides, so
    # end2end counts only when N is not the anchor count.
    # A single fused DETR output [1,Q,4+C] looks like any [1,N,K] tensor: it needs an explicit
    # family, else a YOLO model fed the wrong input size would pass as DETR.
    order = ("yolox", "yolov5", "yolov8", "grid", "end2end") + (
        ("detr",) if len(shapes) == 2 else ()
    )
    found = [f for f in order if _fits(f, shapes, input_hw)]
    if "yolox" in found or "yolov5" in found:
        found = [f for f in found if f != "end2end"]
    return found[0] if len(found) == 1 else None


def make_decoder(
    family: str, shapes: Sequence[Shape], input_hw: tuple[int, int], model: str
) -> Decoder:
    """The decoder for `family` ("auto" detects it), or a ModelError naming the model file."""
    shown = ", ".join(str(list(s)).replace("None", "?") for s in shapes)
    at = f"at input {input_hw[0]}x{input_hw[1]}"
    if family == "auto":
        found = detect_family(shapes, input_hw)
        if found is None:
            raise ModelError(
                f"{model}: outputs {shown} {at} match no single known family ({LAYOUTS}); "
                "set family in the model config"
            )
        family = found
    elif not _fits(family, shapes, input_hw, any_n=True):
        raise ModelError(
            f"{model}: outputs {shown} {at} do not fit family {family} ({LAYOUTS}); "
            "check family and input_size"
        )
    if family == "yolox":
        return YoloxDecoder(input_hw)
    if family == "yolov5":
        return Yolov5Decoder()
    if family == "yolov8":
        return Yolov8Decoder()
    if family == "end2end":
        return End2endDecoder()
    if family == "grid":
        return GridDecoder(input_hw)
    boxes_index = None if len(shapes) == 1 else (0 if shapes[0][2] == 4 else 1)
    return DetrDecoder(input_hw, boxes_index)
