"""Models that ship inside the package (see each model's card, the .md file beside it)."""

from __future__ import annotations

from pathlib import Path

# The project's own person / item / defect detector, trained on simulated cells (YOLOv8 layout).
CELL_DETECTOR_PATH = Path(__file__).with_name("cell_detector.onnx")
