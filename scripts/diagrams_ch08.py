#!/usr/bin/env python
"""Chapter 8 figures (MobileNetV2, EfficientNet-B0), drawn with scripts/diagrams.py's helpers.

    written by python scripts/diagrams.py (with every other figure): writes notebooks/img/{depthwise_separable, inverted_residual,
                                mobilenet_v2, mbconv_block, efficientnet_b0}.svg

The shapes are those printed by pu.layer_table in notebooks/08_mobilenet_efficientnet.ipynb:
InvertedResidual(32, 32, 1, 6) on 32x28x28 and InvertedResidual(24, 32, 2, 6) on 24x56x56,
MBConv(112, 112, 5, 1, 6) on 112x14x14, and the two networks with depth=1 (input 3x224x224).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagrams import *  # noqa: E402,F401,F403
from diagrams import KINDS, OUT_DIR, Box, Canvas, MUTED, chip_row, conv_out, figure, footer, notes  # noqa: E402


MOBILENET_V2 = [  # t, c, n, s, output shape
    (1, 16, 1, 1, "16×112×112"), (6, 24, 2, 2, "24×56×56"), (6, 32, 3, 2, "32×28×28"),
    (6, 64, 4, 2, "64×14×14"), (6, 96, 3, 1, "96×14×14"), (6, 160, 3, 2, "160×7×7"),
    (6, 320, 1, 1, "320×7×7")]
EFFICIENTNET_B0 = [  # expand, kernel, stride, channels, repeats, output shape
    (1, 3, 1, 16, 1, "16×112×112"), (6, 3, 2, 24, 2, "24×56×56"), (6, 5, 2, 40, 2, "40×28×28"),
    (6, 3, 2, 80, 3, "80×14×14"), (6, 5, 1, 112, 3, "112×14×14"), (6, 5, 2, 192, 4, "192×7×7"),
    (6, 3, 1, 320, 1, "320×7×7")]


def check_shapes():
    """The side lengths drawn below, recomputed with the output-size formula."""
    for table, kernel_of in ((MOBILENET_V2, lambda row: 3), (EFFICIENTNET_B0, lambda row: row[1])):
        side = conv_out(224, 3, 1, 2)
        assert side == 112
        for row in table:
            stride = row[3] if table is MOBILENET_V2 else row[2]
            k = kernel_of(row)
            side = conv_out(side, k, (k - 1) // 2, stride)
            channels = row[1] if table is MOBILENET_V2 else row[3]
            assert row[-1] == f"{channels}×{side}×{side}", (row, side)
    assert 3 * 3 * 32 * 64 == 18432 and 3 * 3 * 32 + 32 * 64 == 2336
    assert int(112 * 0.25) == 28 and 112 * 6 == 672 and 32 * 6 == 192 and 24 * 6 == 144


# --------------------------------------------------------------------------- depthwise separable

def channel_column(c, x, y, n, size, fill, stroke, gap=8, dots_after=None):
    """n small squares top to bottom (feature-map channels); returns their centres."""
    centres = []
    for i in range(n):
        yy = y + i * (size + gap)
        if dots_after is not None and i == dots_after:
            c.label(x + size / 2, yy + size / 2, "⋮", 14, "middle", MUTED)
            continue
        c.rect(x, yy, size, size, fill, stroke, rx=3, stroke_width=1.1)
        centres.append((x + size / 2, yy + size / 2))
    return centres


def depthwise_separable() -> Canvas:
    c = figure("标准 3×3 卷积与深度可分离卷积（3×3 深度卷积 + 1×1 逐点卷积）的连接方式", "标准卷积与深度可分离卷积（例：112×112，32→64 通道）")
    size, gap = 20, 8
    fill_in, stroke_in = KINDS["input"][0], "#8c8c8c"
    fill_c, stroke_c = KINDS["conv"][:2]
    fill_d, stroke_d = KINDS["dw"][:2]
    top = 110
    n_in, n_out = 5, 7           # drawn squares; the third of the input / fifth of the output are dots

    # (a) standard convolution: every input channel to every output channel
    ax = 40
    c.label(ax, 64, "(a) 标准 3×3 卷积", 14, weight="bold")
    ins = channel_column(c, ax + 20, top + 28, n_in, size, fill_in, stroke_in, gap, dots_after=3)
    outs = channel_column(c, ax + 200, top, n_out, size, fill_c, stroke_c, gap, dots_after=5)
    for xi, yi in ins:
        for xo, yo in outs:
            c.line([(xi + size / 2, yi), (xo - size / 2, yo)], color="#7d9cc9", width=0.8)
    c.label(ax + 30, top + 8, "输入 32 通道", 12, "middle", MUTED)
    c.label(ax + 210, top - 20, "输出 64 通道", 12, "middle", MUTED)
    bottom = top + n_out * (size + gap)
    c.label(ax, bottom + 24, "每条连线是一个 3×3 卷积核：", 12, color=MUTED)
    c.label(ax, bottom + 44, "3×3×32×64 = 18,432 个权重", 13)

    # (b) depthwise 3x3: one filter per channel; then pointwise 1x1: every channel to every output
    bx = 360
    c.label(bx, 64, "(b) 深度可分离卷积", 14, weight="bold")
    ins = channel_column(c, bx + 20, top + 28, n_in, size, fill_in, stroke_in, gap, dots_after=3)
    mids = channel_column(c, bx + 170, top + 28, n_in, size, fill_d, stroke_d, gap, dots_after=3)
    outs = channel_column(c, bx + 340, top, n_out, size, fill_c, stroke_c, gap, dots_after=5)
    for (xi, yi), (xm, ym) in zip(ins, mids):
        c.arrow((xi + size / 2, yi), (xm - size / 2 - 1, ym))
    for xm, ym in mids:
        for xo, yo in outs:
            c.line([(xm + size / 2, ym), (xo - size / 2, yo)], color="#7d9cc9", width=0.8)
    c.label(bx + 30, top + 8, "输入 32 通道", 12, "middle", MUTED)
    c.label(bx + 180, top + 8, "32 通道", 12, "middle", MUTED)
    c.label(bx + 350, top - 20, "输出 64 通道", 12, "middle", MUTED)
    c.label(bx + 95, bottom + 24, "3×3 深度卷积（groups = 32）", 12, "middle", KINDS["dw"][1])
    c.label(bx + 95, bottom + 44, "每个通道自己一个 3×3 核", 12, "middle", MUTED)
    c.label(bx + 95, bottom + 64, "3×3×32 = 288 个权重", 13, "middle")
    c.label(bx + 290, bottom + 24, "1×1 逐点卷积", 12, "middle", KINDS["conv"][1])
    c.label(bx + 290, bottom + 44, "在通道之间做线性组合", 12, "middle", MUTED)
    c.label(bx + 290, bottom + 64, "32×64 = 2,048 个权重", 13, "middle")

    y = bottom + 104
    c.label(40, y, "权重与乘加次数之比：(3×3×32 + 32×64) / (3×3×32×64) = 1/64 + 1/9 ≈ 0.127，"
                   "约为标准卷积的 1/8。", 13)
    return footer(c, 40, y + 24, [
        "一般地，k×k 卷积、C_in→C_out：比值 = 1/C_out + 1/k²；乘加次数 = 权重数 × 输出的高 × 宽（112×112），比值相同。",
        "深度卷积只在空间上滤波（各通道互不相干），逐点卷积只在通道间混合（不看邻域）：标准卷积把两件事一起做。"],
                  ["input", "dw", "conv"], gap=10)


# --------------------------------------------------------------------------- blocks

def block_panel(c, x0, y0, title, rows, shapes, out_shape, residual, side_panel=None):
    """A block top to bottom: input, chip rows, (drop path,) addition or not, output.
    The main path runs through the first chip of every row; the shortcut (when
    ``residual``) runs on the right. ``rows``: chip parts, ``shapes``: the label
    left of the input and of each row. Returns (bottom, boxes of the rows)."""
    c.label(x0, y0, title, 14, weight="bold")
    main_x = x0 + 112
    shape_x = main_x - 22
    cx = main_x + rows[0][0][3] / 2
    row_w = max(sum(p[3] for p in parts) + 3 * (len(parts) - 1) for parts in rows)
    inp = c.box(cx - 50, y0 + 30, 100, 30, "input", "输入 x")
    c.label(shape_x, inp.cy, shapes[0], 12, "end", MUTED)
    prev, y, boxes = inp, inp.bottom + 30, []
    for parts, shape in zip(rows, shapes[1:]):
        h = 40 if any(p[2] for p in parts) else 30
        row = chip_row(c, main_x, y, parts, h=h)
        c.arrow((cx, prev.bottom), (cx, row.y))
        c.label(shape_x, row.cy, shape, 12, "end", MUTED)
        boxes.append(row)
        prev, y = row, row.bottom + 22
    if residual:
        add = c.add_node(cx, prev.bottom + 32)
        c.arrow((cx, prev.bottom), (cx, add.y))
        c.label(add.x - 8, add.cy, "相加", 11, "end", KINDS["add"][1])
        lane = main_x + row_w + 26
        c.line([(inp.right, inp.cy), (lane, inp.cy), (lane, add.cy)])
        c.arrow((lane, add.cy), (add.right, add.cy))
        c.label(lane + 8, (inp.cy + add.cy) / 2 - 9, "恒等映射 x", 12, color=MUTED)
        c.label(lane + 8, (inp.cy + add.cy) / 2 + 9, "（无参数）", 11, color=MUTED)
        prev = add
    out = c.box(cx - 50, prev.bottom + 22, 100, 30, "input", "输出")
    c.arrow((cx, prev.bottom), (cx, out.y))
    c.label(shape_x, out.cy, out_shape, 12, "end", MUTED)
    return out.bottom, boxes


def inverted_residual() -> Canvas:
    c = figure("MobileNetV2 的倒残差块：1×1 扩展、3×3 深度卷积、1×1 线性投影", "倒残差块（MobileNetV2）")
    bn, relu6 = ("norm", "BN", "", 34), ("act", "ReLU6", "", 52)

    def rows(expand, dw, project):
        return [[("conv", "1×1 卷积", expand, 100), bn, relu6],
                [("dw", "3×3 深度卷积", dw, 100), bn, relu6],
                [("conv", "1×1 卷积", project, 100), bn]]

    bottom_a, boxes = block_panel(
        c, 24, 64, "(a) 步幅 1，输入输出通道相同：加残差", rows("32→192（×6）", "192，步幅 1", "192→32"),
        ["32×28×28", "192×28×28", "192×28×28", "32×28×28"], "32×28×28", residual=True)
    bottom_b, boxes = block_panel(
        c, 470, 64, "(b) 步幅 2：不加残差", rows("24→144（×6）", "144，步幅 2", "144→32"),
        ["24×56×56", "144×56×56", "144×28×28", "32×28×28"], "32×28×28", residual=False)
    c.label(boxes[0].right + 10, boxes[0].cy, "扩展：通道 × t", 12, color=MUTED)
    c.label(boxes[1].right + 10, boxes[1].cy, "高和宽减半", 12, color=MUTED)
    c.label(boxes[2].right + 10, boxes[2].cy - 8, "线性投影", 12, color=MUTED)
    c.label(boxes[2].right + 10, boxes[2].cy + 9, "（无激活）", 11, color=MUTED)
    return footer(c, 24, max(bottom_a, bottom_b) + 30, [
        "两个例子即本章 layer_table 的输出：InvertedResidual(32, 32, 1, 6) 与 InvertedResidual(24, 32, 2, 6)。",
        "ResNet 的瓶颈是\"宽→窄→宽\"，倒残差块是\"窄→宽→窄\"：捷径连接窄的两端；"
        "计算量主要在两个 1×1 卷积上，3×3 深度卷积很便宜。",
        "最后的 1×1 投影之后不加 ReLU6（线性瓶颈），相加之后也不加激活；t = 1 的块（第 1 阶段）没有扩展层。"],
                  ["input", "conv", "dw", "norm", "act", "add"])


def mbconv_block() -> Canvas:
    c = figure("EfficientNet 的 MBConv 块：1×1 扩展、k×k 深度卷积、SE、1×1 线性投影、随机深度", "MBConv 块（EfficientNet），例：第 5 阶段的第 2 个块，k = 5，t = 6")
    bn, silu = ("norm", "BN", "", 34), ("act", "SiLU", "", 48)
    rows = [[("conv", "1×1 卷积", "112→672（×6）", 104), bn, silu],
            [("dw", "5×5 深度卷积", "672，步幅 1", 104), bn, silu],
            [("se", "SE 模块", "672 通道加权", 104)],
            [("conv", "1×1 卷积", "672→112", 104), bn],
            [("dropout", "随机深度", "训练时", 104)]]
    bottom, boxes = block_panel(
        c, 24, 64, "MBConv(112, 112, 5, 1, 6)", rows,
        ["112×14×14", "672×14×14", "672×14×14", "672×14×14", "112×14×14", "112×14×14"],
        "112×14×14", residual=True)
    c.label(boxes[3].right + 10, boxes[3].cy, "线性投影", 12, color=MUTED)

    # the SE module, expanded on the right
    se = boxes[2]
    px, py, pw = 470, 96, 400
    c.label(px + 16, py + 22, "SE 模块（挤压与激励）", 13, weight="bold")
    layers = [
        Layer("pool", "全局平均池化", "", "672×1×1"),
        Layer("conv", "1×1 卷积 672→28", "+ SiLU（28 = 0.25 × 块输入 112）", "28×1×1"),
        Layer("conv", "1×1 卷积 28→672", "+ sigmoid", "672×1×1"),
        Layer("se", "逐通道相乘", "x × 权重（0 到 1）", "672×14×14"),
    ]
    col = layer_column(c, px + 16, py + 44, 236, layers, gap=14, h=30, h_sub=40)
    notes(c, px + 16, col[-1].bottom + 22, ["每个通道一个 0 到 1 之间的权重：",
                                             "让网络按整张图的内容给通道加权。"], step=18)
    panel_bottom = col[-1].bottom + 60
    c.rect(px, py, pw, panel_bottom - py, "none", KINDS["se"][1], rx=10, dash=True, stroke_width=1.3)
    c.line([(se.right + 4, se.cy), (px, py + 22)], color=KINDS["se"][1], width=1.1, dash=True)

    return footer(c, 24, max(bottom, panel_bottom) + 30, [
        "与倒残差块的不同：激活用 SiLU（swish，x·sigmoid(x)），深度卷积后加 SE，深度卷积可以是 3×3 或 5×5。",
        "随机深度：训练时每个样本以概率 p 丢掉整个残差分支（只剩捷径），保留的乘以 1/(1−p)；"
        "p 从第 1 个块的 0 线性增加到约 0.2。",
        "只有步幅 1 且输入输出通道相同的块才有捷径（和随机深度）；评估时随机深度不起作用。"],
                  ["input", "conv", "dw", "norm", "act", "se", "pool", "dropout", "add"])


# --------------------------------------------------------------------------- networks

def stage_rows(stages, in_ch=32):
    """network()'s stages from (title, channels, blocks, stride, output shape)
    rows: one chip per block, with its stride and whether it has a shortcut."""
    rows = []
    for title, ch, n, s, shape in stages:
        subs = []
        for j in range(n):
            stride = s if j == 0 else 1
            res = stride == 1 and (in_ch if j == 0 else ch) == ch
            subs.append(f"步幅 {stride}，{'残差' if res else '无残差'}")
        rows.append((title, subs, shape))
        in_ch = ch
    return rows


def network(title, heading_text, act, block, stages, lines):
    """A network top to bottom: input, stem chips, one panel per stage with a chip per
    block, head chips, global average pooling, dropout, fc; shapes on the right; then
    the notes ``lines`` and the legend. ``act``: the activation of the stem and the head;
    ``block``: the name of a block; ``stages``: rows for stage_rows()."""
    KINDS["mbblock"] = KINDS["mbblock"][:2] + (block,)
    c = figure(title, heading_text)
    x, w = 30, 560
    shape_x = x + w + 14
    inp = c.box(x + w / 2 - 110, 50, 220, 30, "input", "输入图像")
    c.label(shape_x, inp.cy, "3×224×224", 13, color=MUTED)
    parts = [("conv", "3×3 卷积，3→32", "步幅 2，填充 1", 160), ("norm", "BN", "", 40), ("act", act, "", 56)]
    row = chip_row(c, x + w / 2 - parts[0][3] / 2, inp.bottom + 18, parts, h=40)   # conv on the axis
    c.arrow((inp.cx, inp.bottom), (inp.cx, row.y))
    c.label(shape_x, row.cy, "32×112×112", 13, color=MUTED)
    prev, y = Box(inp.x, row.y, inp.w, row.h), row.bottom + 18
    for name, subs, shape in stage_rows(stages):
        stage = c.group(x, y, w, 80)
        c.arrow((prev.cx, prev.bottom), (stage.cx, stage.y))
        c.label(x + 12, y + 16, name, 13, weight="bold")
        cx, cw = x + 12, 120
        for j, sub in enumerate(subs):
            c.box(cx, y + 32, cw, 38, "mbblock", block, sub, size=12)
            if j:
                c.arrow((cx - 9, y + 51), (cx, y + 51))
            cx += cw + 9
        c.label(shape_x, stage.cy, shape, 13, color=MUTED)
        prev, y = stage, stage.bottom + 18
    parts = [("conv", "1×1 卷积，320→1280", "", 160), ("norm", "BN", "", 40), ("act", act, "", 56)]
    row = chip_row(c, x + w / 2 - parts[0][3] / 2, y, parts, h=40)
    c.arrow((prev.cx, prev.bottom), (prev.cx, row.y))
    c.label(shape_x, row.cy, "1280×7×7", 13, color=MUTED)
    layers = [Layer("pool", "全局平均池化", "", "1280×1×1"),
              Layer("dropout", "Dropout 0.2", "", "1280"),
              Layer("fc", "全连接 1280→1", "", "1（logit）")]
    c.arrow((prev.cx, row.bottom), (x + w / 2, row.bottom + 18))
    boxes = layer_column(c, x + w / 2 - 110, row.bottom + 18, 220, layers, shape_dx=w / 2 - 110 + 14)
    return footer(c, x, boxes[-1].bottom + 28, lines,
                  ["input", "conv", "norm", "act", "mbblock", "pool", "dropout", "fc"])


def mobilenet_v2() -> Canvas:
    return network(
        "MobileNetV2：输入 3×224×224 的逐阶段形状", "MobileNetV2（宽度 1.0），输入 3×224×224", "ReLU6", "倒残差块",
        [(f"第 {i} 阶段（stage{i}）：t = {t}，c = {ch}，n = {n}，s = {s}", ch, n, s, shape)
         for i, (t, ch, n, s, shape) in enumerate(MOBILENET_V2, 1)],
        ["t：扩展倍数；c：输出通道；n：块数；s：第一个块的步幅（其余为 1）。每个块见\"倒残差块\"图。",
         "17 个倒残差块；只有步幅 1 且通道不变的块有残差连接（共 10 个）。"])


def efficientnet_b0() -> Canvas:
    return network(
        "EfficientNet-B0：输入 3×224×224 的逐阶段形状", "EfficientNet-B0，输入 3×224×224", "SiLU", "MBConv 块",
        [(f"第 {i} 阶段（stage{i}）：MBConv{t}，{k}×{k}，c = {ch}，n = {n}，s = {s}", ch, n, s, shape)
         for i, (t, k, s, ch, n, shape) in enumerate(EFFICIENTNET_B0, 1)],
        ["MBConv6：扩展倍数 6（MBConv1 没有扩展层）；k×k：深度卷积的核；每个块见\"MBConv 块\"图。",
         "16 个 MBConv 块，9 个有残差连接；随机深度的概率从第 1 个块的 0 增加到最后一个块的 0.2 × 15/16。"])


FIGURES = {
    "depthwise_separable": depthwise_separable,
    "inverted_residual": inverted_residual,
    "mobilenet_v2": mobilenet_v2,
    "mbconv_block": mbconv_block,
    "efficientnet_b0": efficientnet_b0,
}
