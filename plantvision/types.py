"""The vocabulary: value types that flow through the loop.

Imports only numpy and the standard library (a test checks it), so every room can use these
without pulling in cv2, onnxruntime or pymodbus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera image. `t_capture_ns` is `time.monotonic_ns()` at grab, `seq` counts grabs."""

    image: ImageArray
    seq: int
    t_capture_ns: int
    source_id: str = "cam0"
    # How much older than the truth `t_capture_ns` may be (a camera-dated frame above its
    # clock's anchor, frames/stamps.py); 0 for every other source.
    date_spread_ns: int = 0

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True, slots=True)
class Detections:
    """Struct-of-arrays detections in original-image pixels.

    `xyxy` is N x 4 float32, `confidence` N float32, `class_id` N int32; `class_names` maps ids
    to names. Frozen: `select` returns a new object, arrays are made read-only at construction.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.confidence.shape[0]
        if self.xyxy.shape != (n, 4) or self.class_id.shape != (n,):
            raise ValueError(
                f"Detections arrays disagree: xyxy {self.xyxy.shape}, "
                f"confidence {self.confidence.shape}, class_id {self.class_id.shape}"
            )
        for arr in (self.xyxy, self.confidence, self.class_id):
            arr.flags.writeable = False

    @classmethod
    def empty(cls, class_names: Sequence[str] = ()) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int32),
            tuple(class_names),
        )

    @classmethod
    def from_arrays(
        cls,
        xyxy: npt.ArrayLike,
        confidence: npt.ArrayLike,
        class_id: npt.ArrayLike,
        class_names: Sequence[str] = (),
    ) -> Detections:
        """Build from any array-likes, copying into owned arrays of the canonical dtypes."""
        return cls(
            np.array(xyxy, dtype=np.float32).reshape(-1, 4),
            np.array(confidence, dtype=np.float32).reshape(-1),
            np.array(class_id, dtype=np.int32).reshape(-1),
            tuple(class_names),
        )

    def __len__(self) -> int:
        return int(self.confidence.shape[0])

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        """A new Detections holding the rows picked by a boolean mask or an index array."""
        return Detections(
            self.xyxy[mask], self.confidence[mask], self.class_id[mask], self.class_names
        )

    def class_mask(self, names: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Rows whose class name is one of `names` (unknown names match nothing)."""
        ids = [i for i, n in enumerate(self.class_names) if n in set(names)]
        return np.isin(self.class_id, np.array(ids, dtype=np.int32))

    def name_of(self, i: int) -> str:
        cid = int(self.class_id[i])
        return self.class_names[cid] if 0 <= cid < len(self.class_names) else str(cid)


STAGES: tuple[str, ...] = ("grab", "preprocess", "infer", "decode", "decide", "actuate")


@dataclass(slots=True)
class StageTimes:
    """Nanoseconds spent per stage for one frame, plus capture-to-actuation end to end."""

    ns: dict[str, int] = field(default_factory=dict)
    end_to_end_ns: int = 0

    def add(self, stage: str, duration_ns: int) -> None:
        self.ns[stage] = self.ns.get(stage, 0) + duration_ns
