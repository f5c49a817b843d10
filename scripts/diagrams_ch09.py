#!/usr/bin/env python
"""Chapter 9 figure (Grad-CAM on ResNet-50), drawn with scripts/diagrams.py's helpers.

    written by python scripts/diagrams.py (with every other figure): notebooks/img/gradcam.svg

The shapes are those of ResNet-50 as chapter 5's layer table prints them (input
3x224x224; layer3 1024x14x14, layer4 2048x7x7, global average pool 2048, fc 2048->1),
and chapter 9's check "layer4 features: [1, 2048, 7, 7]".
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagrams import *  # noqa: E402,F401,F403
from diagrams import KINDS, MUTED, OUT_DIR, Canvas, conv_out, heading, notes  # noqa: E402



def check_shapes():
    side = 224
    for k, p, s in [(7, 3, 2), (3, 1, 2), (3, 1, 2), (3, 1, 2), (3, 1, 2)]:
        side = conv_out(side, k, p, s)
    assert side == 7 and 224 // 7 == 32


def gradcam() -> Canvas:
    c = Canvas("Grad-CAM：在 ResNet-50 的 layer4 上，用 logit 对特征图的梯度给通道加权")
    heading(c, "Grad-CAM（第 9 章）：ResNet-50，选定的层为 layer4")
    lx, rx, w, h, gap = 30, 500, 250, 46, 24
    rows = [58 + i * (h + gap) for i in range(5)]
    left = [("input", "输入图像", "3×224×224"),
            ("conv", "stem，layer1–layer3", "1024×14×14"),
            ("block", "layer4 的输出：特征图 A", "2048×7×7"),
            ("pool", "全局平均池化", "2048"),
            ("fc", "全连接 2048→1", "y：PM 的 logit")]
    right = [("input", "热图叠加在图像上", "看网络的依据在哪里"),
             ("cam", "双线性插值到 224×224", "再除以最大值：取值 [0, 1]"),
             ("cam", "L = ReLU(Σ α_k A^k)", "7×7"),
             ("cam", "在 7×7 上取平均", "α：2048 个通道权重"),
             ("grad", "梯度 ∂y/∂A", "2048×7×7")]
    lboxes, rboxes = [], []
    for y, (kind, text, sub) in zip(rows, left):
        b = c.box(lx, y, w, h, kind, text, sub)
        if lboxes:
            c.arrow((b.cx, lboxes[-1].bottom), (b.cx, b.y))
        lboxes.append(b)
    for y, (kind, text, sub) in zip(rows, right):
        rboxes.append(c.box(rx, y, w, h, kind, text, sub))
    for upper, lower in zip(rboxes, rboxes[1:]):     # the right column reads bottom to top
        c.arrow((lower.cx, lower.y), (upper.cx, upper.bottom))
    mid = (lx + w + rx) / 2
    links = [(0, "原图", True), (2, "前向时用钩子保存 A", False), (4, "反向传播 paddle.grad(y, A)", True)]
    for row, text, dash in links:
        a, b = lboxes[row], rboxes[row]
        c.arrow((a.right, a.cy), (b.x, b.cy), dash=dash)
        c.label(mid, a.cy - 11, text, 12, "middle", MUTED)
    y = notes(c, lx, rows[-1] + h + 32, [
        "α_k = (1/49) Σ_ij ∂y/∂A^k_ij：梯度在空间上的平均，每个通道一个权重；ReLU 只留下把 logit 推高的位置。",
        "热图的一个格子对应输入的 32×32 个像素。在 layer4 上 α_k = w_k / 49（w 为全连接层的权重），Grad-CAM 就是 CAM。"])
    c.legend(lx, y + 8, ["input", "conv", "block", "pool", "fc", "grad", "cam"])
    return c


FIGURES = {"gradcam": gradcam}
