"""A tiny anchor-free detector (torch, training only) whose export is in the YOLOv8 layout.

Backbone to stride 32 with a small top-down path; one head at stride 8 predicts, per anchor
point, distances to the box sides (l, t, r, b) and a sigmoid score per class. The exported graph
turns those into the ultralytics YOLOv8 output: [1, 4 + C, N], rows cx, cy, w, h in input
pixels then class scores, no objectness. Trained FCOS-style: anchors near a box centre are
positives (focal loss on scores, GIoU loss on boxes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

STRIDE = 8


def cbr(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TinyDet(nn.Module):
    """Input [B, 3, H, W] in 0..1 (BGR); H and W multiples of 8."""

    anchors: Tensor

    def __init__(self, num_classes: int, width_px: int, height_px: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.p8 = nn.Sequential(
            cbr(3, 16, 2), cbr(16, 24, 2), cbr(24, 24), cbr(24, 48, 2), cbr(48, 48), cbr(48, 48)
        )
        self.p16 = nn.Sequential(cbr(48, 80, 2), cbr(80, 80), cbr(80, 80))
        self.p32 = nn.Sequential(cbr(80, 112, 2), cbr(112, 112), cbr(112, 112))
        self.lat32 = nn.Conv2d(112, 80, 1)
        self.fuse16 = cbr(80, 80)
        self.lat16 = nn.Conv2d(80, 48, 1)
        self.fuse8 = nn.Sequential(cbr(48, 64), cbr(64, 64))
        self.box = nn.Conv2d(64, 4, 1)
        self.cls = nn.Conv2d(64, num_classes, 1)
        bias = self.cls.bias
        assert bias is not None
        nn.init.constant_(bias, -4.6)  # start near score 0.01: focal-loss prior
        gw, gh = width_px // STRIDE, height_px // STRIDE
        ys, xs = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
        pts = torch.stack([xs.reshape(-1), ys.reshape(-1)], 0).float() * STRIDE + STRIDE / 2
        self.register_buffer("anchors", pts)  # 2 x N, anchor centres in input pixels

    def raw(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(ltrb distances in px [B, 4, N], class logits [B, C, N])."""
        f8 = self.p8(x)
        f16 = self.p16(f8)
        f32 = self.p32(f16)
        up32 = F.interpolate(self.lat32(f32), size=f16.shape[-2:], mode="nearest")
        f16 = self.fuse16(f16 + up32)
        up16 = F.interpolate(self.lat16(f16), size=f8.shape[-2:], mode="nearest")
        f = self.fuse8(f8 + up16)
        ltrb = torch.exp(self.box(f).clamp(-6.0, 6.0)) * STRIDE
        return ltrb.flatten(2), self.cls(f).flatten(2)

    def forward(self, x: Tensor) -> Tensor:
        """The YOLOv8 layout: [B, 4 + C, N] = cx, cy, w, h (input px), sigmoid scores."""
        ltrb, logits = self.raw(x)
        a = self.anchors
        x1, y1 = a[0] - ltrb[:, 0], a[1] - ltrb[:, 1]
        x2, y2 = a[0] + ltrb[:, 2], a[1] + ltrb[:, 3]
        box = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
        return torch.cat([box, torch.sigmoid(logits)], 1)


def giou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 - GIoU of xyxy boxes, per row."""
    lt, rb = torch.max(pred[:, :2], target[:, :2]), torch.min(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).prod(1)
    union = area_p + area_t - inter
    iou = inter / union.clamp(min=1e-6)
    hull = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).prod(1)
    return 1 - iou + (hull - union) / hull.clamp(min=1e-6)


def detection_loss(
    model: TinyDet, images: Tensor, cls_t: Tensor, box_t: Tensor, pos: Tensor, valid: Tensor
) -> tuple[Tensor, Tensor]:
    """(focal score loss, GIoU box loss), both per positive anchor.

    cls_t [B, C, N] one-hot targets, box_t [B, 4, N] xyxy targets, pos [B, N] positives,
    valid [B, N] anchors that count for the score loss (not near a box too hard to demand).
    """
    ltrb, logits = model.raw(images)
    n_pos = pos.sum().clamp(min=1).float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, cls_t, reduction="none")
    p_t = p * cls_t + (1 - p) * (1 - cls_t)
    alpha = 0.25 * cls_t + 0.75 * (1 - cls_t)
    focal = (alpha * (1 - p_t) ** 2 * ce * valid[:, None].float()).sum() / n_pos
    a = model.anchors
    pred = torch.stack(
        [a[0] - ltrb[:, 0], a[1] - ltrb[:, 1], a[0] + ltrb[:, 2], a[1] + ltrb[:, 3]], 1
    )
    sel = pos.reshape(-1)
    pb = pred.permute(0, 2, 1).reshape(-1, 4)[sel]
    tb = box_t.permute(0, 2, 1).reshape(-1, 4)[sel]
    box = giou_loss(pb, tb).sum() / n_pos if sel.any() else ltrb.sum() * 0
    return focal, box
