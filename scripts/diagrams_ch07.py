#!/usr/bin/env python
"""Figures of chapter 7 (Inception v3 and SENet), drawn with the helpers of
scripts/diagrams.py, which writes them with all the others.

    written by python scripts/diagrams.py (with every other figure): write notebooks/img/{factorized_conv,inception_v3_modules,
                                    inception_v3_reduction,inception_v3,se_block}.svg

Shapes are the ones pu.layer_table prints in notebooks/07_inception_v3_senet.ipynb
(input 3x224x224; the 299x299 column of inception_v3.svg is the same table at 299).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagrams import *  # noqa: E402,F401,F403
from diagrams import KINDS, MUTED, Box, Canvas, chip_row, column_heads, conv_out, figure, footer, layer_column, layer_rows, notes, sides  # noqa: E402



def check_shapes():
    """The side lengths drawn below, recomputed with the output-size formula."""
    # stem: 3x3/2, 3x3, 3x3 p1, maxpool 3/2, 1x1, 3x3, maxpool 3/2; then 6a and 7a (3x3/2, no padding)
    stem = [(3, 0, 2), (3, 0, 1), (3, 1, 1), (3, 0, 2), (1, 0, 1), (3, 0, 1), (3, 0, 2), (3, 0, 2), (3, 0, 2)]
    assert sides(224, stem) == [111, 109, 109, 54, 54, 52, 25, 12, 5]
    assert sides(299, stem) == [149, 147, 147, 73, 73, 71, 35, 17, 8]
    assert 64 + 64 + 96 + 32 == 256 and 64 + 64 + 96 + 64 == 288
    assert 384 + 96 + 288 == 768 and 4 * 192 == 768
    assert 320 + 192 + 768 == 1280 and 320 + 768 + 768 + 192 == 2048
    assert conv_out(12, 5, 0, 3) == 3 and conv_out(17, 5, 0, 3) == 5


# --------------------------------------------------------------------------- factorisation

def factorized_conv() -> Canvas:
    c = figure("分解卷积：两层 3×3 代替 5×5，1×7 加 7×1 代替 7×7", "分解卷积：感受野不变，权重更少")
    cell = 20
    blue, blue_edge = KINDS["conv"][0], "#8fb0dc"
    hi, hi_edge = "#fde3c4", "#d0802a"
    out_fill, out_edge = KINDS["pool"][0], "#8cc084"

    def stage(x, y, rows, cols, fill, edge, caption, mark=None):
        c.grid(x, y, rows, cols, cell, fill, edge)
        if mark:
            mx, my, mr, mc = mark
            c.rect(x + mc * cell, y + my * cell, mr * cell, mx * cell, "none", hi_edge, rx=2, stroke_width=2.5)
        c.label(x + cols * cell / 2, y + rows * cell + 16, caption, 12, "middle", MUTED)
        return Box(x, y, cols * cell, rows * cell)

    def step(a: Box, b: Box, text):
        y = (a.cy if a.h < b.h else b.cy)
        c.arrow((a.right + 8, y), (b.x - 8, y))
        c.label((a.right + b.x) / 2, y - 14, text, 12, "middle", hi_edge)

    def part(top, title, grids, convs, weights, weights_dy):
        """One row of the figure: its title; the grids left to right (input, middle
        layer, output: rows, columns, drop in cells, caption, window), joined by the
        convolutions; the weight counts on the right. Returns the top of the grids."""
        c.label(24, top, title, 14, weight="bold")
        y0 = top + 30
        x, boxes = 40, []
        colours = [(blue, blue_edge), (hi, hi_edge), (out_fill, out_edge)]
        for (rows, cols, drop, caption, mark), (fill, edge) in zip(grids, colours):
            boxes.append(stage(x, y0 + drop * cell, rows, cols, fill, edge, caption, mark))
            x = boxes[-1].right + 90
        for a, b, text in zip(boxes, boxes[1:], convs):
            step(a, b, text)
        x, y = boxes[-1].right + 40, y0 + weights_dy
        c.label(x, y, "每对输入/输出通道的权重：", 13)
        for line in weights:
            y += 22
            c.label(x, y, line, 13, color=MUTED)
        return y0

    y0 = part(70, "(a) 两层 3×3 卷积 = 一个 5×5 的感受野",
              [(5, 5, 0, "输入中的 5×5 区域", (3, 0, 3, 0)), (3, 3, 1, "中间层 3×3", (1, 0, 1, 0)),
               (1, 1, 2, "输出 1 个点", None)],
              ["3×3 卷积", "3×3 卷积"], ["5×5：25 个", "两层 3×3：9 + 9 = 18 个（少 28%）"], 30)
    y0 = part(y0 + 5 * cell + 56, "(b) 1×7 卷积再 7×1 卷积 = 一个 7×7 的感受野（非对称分解）",
              [(7, 7, 0, "输入中的 7×7 区域", (1, 0, 7, 0)), (7, 1, 0, "中间层 7×1", (1, 0, 1, 0)),
               (1, 1, 3, "输出 1 个点", None)],
              ["1×7 卷积", "7×1 卷积"], ["7×7：49 个", "1×7 + 7×1：7 + 7 = 14 个（少 71%）"], 40)

    y = y0 + 7 * cell + 50
    notes(c, 24, y, [
        "粗橙框：第一层卷积在输入上的一个窗口和它算出的中间层的点（1×7 卷积对 7 行各算一次，得到中间层的 7 个点）。",
        "两层之间多了一次 BN + ReLU：参数更少，非线性反而更多。"])
    return c


# --------------------------------------------------------------------------- modules

COL_W, COL_GAP, V_GAP = 124, 12, 14


def box_h(sub):
    return 38 if sub else 28


def module_panel(c: Canvas, x0, y0, title, in_text, branches, out_text, out_note=""):
    """One Inception module: input, parallel branches, concatenation, output.

    ``branches``: (boxes, channels label); a box is (kind, text, sub) or
    ("split", [box, box]) for two convolutions side by side on the same input
    (module E). Returns the bottom of the drawing."""
    n = len(branches)
    width = n * COL_W + (n - 1) * COL_GAP
    c.label(x0, y0, title, 14, weight="bold")
    inp = c.box(x0 + width / 2 - 100, y0 + 20, 200, 28, "input", "输入")
    c.label(inp.right + 12, inp.cy, in_text, 12, color=MUTED)
    bus = inp.bottom + 14
    centres = [x0 + i * (COL_W + COL_GAP) + COL_W / 2 for i in range(n)]
    c.line([(inp.cx, inp.bottom), (inp.cx, bus)])
    c.line([(centres[0], bus), (centres[-1], bus)])
    top = bus + 16
    ends = []                                   # where each arrow to the concatenation starts
    lowest = top
    for cx, (boxes, _) in zip(centres, branches):
        y = top
        tails = [(cx, bus)]
        for item in boxes:
            (px, py), = tails
            if item[0] == "split":
                half = (COL_W - 8) / 2
                h = max(box_h(sub) for _, _, sub in item[1])
                c.line([(px, py), (px, y)])
                tails = []
                for j, (kind, text, sub) in enumerate(item[1]):
                    b = c.box(cx - COL_W / 2 + j * (half + 8), y + 12, half, h, kind, text, sub, size=12)
                    c.line([(px, y), (b.cx, y)])
                    c.arrow((b.cx, y), (b.cx, b.y))
                    tails.append((b.cx, b.bottom))
                y = y + 12 + h + V_GAP
            else:
                kind, text, sub = item
                b = c.box(cx - COL_W / 2, y, COL_W, box_h(sub), kind, text, sub, size=12)
                c.arrow((px, py), (px, b.y))
                tails = [(b.cx, b.bottom)]
                y = b.bottom + V_GAP
        ends.append(tails)
        lowest = max(lowest, y)
    cat = c.box(centres[0] - COL_W / 2, lowest + 18, width, 28, "concat", "在通道维上拼接", size=12)
    for (boxes, channels), tails, cx in zip(branches, ends, centres):
        for px, py in tails:
            c.arrow((px, py), (px, cat.y))
        if len(tails) == 1:
            c.label(cx + 6, cat.y - 11, channels, 11, color=MUTED)
        else:
            c.label(cx, cat.y - 11, channels, 11, "middle", MUTED)
    out = c.box(inp.x, cat.bottom + 16, 200, 28, "input", "输出")
    c.arrow((out.cx, cat.bottom), (out.cx, out.y))
    c.label(out.right + 12, out.cy - (8 if out_note else 0), out_text, 12, color=MUTED)
    if out_note:
        c.label(out.right + 12, out.cy + 10, out_note, 11, color=MUTED)
    return out.bottom


def conv(k, to, extra=""):
    return ("conv", f"{k} 卷积 → {to}", extra)


def half(k, to):
    return ("conv", k, f"→ {to}")


AVG = ("pool", "3×3 平均池化", "")
MAX = ("pool", "3×3 最大池化", "步幅 2")


def inception_v3_modules() -> Canvas:
    c = figure("Inception v3 的三种模块：A（35×35 网格）、C（17×17，1×7/7×1）、E（8×8，1×3/3×1 并列）", "Inception v3 的模块（输入 224×224 时的形状）")
    x0 = 24
    y = module_panel(
        c, x0, 64, "模块 A：Mixed_5b、5c、5d（25×25 网格）", "C_in×25×25（5b：192）",
        [([conv("1×1", 64)], "64"),
         ([conv("1×1", 48), conv("5×5", 64)], "64"),
         ([conv("1×1", 64), conv("3×3", 96), conv("3×3", 96)], "96"),
         ([AVG, conv("1×1", "pf")], "pf")],
        "(224 + pf)×25×25", "pf = 32、64、64：输出 256、288、288 通道")
    y = module_panel(
        c, x0, y + 40, "模块 C：Mixed_6b、6c、6d、6e（12×12 网格，7×7 分解为 1×7 和 7×1）",
        "768×12×12",
        [([conv("1×1", 192)], "192"),
         ([conv("1×1", "c7"), conv("1×7", "c7"), conv("7×1", 192)], "192"),
         ([conv("1×1", "c7"), conv("7×1", "c7"), conv("1×7", "c7"), conv("7×1", "c7"),
           conv("1×7", 192)], "192"),
         ([AVG, conv("1×1", 192)], "192")],
        "768×12×12", "c7 = 128、160、160、192（6b–6e）")
    y = module_panel(
        c, x0, y + 40, "模块 E：Mixed_7b、7c（5×5 网格，1×3 与 3×1 并列再拼接）",
        "C_in×5×5（7b：1280，7c：2048）",
        [([conv("1×1", 320)], "320"),
         ([conv("1×1", 384), ("split", [half("1×3", 384), half("3×1", 384)])], "384 + 384"),
         ([conv("1×1", 448), conv("3×3", 384),
           ("split", [half("1×3", 384), half("3×1", 384)])], "384 + 384"),
         ([AVG, conv("1×1", 192)], "192")],
        "2048×5×5", "320 + 768 + 768 + 192 = 2048")
    return footer(c, 24, y + 30, [
        "每个\"卷积\"都是 BasicConv2d：卷积（无偏置）+ BN + ReLU；填充使高和宽不变（3×3 填充 1，1×7 填充 (0, 3)，...）。",
        "平均池化：3×3，步幅 1，填充 1；池化后的 1×1 卷积决定这条路径的通道数。",
        "论文输入 299×299 时三种模块的网格是 35×35、17×17 和 8×8（模块名由此而来）。"],
                  ["input", "conv", "pool", "concat"])


def inception_v3_reduction() -> Canvas:
    c = figure("Inception v3 的网格缩小模块：步幅 2 的卷积分支与池化分支并行", "网格缩小：步幅 2 的卷积与池化并行，再拼接")
    b_bottom = module_panel(
        c, 24, 64, "模块 B：Mixed_6a（25×25 → 12×12）", "288×25×25",
        [([conv("3×3", 384, "步幅 2")], "384"),
         ([conv("1×1", 64), conv("3×3", 96), conv("3×3", 96, "步幅 2")], "96"),
         ([MAX], "288")],
        "768×12×12", "384 + 96 + 288 = 768")
    d_bottom = module_panel(
        c, 24 + 3 * COL_W + 2 * COL_GAP + 180, 64, "模块 D：Mixed_7a（12×12 → 5×5）", "768×12×12",
        [([conv("1×1", 192), conv("3×3", 320, "步幅 2")], "320"),
         ([conv("1×1", 192), conv("1×7", 192), conv("7×1", 192), conv("3×3", 192, "步幅 2")], "192"),
         ([MAX], "768")],
        "1280×5×5", "320 + 192 + 768 = 1280")
    return footer(c, 24, max(b_bottom, d_bottom) + 30, [
        "步幅 2 的卷积和池化都不填充：边长 (25 − 3) / 2 + 1 = 12，(12 − 3) / 2 + 1 = 5（向下取整）。",
        "池化分支不改变通道数，卷积分支增加新的通道：网格缩小一半，通道数增加，计算量不多，也没有信息瓶颈。"],
                  ["input", "conv", "pool", "concat"])


# --------------------------------------------------------------------------- the network

def inception_v3() -> Canvas:
    c = figure("Inception v3：输入 3×224×224（本系列）与 3×299×299（论文）的逐层形状", "Inception v3：逐层形状")
    x, w, shape_x, note_x = 60, 260, 340, 470
    column_heads(c, (shape_x, note_x), ("输入 224×224", "输入 299×299"), ("（本章）", "（论文）"))
    layers = layer_rows("""
        input   | 输入图像               |                      | 3×224×224  | 3×299×299
        conv    | 3×3 卷积，3→32         | 步幅 2               | 32×111×111 | 32×149×149
        conv    | 3×3 卷积，32→32        |                      | 32×109×109 | 32×147×147
        conv    | 3×3 卷积，32→64        | 填充 1               | 64×109×109 | 64×147×147
        pool    | 3×3 最大池化，步幅 2   |                      | 64×54×54   | 64×73×73
        conv    | 1×1 卷积，64→80        |                      | 80×54×54   | 80×73×73
        conv    | 3×3 卷积，80→192       |                      | 192×52×52  | 192×71×71
        pool    | 3×3 最大池化，步幅 2   |                      | 192×25×25  | 192×35×35
        module  | 3 × 模块 A             | Mixed_5b、5c、5d     | 288×25×25  | 288×35×35
        module  | 模块 B（网格缩小）     | Mixed_6a             | 768×12×12  | 768×17×17
        module  | 4 × 模块 C（1×7、7×1） | Mixed_6b、6c、6d、6e | 768×12×12  | 768×17×17
        module  | 模块 D（网格缩小）     | Mixed_7a             | 1280×5×5   | 1280×8×8
        module  | 2 × 模块 E             | Mixed_7b、7c         | 2048×5×5   | 2048×8×8
        pool    | 全局平均池化           |                      | 2048×1×1   | 2048×1×1
        dropout | Dropout 0.2            |                      | 2048       | 2048
        fc      | 全连接 2048→1          |                      | 1（logit） | 1（logit）
    """)
    boxes = layer_column(c, x, 100, w, layers, gap=14, h=30, h_sub=40,
                         shape_dx=shape_x - x - w, note_x=note_x)
    c.bracket(x - 12, boxes[1].y, boxes[7].bottom, "stem", side="left")
    c.bracket(x - 12, boxes[8].y, boxes[12].bottom, "模块", side="left")
    return footer(c, 24, boxes[-1].bottom + 28, [
        "每个卷积后都有 BN + ReLU（BasicConv2d）；stem 的卷积除注明的外都不填充。",
        "参数量与输入大小无关（两种输入都是 21,822,049 个）；计算量 2.85 GFLOPs（224）对 5.73 GFLOPs（299）。",
        "论文的辅助分类器接在 Mixed_6e 之后（17×17 网格）；224 输入时那里只有 12×12，本章不用它。"],
                  ["input", "conv", "pool", "module", "dropout", "fc"])


# --------------------------------------------------------------------------- SE

def se_block() -> Canvas:
    c = figure("SE 模块：squeeze（全局平均池化）、excitation（两层全连接 + sigmoid）、逐通道缩放；SE 瓶颈模块", "SE 模块与 SE-ResNet 的瓶颈模块")

    # (a) the SE block on its own
    x0, y0 = 24, 64
    c.label(x0, y0, "(a) SE 模块（r = 16）", 14, weight="bold")
    cx, bw = x0 + 70 + 115, 230
    layers = layer_rows("""
        input | 输入 x          |                                  | C×H×W
        pool  | 全局平均池化    | 每个通道一个数                   | C
        fc    | 全连接 C → C/16 |                                  | C/16
        act   | ReLU            |                                  | C/16
        fc    | 全连接 C/16 → C |                                  | C
        act   | sigmoid         | 每个通道一个权重，在 0 到 1 之间 | s：C
    """)
    boxes = layer_column(c, cx - bw / 2, y0 + 24, bw, layers, gap=16, h=30, h_sub=40, shape_dx=12)
    c.bracket(cx + bw / 2 + 86, boxes[2].y, boxes[5].bottom, "excitation")
    c.bracket(cx + bw / 2 + 86, boxes[1].y, boxes[1].bottom, "squeeze")
    # scale node: x * s
    sy = boxes[-1].bottom + 36
    r = 12
    fill, stroke, _ = KINDS["scale"]
    c.parts.append(f'<circle cx="{cx:g}" cy="{sy:g}" r="{r}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
    c.label(cx, sy, "×", 16, "middle", stroke)
    c.arrow((cx, boxes[-1].bottom), (cx, sy - r))
    lane = x0 + 30
    c.line([(boxes[0].x, boxes[0].cy), (lane, boxes[0].cy), (lane, sy)])
    c.arrow((lane, sy), (cx - r, sy))
    c.label(lane + 8, sy - 14, "x", 12, color=MUTED, italic=True)
    c.label(cx + r + 10, sy, "scale：第 c 个通道乘以 s_c", 12, color=MUTED)
    out = c.box(cx - 60, sy + r + 22, 120, 30, "input", "输出")
    c.arrow((cx, sy + r), (cx, out.y))
    c.label(out.right + 12, out.cy, "C×H×W（形状不变）", 12, color=MUTED)
    a_bottom = out.bottom

    # (b) the SE bottleneck: SE on the residual branch, before the addition
    bx0 = 560
    c.label(bx0, y0, "(b) SE 瓶颈模块（例：c = 64，256 通道）", 14, weight="bold")
    main_x = bx0 + 110
    bn, relu = ("norm", "BN", "", 34), ("act", "ReLU", "", 44)
    rows = [[("conv", "1×1 卷积", "→ c", 86), bn, relu],
            [("conv", "3×3 卷积", "c → c", 86), bn, relu],
            [("conv", "1×1 卷积", "→ 4c", 86), bn],
            [("se", "SE 模块", "256 → 16 → 256", 130)]]
    shapes = ["256×56×56", "64×56×56", "64×56×56", "256×56×56", "256×56×56"]
    ccx = main_x + 43
    inp = c.box(ccx - 50, y0 + 30, 100, 30, "input", "输入 x")
    c.label(main_x - 22, inp.cy, shapes[0], 12, "end", MUTED)
    y = inp.bottom + 32
    frame_top = y - 14
    prev = inp
    for parts, shape in zip(rows, shapes[1:]):
        row = chip_row(c, main_x, y, parts, h=40)
        c.arrow((ccx if parts[0][0] != "se" else ccx, prev.bottom), (ccx, row.y))
        c.label(main_x - 22, row.cy, shape, 12, "end", MUTED)
        prev, y = row, row.bottom + 20
    row_w = 86 + 34 + 44 + 6
    frame = Box(main_x - 10, frame_top, row_w + 20, prev.bottom + 10 - frame_top)
    c.rect(frame.x, frame.y, frame.w, frame.h, "none", "#999999", rx=8, dash=True, stroke_width=1.1)
    c.label(frame.right - 4, frame.y - 9, "残差分支", 12, "end", MUTED)
    add = c.add_node(ccx, frame.bottom + 28)
    c.arrow((ccx, prev.bottom), (ccx, add.y))
    c.label(add.x - 8, add.cy, "相加", 11, "end", KINDS["add"][1])
    rl = c.box(ccx - 30, add.bottom + 18, 60, 26, "act", "ReLU", size=12)
    c.arrow((ccx, add.bottom), (ccx, rl.y))
    ob = c.box(ccx - 50, rl.bottom + 20, 100, 30, "input", "输出 y")
    c.arrow((ccx, rl.bottom), (ccx, ob.y))
    c.label(main_x - 22, ob.cy, "256×56×56", 12, "end", MUTED)
    lane = frame.right + 24
    c.line([(inp.right, inp.cy), (lane, inp.cy), (lane, add.cy)])
    c.arrow((lane, add.cy), (add.right, add.cy))
    c.label(lane + 8, (inp.cy + add.cy) / 2 - 9, "恒等捷径", 12, color=MUTED)
    c.label(lane + 8, (inp.cy + add.cy) / 2 + 9, "（不经过 SE）", 11, color=MUTED)
    b_bottom = ob.bottom

    return footer(c, 24, max(a_bottom, b_bottom) + 30, [
        "SE 模块放在残差分支的最后一个 BN 之后、与捷径相加之前；捷径上的 x 不被缩放。",
        "参数：两层全连接 2C²/16 个权重加 C/16 + C 个偏置；C = 256 时 8,464 个。计算只作用在 C 个数上，几乎不花时间。"],
                  ["input", "conv", "norm", "act", "pool", "fc", "se", "add"])


FIGURES = {
    "factorized_conv": factorized_conv,
    "inception_v3_modules": inception_v3_modules,
    "inception_v3_reduction": inception_v3_reduction,
    "inception_v3": inception_v3,
    "se_block": se_block,
}
