"""Camera pixels to belt millimetres: a scaled image axis or a 3x3 homography. Pure, vectorised."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from plantvision.conveyor.config import MappingModel

F64 = npt.NDArray[np.float64]
EDGE_PX = 2.0  # a box this close to the frame border is cut by it (the runtime drops it)


def whole(xyxy: npt.NDArray[np.floating], frame_w: int, frame_h: int) -> npt.NDArray[np.bool_]:
    """Which boxes (N x 4 pixels) the frame's border does not cut: a cut box's centre is not
    its item's."""
    return (
        (xyxy[:, 0] > EDGE_PX)
        & (xyxy[:, 1] > EDGE_PX)
        & (xyxy[:, 2] < frame_w - EDGE_PX)
        & (xyxy[:, 3] < frame_h - EDGE_PX)
    )


class ImageToBelt:
    """Maps pixel points of a frame to (along_mm, across_mm) at the frame's capture instant."""

    def __init__(self, cfg: MappingModel) -> None:
        self._cfg = cfg
        self._h = None if cfg.homography is None else np.array(cfg.homography, np.float64)

    def map(self, pts_px: npt.ArrayLike, frame_w: int, frame_h: int) -> tuple[F64, F64]:
        """N x 2 pixel (x, y) points -> (along_mm, across_mm), each of length N."""
        pts = np.asarray(pts_px, np.float64).reshape(-1, 2)
        cfg = self._cfg
        if cfg.image_size_px is not None:
            # A mapping calibrated at one resolution stays right when the camera runs at another.
            pts = pts * np.array(
                [cfg.image_size_px[0] / frame_w, cfg.image_size_px[1] / frame_h], np.float64
            )
        if self._h is not None:
            homog = np.column_stack([pts, np.ones(len(pts))]) @ self._h.T
            return homog[:, 0] / homog[:, 2], homog[:, 1] / homog[:, 2]
        scale = float(cfg.mm_per_px or 0.0)
        along_ax, across_ax = (0, 1) if cfg.axis == "x" else (1, 0)
        along_mm = cfg.direction * (pts[:, along_ax] - cfg.origin_px) * scale
        across_mm = (pts[:, across_ax] - cfg.across_origin_px) * scale
        return along_mm, across_mm

    def view_mm(self, frame_w: int, frame_h: int, inset_px: float = EDGE_PX) -> tuple[float, float]:
        """The along_mm span every point across the view lies in (the frame less `inset_px` at
        each border, where boxes are dropped as cut): between the second-lowest and the
        second-highest along_mm of its four corners, so a homography's tilted view counts only
        the part it covers across its whole width. Empty (lo >= hi) when none."""
        x0, y0, x1, y1 = inset_px, inset_px, frame_w - inset_px, frame_h - inset_px
        along, _ = self.map([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], frame_w, frame_h)
        ordered = np.sort(along)
        return float(ordered[1]), float(ordered[2])
