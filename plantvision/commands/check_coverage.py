"""What `check` says about a conveyor camera's coverage map (reject unless proven good).

Each decided frame proves the belt its view holds whole: the view along the belt less the
longest item (every deployment's conveyor states it: loop/deployment.py). A view no longer than
the longest item proves nothing (refused, naming the file, the field and the fix); an ejector
whose line lies before the view's judging line meets blind belt before it is judged.
"""

from __future__ import annotations

from pathlib import Path

from plantvision.conveyor.blind import VIEW_FIX, needed_ejectors, view_problem
from plantvision.conveyor.mapping import ImageToBelt
from plantvision.errors import ConfigError
from plantvision.loop.deployment import CameraModel


def coverage_lines(
    dep_file: Path, index: int, cam: CameraModel, frame_wh: tuple[int, int]
) -> list[str]:
    """The coverage map of camera `index` at frames of `frame_wh` pixels (the source's own
    first frames when check could read them)."""
    conv = cam.conveyor
    if conv is None:
        return []
    lo, hi = ImageToBelt(conv.mapping).view_mm(*frame_wh)
    view_mm, proof_mm = hi - lo, hi - lo - conv.longest_item_mm
    if proof_mm <= 0:
        raise ConfigError(
            str(dep_file),
            f"cameras[{index}].conveyor.longest_item_mm",
            view_problem(view_mm, conv.longest_item_mm) + f" (frames {frame_wh[0]}x{frame_wh[1]})",
            VIEW_FIX,
        )
    fps = cam.source.fps
    lines = [
        f"  ok   coverage: each frame proves {proof_mm:g} mm of belt (view {view_mm:g} mm less "
        f"the longest item {conv.longest_item_mm:g} mm); belt between frames further apart is "
        f"blind ({conv.no_decision_action}), min_views {conv.min_views}"
        + (
            f"; at {fps:g} fps up to {proof_mm * fps / conv.min_views / 1000:.2f} m/s"
            if fps
            else ""
        )
    ]
    line_mm = hi - conv.longest_item_mm / 2  # the judging line: past it no frame proves more
    for e in needed_ejectors(conv.ejectors):
        if e.position_mm <= line_mm:
            lines.append(
                f"  WARNING ejector {e.id} at {e.position_mm:g} mm lies before the view's judging "
                f"line ({line_mm:g} mm): blind belt passes it before it is judged; place the "
                "ejector further downstream"
            )
    return lines
