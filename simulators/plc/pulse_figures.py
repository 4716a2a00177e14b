"""The pulse benches' one line of figures: median, p99 of the magnitude, worst, n."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stats(name: str, values: Sequence[float], unit: str = "ms") -> str:
    """'name: median m, p99 p, max x unit (n=N)'; max is of the absolute value's sign kept."""
    if not values:
        return f"{name}: no samples"
    arr = np.asarray(values, np.float64)
    worst = float(arr[np.argmax(np.abs(arr))])
    return (
        f"{name}: median {np.median(arr):+.3f}, p99 |{np.percentile(np.abs(arr), 99):.3f}|, "
        f"max {worst:+.3f} {unit} (n={len(arr)})"
    )
