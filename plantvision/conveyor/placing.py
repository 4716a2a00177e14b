"""Placing a frame on the belt, and the fault when the belt cannot say where it was. Pure.

Items are placed where the belt was when their frame was exposed (the stamp less the camera's
capture latency; the belt dates encoder readings back by the encoder's latency): `FramePlacer`
maps a frame's boxes to belt-fixed mm, each defect with the item box that holds it. A frame the
belt cannot place goes unjudged; `UnplacedSpell` counts such frames and raises the fault
`belt_unplaced` once per spell of them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.actions import Alarm
from plantvision.conveyor.association import assign_defects
from plantvision.conveyor.belt import Belt
from plantvision.conveyor.blind import BlindSegments
from plantvision.conveyor.config import ConveyorConfig
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.conveyor.rejects import RejectBook, ms
from plantvision.conveyor.tracker import BeltFrame
from plantvision.types import Detections

# A box this much longer than longest_item_mm shows an item longer than declared (detector boxes
# are a little loose: the scenes' 60 mm items box at up to 72 mm): it is told, and the frame
# proves that much less of its view.
OVERLONG_SLACK = 1.25


def _centres(xyxy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2])


class FramePlacer:
    """Places one camera's frames on one belt."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, capture_latency_ns: int) -> None:
        """`capture_latency_ns`: how long before its stamp a frame was exposed."""
        self._cfg, self._belt = cfg, belt
        self._mapping = ImageToBelt(cfg.mapping)
        self._capture_latency_ns = capture_latency_ns

    def exposed_ns(self, t_capture_ns: int) -> int:
        """When the frame stamped `t_capture_ns` was exposed: where its items are placed."""
        return t_capture_ns - self._capture_latency_ns

    def on_belt(self, t_capture_ns: int, dets: Detections, frame_w: int, frame_h: int
                ) -> BeltFrame:  # fmt: skip
        """A frame's item and defect boxes in belt-fixed mm; each defect with the item box
        that contains it in the image (pixels: the same frame, no mapping error)."""
        cfg = self._cfg
        dets = dets.select(dets.class_mask([cfg.item_class, cfg.defect_class]))
        xy = dets.xyxy.astype(np.float64)
        is_defect = dets.class_mask([cfg.defect_class])
        items = np.flatnonzero(~is_defect)
        owner = np.full(len(xy), -1, np.int64)
        local = assign_defects(xy[items], xy[is_defect])
        owner[np.flatnonzero(is_defect)[local >= 0]] = items[local[local >= 0]]
        along_mm, across_mm = self._mapping.map(_centres(xy), frame_w, frame_h)
        u_mm = along_mm - self._belt.position_mm(self.exposed_ns(t_capture_ns))
        return BeltFrame(u_mm, across_mm, self.half_mm(xy, frame_w, frame_h), is_defect, owner)

    def half_mm(self, xyxy: npt.NDArray[np.float64], frame_w: int, frame_h: int
                ) -> npt.NDArray[np.float64]:  # fmt: skip
        """N x 2 half extents (along, across) of boxes on the belt, from their four corners (a
        homography makes a box a quadrilateral)."""
        corners = xyxy[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 2)
        cu, ca = (a.reshape(-1, 4) for a in self._mapping.map(corners, frame_w, frame_h))
        return np.column_stack([np.ptp(cu, axis=1), np.ptp(ca, axis=1)]) / 2

    def longest_box_mm(self, detections: Detections, frame_w: int, frame_h: int) -> float:
        """The longest box along the belt in this frame, whole or cut by the border (0 with
        none): the coverage map rests on `longest_item_mm`, and an item longer than declared is
        whole in fewer frames than it assumes."""
        if len(detections) == 0:
            return 0.0
        half = self.half_mm(detections.xyxy.astype(np.float64), frame_w, frame_h)
        return float(2 * half[:, 0].max())

    def overlong(self, length_mm: float) -> bool:
        """A box this long shows an item longer than declared (OVERLONG_SLACK for the
        detector's loose boxes): worth telling the integrator."""
        longest = self._cfg.longest_item_mm
        return longest is not None and length_mm > longest * OVERLONG_SLACK


class UnplacedSpell:
    """Frames one camera's belt could not place, since the last it could."""

    def __init__(self, cfg: ConveyorConfig, belt: Belt, book: RejectBook,
                 blind: BlindSegments | None) -> None:  # fmt: skip
        self._cfg, self._belt, self._book, self._blind = cfg, belt, book, blind
        self._since_ns: int | None = None  # first frame of a spell the belt can't place
        self.told = False  # belt_unplaced raised for this spell

    def end(self) -> None:
        """A frame was placed: the spell, if any, is over."""
        self._since_ns, self.told = None, False

    def frame(self, t_capture_ns: int, detections: Detections) -> None:
        """A frame the belt cannot place (no encoder reading yet, or none for `stale_ms`): its
        items go unjudged. Counted and logged per frame; the fault `belt_unplaced` (once per
        spell: counted, logged, alarmed and, with missed_action stop_belt, the belt stopped)
        as soon as such a frame shows a defect (a blind segment with a defect in it), or once
        frames stay unplaced `stale_ms` while they show items. A belt whose readings all went
        unused (review 5: every one judged blurred) passed defects silently; so did a defect
        seen only in a spell shorter than `stale_ms` (review 6): its items are not kept."""
        self._book.counters.frames_unplaced += 1
        self._book.log.warning("belt_position_unknown", t_capture_ns=t_capture_ns)
        if self._blind is not None:
            self._blind.undecided("belt_unplaced")
        if self._since_ns is None:
            self._since_ns = t_capture_ns
        cfg = self._cfg
        seen = bool(detections.class_mask([cfg.item_class, cfg.defect_class]).any())
        defect = bool(detections.class_mask([cfg.defect_class]).any())
        unplaced_ns = t_capture_ns - self._since_ns
        # Before the belt's first reading the coverage map holds the whole belt up to the
        # ejectors blind (start-up), so a defect there is pushed anyway: the first frames of
        # every box start come before the first input poll, and alarmed at each power-up.
        defect_alarms = defect and (self._blind is None or self._belt.measured_mm() is not None)
        long_spell = seen and unplaced_ns >= self._belt.stale_ns
        if self.told or not (defect_alarms or long_spell):
            return
        self.told = True
        self._book.counters.belt_unplaced += 1
        self._book.buf.alarms.append(Alarm("belt_unplaced", 0))
        if cfg.missed_action == "stop_belt":
            self._book.stop_belt = True
        self._book.log.error("belt_unplaced", unplaced_ms=ms(unplaced_ns), defect=defect,
                             action=cfg.missed_action, t_ns=t_capture_ns)  # fmt: skip
