"""The quantization card as text, for `plantvision quantize` and `plantvision check`."""

from __future__ import annotations

from plantvision.detect.quant_card import BackendFigures, QuantCard


def card_lines(card: QuantCard, indent: str = "  ", backend: str | None = None) -> list[str]:
    """Provenance, then per backend (only `backend`'s when given): speed per thread count,
    per-class agreement and zone-decision agreement with the reference."""
    shown = [f for f in card.figures if backend is None or f.backend == backend]
    others = [f.backend for f in card.figures if f not in shown]
    lines = [
        f"{indent}INT8 ({card.scheme}), made for {card.made_for}; "
        f"{card.holdout_frames} held-out frames, {card.calibration_frames} for calibration "
        f"(sha256 {card.calibration_sha256[:12]}); agreement against {card.reference}",
    ]
    for f in shown:
        lines += _figure_lines(card, f, indent, card.figures_for("onnxruntime"))
    if others:
        lines.append(f"{indent}  also measured on: {', '.join(others)} (plantvision quantize)")
    kept = ", ".join(card.excluded_nodes) if card.excluded_nodes else "none"
    lines.append(f"{indent}  kept in float: {len(card.excluded_nodes)} nodes ({kept[:160]})")
    lines.append(f"{indent}  made by: {card.command}")
    return lines


def _figure_lines(
    card: QuantCard, f: BackendFigures, indent: str, ref: BackendFigures | None
) -> list[str]:
    lines = [f"{indent}  on {f.backend} ({f.provider}):"]
    ref_ms = {s.threads: s.fp32_median_ms for s in ref.speed} if ref is not None else {}
    for s in f.speed:
        vs_ref = ""
        if f.backend != "onnxruntime" and s.threads in ref_ms:
            vs_ref = f"; {ref_ms[s.threads] / s.int8_median_ms:.2f}x FP32 onnxruntime"
        lines.append(
            f"{indent}    {s.threads} thread(s): FP32 median {s.fp32_median_ms:.2f} ms p99 "
            f"{s.fp32_p99_ms:.2f} ms | INT8 median {s.int8_median_ms:.2f} ms p99 "
            f"{s.int8_p99_ms:.2f} ms | {s.ratio_median:.2f}x (p99 {s.ratio_p99:.2f}x){vs_ref}, "
            f"n={s.runs}"
        )
    for c in f.detection_agreement:
        lines.append(
            f"{indent}    {c.name}: precision {100 * c.precision:.1f} % recall "
            f"{100 * c.recall:.1f} % at conf {card.conf_threshold:g}, IoU "
            f"{card.iou_match:g} ({c.fp32_detections} reference / {c.int8_detections} INT8)"
        )
    lines.append(
        f"{indent}    zone decisions: {f.zone_agreement_pct:.1f} % of frames the same "
        f"(FP32 on {f.backend}: {f.fp32_zone_agreement_pct:.1f} %; zones sha256 "
        f"{card.zones_sha256[:12]})"
    )
    return lines
