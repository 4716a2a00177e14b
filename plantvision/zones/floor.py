"""Image <-> floor homography from point pairs, numpy only (no cv2, so pure rooms may use it).

A homography maps straight lines to straight lines, so a polygon maps exactly by mapping its
vertices, as long as no vertex lies on or beyond the horizon (w <= 0), which `apply` refuses.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# Homogeneous w below this is treated as "at or beyond the horizon".
_MIN_W = 1e-9


def _normaliser(pts: Array) -> Array:
    """Hartley normalisation: centre on the mean, scale mean distance to sqrt(2)."""
    centre = pts.mean(axis=0)
    spread = float(np.mean(np.linalg.norm(pts - centre, axis=1)))
    s = np.sqrt(2.0) / spread if spread > 0 else 1.0
    return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]], np.float64)


def fit_homography(src: npt.ArrayLike, dst: npt.ArrayLike) -> Array:
    """3x3 H with dst ~ H @ src, least squares over >= 4 pairs (normalised DLT).

    Raises ValueError when the pairs are degenerate (three or more collinear points leave the
    system without a unique solution).
    """
    s = np.asarray(src, np.float64).reshape(-1, 2)
    d = np.asarray(dst, np.float64).reshape(-1, 2)
    if s.shape != d.shape or s.shape[0] < 4:
        raise ValueError("need at least 4 image/floor point pairs of equal count")
    ts, td = _normaliser(s), _normaliser(d)
    sh = (ts @ np.c_[s, np.ones(len(s))].T).T
    dh = (td @ np.c_[d, np.ones(len(d))].T).T
    rows = []
    for (x, y, _), (u, v, _) in zip(sh, dh, strict=True):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    a = np.array(rows, np.float64)
    _, sv, vt = np.linalg.svd(a)
    # A unique H needs rank 8; a tiny 8th singular value means collinear/degenerate pairs.
    if sv[7] < 1e-9 * sv[0]:
        raise ValueError("point pairs are degenerate (collinear or repeated points)")
    h: Array = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    out: Array = h / h[2, 2]
    return out


def apply(h: Array, pts: npt.ArrayLike) -> Array:
    """Map N x 2 points through H. Raises ValueError if a point maps to or beyond the horizon."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    ph = np.c_[p, np.ones(len(p))] @ h.T
    if np.any(ph[:, 2] <= _MIN_W):
        raise ValueError("a point maps to or beyond the horizon of the calibration")
    out: Array = ph[:, :2] / ph[:, 2:3]
    return out


def reprojection_rms(h: Array, src: npt.ArrayLike, dst: npt.ArrayLike) -> float:
    """Root-mean-square distance (dst units) between H(src) and dst."""
    err = apply(h, src) - np.asarray(dst, np.float64).reshape(-1, 2)
    return float(np.sqrt(np.mean(np.sum(err**2, axis=1))))
