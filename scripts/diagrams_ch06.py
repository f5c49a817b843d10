#!/usr/bin/env python
"""Figures of chapter 6 (NiN and DenseNet-121), in the style of scripts/diagrams.py.

    written by python scripts/diagrams.py (with every other figure): write notebooks/img/{nin,dense_block,densenet121}.svg

The shapes are the ones 06_nin_densenet.ipynb prints with pu.layer_table
(input 3x224x224); check_shapes() recomputes them with the output-size formula.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagrams import *  # noqa: E402,F401,F403
from diagrams import KINDS, OUT_DIR, Box, Canvas, Layer, chip_row, figure, footer, layer_column, notes, sides  # noqa: E402

# extra layer kinds of this chapter (added to this process's copy of the table only)

GROWTH = 32
DENSE_BLOCKS = (6, 12, 24, 16)


def check_shapes():
    """Side lengths and channel counts drawn below (as printed by pu.layer_table)."""
    # NiN: 11x11/4, pool 3/2, 5x5 p2, pool 3/2, 3x3 p1, pool 3/2, 3x3 p1
    nin = [(11, 0, 4), (3, 0, 2), (5, 2, 1), (3, 0, 2), (3, 1, 1), (3, 0, 2), (3, 1, 1)]
    assert sides(224, nin) == [54, 26, 26, 12, 12, 5, 5]
    # DenseNet-121: stem 7x7/2 p3, pool 3/2 p1, three transitions with 2x2/2 average pools
    dense = [(7, 3, 2), (3, 1, 2), (2, 0, 2), (2, 0, 2), (2, 0, 2)]
    assert sides(224, dense) == [112, 56, 28, 14, 7]
    channels, c = [], 64
    for i, n in enumerate(DENSE_BLOCKS):
        c += n * GROWTH
        channels.append(c)
        if i < 3:
            c //= 2
            channels.append(c)
    assert channels == [256, 128, 512, 256, 1024, 512, 1024]


# --------------------------------------------------------------------------- NiN

def nin() -> Canvas:
    c = figure("NiN：四个 mlpconv 块与全局平均池化，输入 3×224×224", "NiN（第 6 章），输入 3×224×224")
    x, w = 30, 310

    def mlp(ch_in, ch, k, extra, out=None):
        out = out or ch
        return f"{k}×{k}{extra} | 1×1 | 1×1；通道 {ch_in}→{ch}→{ch}→{out}"

    layers = [
        Layer("input", "输入图像", "", "3×224×224"),
        Layer("mlpconv", "mlpconv 块 1", mlp(3, 96, 11, "，步幅 4"), "96×54×54"),
        Layer("pool", "3×3 最大池化，步幅 2", "", "96×26×26"),
        Layer("mlpconv", "mlpconv 块 2", mlp(96, 256, 5, "，填充 2"), "256×26×26"),
        Layer("pool", "3×3 最大池化，步幅 2", "", "256×12×12"),
        Layer("mlpconv", "mlpconv 块 3", mlp(256, 384, 3, "，填充 1"), "384×12×12"),
        Layer("pool", "3×3 最大池化，步幅 2", "", "384×5×5"),
        Layer("dropout", "Dropout 0.5", "", "384×5×5"),
        Layer("mlpconv", "mlpconv 块 4（输出层）", mlp(384, 384, 3, "，填充 1", "1"), "1×5×5"),
        Layer("pool", "全局平均池化", "", "1×1×1"),
        Layer("input", "输出", "", "1（logit）"),
    ]
    boxes = layer_column(c, x, 52, w, layers, gap=15, h=30, h_sub=42)
    c.label(boxes[8].right + 14, boxes[8].cy + 17, "（一类一张图）", 11, color=MUTED)
    c.bracket(x + w + 100, boxes[1].y, boxes[6].bottom, "特征提取：9 个卷积层")
    c.bracket(x + w + 100, boxes[8].y, boxes[9].bottom, "分类器：没有全连接层")

    # the structure of one mlpconv block
    px, py, pw = 610, 96, 330
    c.rect(px, py, pw, 332, "none", KINDS["mlpconv"][1], rx=10, dash=True, stroke_width=1.3)
    c.label(px + 16, py + 22, "mlpconv 块的结构", 13, weight="bold")
    inner = [
        Layer("input", "输入 C_in×H×W", ""),
        Layer("conv", "k×k 卷积，C_in→C", "+ ReLU"),
        Layer("conv", "1×1 卷积，C→C", "+ ReLU"),
        Layer("conv", "1×1 卷积，C→C_out", "+ ReLU（输出层的块不加）"),
        Layer("input", "输出 C_out×H'×W'", ""),
    ]
    col = layer_column(c, px + 16, py + 44, 210, inner, gap=16, h=28, h_sub=40)
    c.bracket(col[2].right + 14, col[2].y, col[3].bottom, "像素上的 MLP", size=11)
    notes(c, px + 16, col[-1].bottom + 22, ["两个 1×1 卷积 = 在每个像素的通道向量上",
                                            "做一个两层的全连接网络（论文的 cccp 层）"], size=11, step=17)

    return footer(c, x, boxes[-1].bottom + 28, [
        "块内的文字：三个卷积的核尺寸，以及通道数的变化（块的输入→第 1、2、3 个卷积的输出）。",
        "前三块沿用 AlexNet 的卷积核、步幅和通道数（96、256、384）；最后一块为每个类别输出一张 5×5 的图，",
        "全局平均池化把它变成一个数（这里只有一类：一个 logit）。"],
                  ["input", "mlpconv", "conv", "pool", "dropout"])


# --------------------------------------------------------------------------- DenseNet

def dense_block() -> Canvas:
    c = figure("稠密块、稠密层与过渡层（DenseNet-121 的第 1 个稠密块）", "稠密块（DenseNet-121 的第 1 块：6 层，增长率 k = 32）")
    # (a) the channel stack growing by k per layer
    c.label(24, 62, "(a) 每一层读入前面所有层的输出（按通道拼接），再追加 k = 32 个新通道", 13, weight="bold")
    x0, y0, unit = 150, 86, 0.95            # unit: pixels per channel in the stacked bars
    colors = ["#cfd8e6", "#f6c9a8", "#f3e09b", "#c8e3b9", "#b9dbe3", "#dccbe8", "#f2c4cf"]
    stroke = "#7f8aa0"
    row_h, gap = 24, 14
    bars = []
    for i in range(7):                      # x0 (input) and the outputs of layers 1..6
        y = y0 + i * (row_h + gap)
        name = "输入 x₀" if i == 0 else f"稠密层 {i}"
        c.box(24, y, 100, row_h, "input" if i == 0 else "conv", name, size=12)
        bx = x0
        segments = [(64, "x₀：64")] + [(GROWTH, f"x{'₁₂₃₄₅₆'[j]}") for j in range(i)]
        for j, (ch, text) in enumerate(segments):
            wseg = ch * unit
            c.rect(bx, y, wseg, row_h, colors[j], stroke, rx=2, stroke_width=1)
            c.label(bx + wseg / 2, y + row_h / 2, text, 11, "middle")
            bx += wseg
        total = 64 + i * GROWTH
        c.label(bx + 10, y + row_h / 2, f"{total}×56×56", 12, color=MUTED)
        if i:
            c.arrow((74, bars[-1].bottom), (74, y))
        bars.append(Box(24, y, 100, row_h))
    notes(c, 24, bars[-1].bottom + 22, [
        "第 i 层的输入是 64 + 32(i−1) 个通道：x₀ 和前面每一层新算出的 32 个通道；",
        "它只新算 32 个通道，拼到后面。6 层之后：64 + 6×32 = 256 个通道（表中的 block1 输出）。"])

    # (b) one dense layer, (c) the transition layer
    top = bars[-1].bottom + 76
    c.label(24, top, "(b) 稠密层（瓶颈版，DenseNet-B）", 13, weight="bold")
    bn, relu = ("norm", "BN", "", 34), ("act", "ReLU", "", 44)
    rows = [[bn, relu, ("conv", "1×1 卷积", "C→4k = 128", 118)],
            [bn, relu, ("conv", "3×3 卷积", "128→k = 32，填充 1", 118)]]
    xb = 90
    cx = xb + 17                             # the data enters each row at its first chip (BN)
    inp = c.box(cx - 60, top + 22, 120, 30, "input", "输入 x（C 通道）", size=12)
    y = inp.bottom + 22
    prev = inp
    shapes = ["128×56×56", "32×56×56"]
    for parts, shape in zip(rows, shapes):
        row = chip_row(c, xb, y, parts, h=40)
        c.arrow((cx, prev.bottom), (cx, row.y))
        c.label(row.right + 10, row.cy, shape, 12, color=MUTED)
        prev, y = row, row.bottom + 22
    cat = c.box(cx - 70, y, 180, 30, "concat", "在通道维上拼接 [x, 新]", size=12)
    c.arrow((cx, prev.bottom), (cx, cat.y))
    out = c.box(cx - 60, cat.bottom + 20, 150, 30, "input", "输出（C + 32 通道）", size=12)
    c.arrow((cx, cat.bottom), (cx, out.y))
    lane = 400                               # x itself goes around, right of the shapes
    c.line([(inp.right, inp.cy), (lane, inp.cy), (lane, cat.cy)])
    c.arrow((lane, cat.cy), (cat.right, cat.cy))
    c.label(lane + 6, (inp.cy + cat.cy) / 2 - 9, "x 原样保留", 12, color=MUTED)
    c.label(lane + 6, (inp.cy + cat.cy) / 2 + 9, "（不相加）", 11, color=MUTED)

    tx = 520
    c.label(tx, top, "(c) 过渡层（压缩 θ = 0.5）", 13, weight="bold")
    t_row_x = tx + 20
    tcx = t_row_x + 17
    t_in = c.box(tcx - 40, top + 22, 190, 30, "input", "稠密块的输出 256×56×56", size=11)
    t_row = chip_row(c, t_row_x, t_in.bottom + 22,
                     [bn, relu, ("conv", "1×1 卷积", "256→128", 96)], h=40)
    c.arrow((tcx, t_in.bottom), (tcx, t_row.y))
    c.label(t_row.right + 10, t_row.cy, "128×56×56", 12, color=MUTED)
    t_pool = c.box(tcx - 40, t_row.bottom + 22, 177, 30, "pool", "2×2 平均池化，步幅 2", size=12)
    c.arrow((tcx, t_row.bottom), (tcx, t_pool.y))
    c.label(t_pool.right + 10, t_pool.cy, "128×28×28", 12, color=MUTED)
    notes(c, tx, t_pool.bottom + 26, ["通道数减半（压缩），高和宽减半；", "下一个稠密块从 128 个通道开始。"],
          size=11, step=17)
    y = out.bottom + 30
    c.legend(24, y, ["input", "conv", "norm", "act", "concat", "pool"])
    return c


def densenet121() -> Canvas:
    c = figure("DenseNet-121：输入 3×224×224 的逐块形状", "DenseNet-121（第 6 章），输入 3×224×224")
    x, w = 30, 540
    shape_x = x + w + 14
    inp = c.box(x + w / 2 - 110, 50, 220, 30, "input", "输入图像")
    c.label(shape_x, inp.cy, "3×224×224", 13, color=MUTED)
    stem = chip_row(c, x + w / 2 - 95, inp.bottom + 18,
                    [("conv", "7×7 卷积，3→64", "步幅 2，填充 3", 190), ("norm", "BN", "", 44),
                     ("act", "ReLU", "", 60)], h=40)
    c.arrow((inp.cx, inp.bottom), (inp.cx, stem.y))
    c.label(shape_x, stem.cy, "64×112×112", 13, color=MUTED)
    pool = c.box(x + w / 2 - 110, stem.bottom + 18, 220, 30, "pool", "3×3 最大池化，步幅 2，填充 1")
    c.arrow((inp.cx, stem.bottom), (inp.cx, pool.y))
    c.label(shape_x, pool.cy, "64×56×56", 13, color=MUTED)
    prev, y = pool, pool.bottom + 18
    c_in, sides = 64, [56, 28, 14, 7]
    for i, n in enumerate(DENSE_BLOCKS):
        side, c_out = sides[i], c_in + n * GROWTH
        block = c.group(x, y, w, 70)
        c.arrow((prev.cx, prev.bottom), (block.cx, block.y))
        c.label(x + 12, y + 16, f"稠密块 {i + 1}（block{i + 1}）：{n} 个稠密层，"
                f"通道 {c_in} → {c_in} + {n}×32 = {c_out}", 13, weight="bold")
        shown = min(n, 6)
        cx, cw = x + 12, 66
        for j in range(shown):
            text = "…" if (n > 6 and j == 4) else f"层 {n if (n > 6 and j == 5) else j + 1}"
            c.box(cx, y + 30, cw, 30, "dense", text, size=12)
            if j:
                c.arrow((cx - 9, y + 45), (cx, y + 45))
            cx += cw + 9
        c.label(shape_x, block.cy, f"{c_out}×{side}×{side}", 13, color=MUTED)
        prev, y = block, block.bottom + 18
        if i < 3:
            c_in = c_out // 2
            t = chip_row(c, x + w / 2 - 150, y,
                         [("norm", "BN", "", 34), ("act", "ReLU", "", 44),
                          ("conv", f"1×1 卷积 {c_out}→{c_in}", "", 140),
                          ("pool", "2×2 平均池化", "", 90)], h=30)
            c.arrow((prev.cx, prev.bottom), (prev.cx, t.y))
            c.label(t.x - 10, t.cy, f"过渡层 {i + 1}（trans{i + 1}）", 12, "end", MUTED)
            c.label(shape_x, t.cy, f"{c_in}×{side // 2}×{side // 2}", 13, color=MUTED)
            prev, y = Box(x + w / 2 - 1, t.y, 2, t.h), t.bottom + 18
    head = chip_row(c, x + w / 2 - 39, y, [("norm", "BN", "", 34), ("act", "ReLU", "", 44)], h=30)
    c.arrow((prev.cx, prev.bottom), (prev.cx, head.y))
    c.label(shape_x, head.cy, "1024×7×7", 13, color=MUTED)
    layers = [Layer("pool", "全局平均池化", "", "1024×1×1"),
              Layer("fc", "全连接 1024→1", "", "1（logit）")]
    c.arrow((x + w / 2, head.bottom), (x + w / 2, head.bottom + 18))
    boxes = layer_column(c, x + w / 2 - 110, head.bottom + 18, 220, layers, shape_dx=w / 2 - 110 + 14)
    return footer(c, x, boxes[-1].bottom + 28, [
        "每个稠密层 2 个卷积：1 (stem) + 2 × (6 + 12 + 24 + 16) + 3 (过渡层) + 1 (全连接) = 121 层。",
        "稠密块内部高和宽不变，每层读入前面全部的通道、新增 32 个；",
        "过渡层把通道数减半（压缩 θ = 0.5），把高和宽减半。"],
                  ["input", "conv", "norm", "act", "pool", "dense", "fc"])


FIGURES = {"nin": nin, "dense_block": dense_block, "densenet121": densenet121}
