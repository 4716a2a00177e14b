"""The quantization card as text, for `plantvision quantize` and `plantvision check`."""

from __future__ import annotations

from plantvision.detect.model_card import QuantCard


def card_lines(card: QuantCard, indent: str = "  ") -> list[str]:
    """Speed per thread count, per-class agreement, zone-decision agreement, provenance."""
    lines = [
        f"{indent}INT8 ({card.scheme}) on {card.backend}; "
        f"{card.holdout_frames} held-out frames, {card.calibration_frames} for calibration "
        f"(sha256 {card.calibration_sha256[:12]})",
    ]
    for s in card.speed:
        lines.append(
            f"{indent}  {s.threads} thread(s): FP32 median {s.fp32_median_ms:.2f} ms p99 "
            f"{s.fp32_p99_ms:.2f} ms | INT8 median {s.int8_median_ms:.2f} ms p99 "
            f"{s.int8_p99_ms:.2f} ms | {s.ratio_median:.2f}x (p99 {s.ratio_p99:.2f}x), "
            f"n={s.runs}"
        )
    for c in card.detection_agreement:
        lines.append(
            f"{indent}  {c.name}: precision {100 * c.precision:.1f} % recall "
            f"{100 * c.recall:.1f} % vs FP32 at conf {card.conf_threshold:g}, IoU "
            f"{card.iou_match:g} ({c.fp32_detections} FP32 / {c.int8_detections} INT8)"
        )
    lines.append(
        f"{indent}  zone decisions: {card.zone_agreement_pct:.1f} % of frames the same "
        f"(zones sha256 {card.zones_sha256[:12]})"
    )
    kept = ", ".join(card.excluded_nodes) if card.excluded_nodes else "none"
    lines.append(f"{indent}  kept in float: {len(card.excluded_nodes)} nodes ({kept[:160]})")
    lines.append(f"{indent}  made by: {card.command}")
    return lines
