#!/usr/bin/env python
"""Draw the architecture diagrams of the chapters as SVG files.

    python scripts/diagrams.py            write every figure into notebooks/img/
    python scripts/diagrams.py --out DIR  write them into DIR instead

Standard library only: the SVG text is written directly, so the output is the
same bytes on every run and every machine. One function per figure:

    conv_arithmetic.svg     chapter 1: input, padding, 3x3 kernel, stride 2, output
    lenet.svg               chapter 1: LeNet on PALM (3x224x224) and on MNIST (1x28x28)
    alexnet.svg             chapter 2
    vgg_block.svg           chapter 3: one VGG block
    vgg16.svg               chapter 3
    inception_block.svg     chapter 4: the four paths of an Inception block
    googlenet.svg           chapter 4: GoogLeNet with the two auxiliary classifiers
    residual_block.svg      chapter 5: basic residual block (identity / 1x1 shortcut)
    bottleneck_block.svg    chapter 5: bottleneck block (identity / projection shortcut)
    resnet50.svg            chapter 5

The figures of chapters 6-9 (NiN and DenseNet; Inception v3 and SENet;
MobileNetV2 and EfficientNet; Grad-CAM) are in ``diagrams_ch06.py`` to
``diagrams_ch09.py`` beside this file, drawn with the same helpers.

The feature-map shapes are the ones printed by ``pu.layer_table`` in the
notebooks' stored outputs (input 3x224x224; LeNet also 1x28x28): 01_lenet,
02_alexnet, 03_vgg (the whole net and block3), 04_googlenet (depth=1; the
auxiliary heads follow its InceptionAux code), 05_resnet (two Bottleneck
blocks and the whole net). ``check_shapes`` recomputes the side lengths with
the output-size formula of chapter 1, so a typo here fails loudly. Each SVG is
sized to its content; text widths are estimated (CJK one em, Latin about half)
and a label too long for its box raises an error.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUT_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "img"
FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
INK = "#222222"      # text
MUTED = "#666666"    # shape labels, notes
LINE = "#555555"     # arrows

# layer kind -> (fill, stroke, legend label)
KINDS = {
    "input": ("#ffffff", "#8c8c8c", "输入/输出"),
    "conv": ("#dbe8f8", "#3f6fb0", "卷积"),
    "pool": ("#dcefd9", "#4e9a47", "池化"),
    "fc": ("#fde3c4", "#d0802a", "全连接"),
    "norm": ("#ebe1f6", "#8557bd", "批归一化"),
    "act": ("#fff3bf", "#bf9a16", "激活"),
    "dropout": ("#ececec", "#909090", "Dropout"),
    "flatten": ("#e3ecef", "#5f7f8c", "展平"),
    "concat": ("#f8d9d8", "#c0504d", "拼接"),
    "add": ("#f8d9d8", "#c0504d", "相加"),
    "inception": ("#d4efec", "#2a8c80", "Inception 块"),
    "aux": ("#f6e0ee", "#b0518a", "辅助分类器"),
    "block": ("#e9eef7", "#6d84ad", "瓶颈模块"),
    # chapters 6-8
    "mlpconv": ("#d4efec", "#2a8c80", "mlpconv 块"),
    "dense": ("#e9eef7", "#6d84ad", "稠密块"),
    "transition": ("#f3ead7", "#a0782c", "过渡层"),
    "module": ("#d4efec", "#2a8c80", "Inception 模块"),
    "scale": ("#f8d9d8", "#c0504d", "逐通道相乘"),
    "se": ("#fbe3d3", "#c8663a", "SE 模块"),
    "dw": ("#c9e6f5", "#2b87b5", "深度卷积"),
    "mbblock": ("#e9eef7", "#6d84ad", "模块"),
    # chapter 9
    "grad": ("#dff3f7", "#2a8ca8", "梯度（反向传播）"),
    "cam": ("#fde8e0", "#c8663a", "Grad-CAM 的运算"),
}


# --------------------------------------------------------------------------- drawing helpers

def fmt(v: float) -> str:
    """A coordinate as short, stable text: 12, 12.5 (never 12.000001)."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float) -> float:
    """Estimated rendered width: CJK glyphs are one em, Latin ones about half."""
    em = 0.0
    for ch in text:
        if ch == " ":
            em += 0.26
        elif ord(ch) >= 0x2E80:          # CJK, fullwidth punctuation
            em += 1.0
        elif ch in "×→−⊕":
            em += 0.7
        elif ch.isupper() or ch.isdigit():
            em += 0.6
        else:
            em += 0.52
    return em * size


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2

    @property
    def right(self):
        return self.x + self.w

    @property
    def bottom(self):
        return self.y + self.h


@dataclass
class Layer:
    """One box of a layer column: kind (a KINDS key), text, optional second line,
    shape label to the right, and an optional second label further right."""
    kind: str
    text: str
    sub: str = ""
    shape: str = ""
    note: str = ""


def layer_rows(table: str) -> list[Layer]:
    """Layers from a text table, one a line: kind | text | sub | shape | note
    (cells stripped of spaces; an empty cell is an empty string)."""
    return [Layer(*(cell.strip() for cell in line.split("|")))
            for line in table.strip().splitlines()]


class Canvas:
    """Collects SVG elements; ``svg()`` returns the document, sized to what was
    drawn (text extents estimated) plus a margin."""

    def __init__(self, title: str, margin=(24, 18)):
        self.title, self.margin = title, margin
        self.parts: list[str] = []
        self.extent = (0.0, 0.0)    # right and bottom of everything drawn

    def _reach(self, right, bottom):
        self.extent = (max(self.extent[0], right), max(self.extent[1], bottom))

    # primitives
    def rect(self, x, y, w, h, fill, stroke, rx=6, dash=False, stroke_width=1.3):
        extra = ' stroke-dasharray="5 4"' if dash else ""
        self._reach(x + w, y + h)
        self.parts.append(
            f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(w)}" height="{fmt(h)}" rx="{fmt(rx)}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{fmt(stroke_width)}"{extra}/>')

    def label(self, x, y, text, size=13, anchor="start", color=INK, weight="normal", italic=False):
        """Text whose vertical centre is at y."""
        attrs = f' font-weight="{weight}"' if weight != "normal" else ""
        attrs += ' font-style="italic"' if italic else ""
        attrs += f' text-anchor="{anchor}"' if anchor != "start" else ""
        width = text_width(text, size)
        self._reach(x + {"start": width, "middle": width / 2, "end": 0}[anchor], y + 0.6 * size)
        self.parts.append(
            f'<text x="{fmt(x)}" y="{fmt(y + 0.36 * size)}" font-size="{fmt(size)}" fill="{color}"'
            f'{attrs}>{escape(text)}</text>')

    def line(self, points, color=LINE, width=1.4, dash=False, arrow=False):
        d = " ".join(("M" if i == 0 else "L") + f"{fmt(x)},{fmt(y)}" for i, (x, y) in enumerate(points))
        extra = ' stroke-dasharray="5 4"' if dash else ""
        extra += ' marker-end="url(#arrow)"' if arrow else ""
        self.parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{fmt(width)}"'
                          f' stroke-linejoin="round"{extra}/>')

    def arrow(self, *points, dash=False):
        self.line(points, arrow=True, dash=dash)

    # composite shapes
    def box(self, x, y, w, h, kind, text, sub="", size=13, dash=False) -> Box:
        """A rounded box coloured by layer kind, with one or two centred lines."""
        fill, stroke, _ = KINDS[kind]
        self.rect(x, y, w, h, fill, stroke, dash=dash)
        for line, line_size in ((text, size), (sub, size - 2)):
            if line and text_width(line, line_size) > w - 6:
                raise ValueError(f"text {line!r} does not fit a box {w} wide")
        if sub:
            self.label(x + w / 2, y + h / 2 - size * 0.58, text, size, "middle")
            self.label(x + w / 2, y + h / 2 + size * 0.62, sub, size - 2, "middle", MUTED)
        else:
            self.label(x + w / 2, y + h / 2, text, size, "middle")
        return Box(x, y, w, h)

    def add_node(self, cx, cy, r=11) -> Box:
        """The circled plus of a residual addition."""
        fill, stroke, _ = KINDS["add"]
        self.parts.append(f'<circle cx="{fmt(cx)}" cy="{fmt(cy)}" r="{fmt(r)}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="1.5"/>')
        self.line([(cx - r * 0.55, cy), (cx + r * 0.55, cy)], color=stroke, width=1.8)
        self.line([(cx, cy - r * 0.55), (cx, cy + r * 0.55)], color=stroke, width=1.8)
        return Box(cx - r, cy - r, 2 * r, 2 * r)

    def bracket(self, x, y0, y1, text, side="right", size=12):
        """A square bracket from y0 to y1 with a label beside it (outside)."""
        tick = 6 if side == "right" else -6
        self.line([(x - tick, y0), (x, y0), (x, y1), (x - tick, y1)], color="#999999", width=1.2)
        if side == "right":
            self.label(x + 6, (y0 + y1) / 2, text, size, "start", MUTED)
        else:
            self.label(x - 6, (y0 + y1) / 2, text, size, "end", MUTED)

    def grid(self, x, y, rows, cols, cell, fill, stroke):
        """A rows x cols grid of square cells (feature maps, kernels)."""
        for i in range(rows):
            for j in range(cols):
                self.rect(x + j * cell, y + i * cell, cell, cell, fill, stroke, rx=0, stroke_width=1)

    def group(self, x, y, w, h) -> Box:
        """A light panel holding a row of chips (a VGG block, a ResNet stage)."""
        self.rect(x, y, w, h, "#f4f6fa", "#9aa8c0", rx=8)
        return Box(x, y, w, h)

    def legend(self, x, y, kinds, size=12):
        """One row of colour swatches; returns the x after the last entry."""
        for kind in kinds:
            fill, stroke, name = KINDS[kind]
            self.rect(x, y - 7, 22, 14, fill, stroke, rx=3, stroke_width=1.1)
            self.label(x + 28, y, name, size, color=MUTED)
            x += 28 + text_width(name, size) + 18
        return x

    def svg(self) -> str:
        width = math.ceil(self.extent[0] + self.margin[0])
        height = math.ceil(self.extent[1] + self.margin[1])
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" font-family="{FONT}">\n'
                f'<title>{escape(self.title)}</title>\n'
                '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto-start-reverse">'
                f'<path d="M0,1 L10,5 L0,9 z" fill="{LINE}"/></marker></defs>\n'
                f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def heading(c: Canvas, text: str, x=24, y=26):
    c.label(x, y, text, 16, weight="bold")


def figure(title: str, text: str) -> Canvas:
    """A new figure: the canvas titled ``title``, with ``text`` as its heading."""
    c = Canvas(title)
    heading(c, text)
    return c


def notes(c: Canvas, x, y, lines, size=12, step=20):
    """Grey footnote lines from y down; returns the y below the last one."""
    for line in lines:
        c.label(x, y, line, size, color=MUTED)
        y += step
    return y


def footer(c: Canvas, x, y, lines, kinds, step=20, gap=8) -> Canvas:
    """The end of a figure: footnote lines from y down, then the legend of
    ``kinds`` gap below them. Returns the canvas."""
    y = notes(c, x, y, lines, step=step)
    c.legend(x, y + gap, kinds)
    return c


def column_heads(c: Canvas, xs, titles, subtitles=(), y=62, size=13):
    """Bold titles over the label columns starting at xs, grey subtitles below."""
    for x, text in zip(xs, titles):
        c.label(x, y, text, size, weight="bold")
    for x, text in zip(xs, subtitles):
        c.label(x, y + 18, text, 11, color=MUTED)


def layer_column(c: Canvas, x, y, width, layers, gap=16, h=30, h_sub=42, shape_dx=14, note_x=None):
    """Boxes top to bottom joined by arrows, each with its shape label to the right
    (and ``note`` at note_x). Returns the boxes."""
    boxes = []
    for layer in layers:
        b = c.box(x, y, width, h_sub if layer.sub else h, layer.kind, layer.text, layer.sub)
        if boxes:
            c.arrow((b.cx, boxes[-1].bottom), (b.cx, b.y))
        if layer.shape:
            c.label(b.right + shape_dx, b.cy, layer.shape, 13, color=MUTED)
        if layer.note:
            c.label(note_x, b.cy, layer.note, 13, color=MUTED)
        boxes.append(b)
        y = b.bottom + gap
    return boxes


def chip_row(c: Canvas, x, y, parts, h=30, gap=3):
    """Adjacent small boxes read as one unit, e.g. conv | BN | ReLU.
    ``parts``: (kind, text, sub, width). Returns the bounding Box."""
    x0 = x
    for kind, text, sub, w in parts:
        c.box(x, y, w, h, kind, text, sub, size=12)
        x += w + gap
    return Box(x0, y, x - gap - x0, h)


# --------------------------------------------------------------------------- shape check

def conv_out(size, kernel, padding=0, stride=1):
    """Output side of a convolution or pooling layer (chapter 1)."""
    return (size - kernel + 2 * padding) // stride + 1


def sides(size, layers):
    """The side length after each layer in turn; ``layers``: (kernel, padding, stride)."""
    out = []
    for k, p, s in layers:
        size = conv_out(size, k, p, s)
        out.append(size)
    return out


def check_shapes():
    """Recompute the side lengths drawn below; the expected numbers are the
    ones printed by pu.layer_table in the notebooks."""
    assert conv_out(7, 3, 1, 2) == 4
    lenet = [(5, 0, 1), (2, 0, 2), (5, 0, 1), (2, 0, 2), (4, 0, 1)]
    assert sides(224, lenet) == [220, 110, 106, 53, 50]
    assert sides(28, lenet) == [24, 12, 8, 4, 1]
    assert 120 * 50 * 50 == 300000
    alexnet = [(11, 5, 4), (2, 0, 2), (5, 2, 1), (2, 0, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1), (2, 0, 2)]
    assert sides(224, alexnet) == [56, 28, 28, 14, 14, 14, 14, 7] and 256 * 7 * 7 == 12544
    assert sides(224, [(3, 1, 1), (2, 0, 2)] * 5)[1::2] == [112, 56, 28, 14, 7] and 512 * 7 * 7 == 25088
    googlenet = [(7, 3, 2), (3, 1, 2), (1, 0, 1), (3, 1, 1), (3, 1, 2), (3, 1, 2), (3, 1, 2)]
    assert sides(224, googlenet) == [112, 56, 56, 56, 28, 14, 7]
    assert conv_out(14, 5, 0, 3) == 4 and 128 * 4 * 4 == 2048
    for _, c1, c2, c3, c4, cout in INCEPTIONS.values():
        assert c1 + c2[1] + c3[1] + c4 == cout
    resnet = [(7, 3, 2), (3, 1, 2), (3, 1, 2), (3, 1, 2), (3, 1, 2)]
    assert sides(224, resnet) == [112, 56, 28, 14, 7]


# --------------------------------------------------------------------------- chapter 1

def conv_arithmetic() -> Canvas:
    c = figure("卷积的输出尺寸：输入 7×7，填充 1，卷积核 3×3，步幅 2，输出 4×4", "卷积的输出尺寸：填充 p = 1，步幅 s = 2")
    cell = 26
    n_in, pad, k, s = 7, 1, 3, 2
    n_out = conv_out(n_in, k, pad, s)
    gx, gy = 60, 120                      # top-left of the padded input grid
    n_pad = n_in + 2 * pad
    c.grid(gx, gy, n_pad, n_pad, cell, "#f6f6f6", "#cfcfcf")                            # the padding
    c.grid(gx + pad * cell, gy + pad * cell, n_in, n_in, cell, KINDS["conv"][0], "#8fb0dc")  # the input
    # the first and the second window position (stride 2 to the right)
    first, second = "#1f5fbf", "#d0802a"
    c.rect(gx, gy, k * cell, k * cell, "none", first, rx=2, stroke_width=3)
    c.rect(gx + s * cell, gy, k * cell, k * cell, "none", second, rx=2, dash=True, stroke_width=2.5)
    c.line([(gx + k * cell / 2, gy - 8), (gx + k * cell / 2, gy - 18),
            (gx + s * cell + k * cell / 2, gy - 18)], color=second, width=1.5)
    c.arrow((gx + s * cell + k * cell / 2 - 1, gy - 18), (gx + s * cell + k * cell / 2, gy - 7))
    c.label(gx + s * cell + k * cell / 2 + 10, gy - 22, f"步幅 s = {s}：每次右移（或下移）{s} 格", 12,
            color=second)
    side = n_pad * cell
    c.label(gx + side / 2, 62, f"输入 {n_in}×{n_in}，四周填充 {pad} 圈 0", 14, "middle")
    c.label(gx + side / 2, gy + side + 22, f"in = {n_in}（浅蓝）   p = {pad}（灰色的一圈）", 13, "middle",
            MUTED)
    c.line([(gx - 6, gy), (gx - 12, gy), (gx - 12, gy + cell), (gx - 6, gy + cell)], color="#999999",
           width=1.2)
    c.label(gx - 16, gy + cell / 2, "填充", 12, "end", MUTED)

    # operator, kernel, operator, output
    ox = gx + side + 24
    c.label(ox + 12, gy + side / 2, "∗", 28, "middle")
    kx, ky = ox + 42, gy + side / 2 - k * cell / 2
    c.grid(kx, ky, k, k, cell, KINDS["fc"][0], "#e0a35c")
    c.rect(kx, ky, k * cell, k * cell, "none", KINDS["fc"][1], rx=2, stroke_width=2)
    c.label(kx + k * cell / 2, ky - 22, f"卷积核 {k}×{k}", 14, "middle")
    c.label(kx + k * cell / 2, ky + k * cell + 20, f"k = {k}", 13, "middle", MUTED)
    ex = kx + k * cell + 22
    c.label(ex + 10, gy + side / 2, "=", 24, "middle")
    px, py = ex + 38, gy + side / 2 - n_out * cell / 2
    c.grid(px, py, n_out, n_out, cell, KINDS["pool"][0], "#8cc084")
    c.rect(px, py, cell, cell, "none", first, rx=2, stroke_width=3)
    c.rect(px + cell, py, cell, cell, "none", second, rx=2, dash=True, stroke_width=2.5)
    c.label(px + n_out * cell / 2, py - 22, f"输出 {n_out}×{n_out}", 14, "middle")
    c.label(px + n_out * cell / 2, py + n_out * cell + 20, f"out = {n_out}", 13, "middle", MUTED)
    c.label(px + n_out * cell + 12, py + cell / 2, "← 蓝框位置", 12, color=first)
    c.label(px + n_out * cell + 12, py + cell / 2 + 18, "← 橙框位置", 12, color=second)

    # the formula, worked for this example
    fy = gy + side + 66
    c.rect(40, fy, 620, 104, "#fafafa", "#dddddd", rx=8)
    c.label(60, fy + 24, "输出边长 = (输入边长 − 卷积核边长 + 2 × 填充) / 步幅 + 1", 15)
    c.label(60, fy + 52, "out = (in − k + 2p) / s + 1", 15, italic=True)
    c.label(60 + text_width("out ", 15), fy + 80,      # the "=" under the "=" above
            f"= ({n_in} − {k} + 2×{pad}) / {s} + 1 = {(n_in - k + 2 * pad) // s} + 1 = {n_out}", 15)
    c.label(640, fy + 80, "除不尽时向下取整；池化层用同一公式", 12, "end", MUTED)
    return c


def lenet() -> Canvas:
    c = figure("LeNet：PALM 版（3×224×224）与 MNIST 版（1×28×28）的逐层形状", "LeNet（第 1 章）")
    x, w, shape_x, note_x = 30, 250, 300, 440
    column_heads(c, (shape_x, note_x), ("PALM 3×224×224", "MNIST 1×28×28"),
                 ("（本章训练的版本）", "（课程原版）"))
    layers = layer_rows("""
        input   | 输入图像             |           | 3×224×224  | 1×28×28
        conv    | 5×5 卷积，3→6        | + sigmoid | 6×220×220  | 6×24×24（1→6）
        pool    | 2×2 最大池化，步幅 2 |           | 6×110×110  | 6×12×12
        conv    | 5×5 卷积，6→16       | + sigmoid | 16×106×106 | 16×8×8
        pool    | 2×2 最大池化，步幅 2 |           | 16×53×53   | 16×4×4
        conv    | 4×4 卷积，16→120     | + sigmoid | 120×50×50  | 120×1×1
        flatten | 展平                 |           | 300000     | 120
        fc      | 全连接 300000→64     | + sigmoid | 64         | 64（120→64）
        fc      | 全连接 64→1          |           | 1（logit） | 10（64→10，10 类）
    """)
    boxes = layer_column(c, x, 104, w, layers, note_x=note_x)
    return footer(c, x, boxes[-1].bottom + 26, [
        "300000 = 120×50×50：fc1 一层就有 1920 万个参数（全网 1923 万）；",
        "MNIST 版最后一个卷积输出 120×1×1，展平后只有 120 个数。"],
                  ["input", "conv", "pool", "flatten", "fc"], step=18, gap=12)


# --------------------------------------------------------------------------- chapter 2

def classifier_4096(features: int) -> list[Layer]:
    """AlexNet's classifier, which VGG keeps: the feature maps flattened to
    ``features`` numbers, two fully connected layers of 4096 with ReLU and
    dropout, one logit."""
    return layer_rows(f"""
        flatten | 展平                   |        | {features}
        fc      | 全连接 {features}→4096 | + ReLU | 4096
        dropout | Dropout 0.5            |        | 4096
        fc      | 全连接 4096→4096       | + ReLU | 4096
        dropout | Dropout 0.5            |        | 4096
        fc      | 全连接 4096→1          |        | 1（logit）
    """)


def alexnet() -> Canvas:
    c = figure("AlexNet：输入 3×224×224 的逐层形状", "AlexNet（第 2 章），输入 3×224×224")
    x, w = 30, 250
    layers = layer_rows("""
        input   | 输入图像             |                       | 3×224×224
        conv    | 11×11 卷积，3→96     | 步幅 4，填充 5 + ReLU | 96×56×56
        pool    | 2×2 最大池化，步幅 2 |                       | 96×28×28
        conv    | 5×5 卷积，96→256     | 填充 2 + ReLU         | 256×28×28
        pool    | 2×2 最大池化，步幅 2 |                       | 256×14×14
        conv    | 3×3 卷积，256→384    | 填充 1 + ReLU         | 384×14×14
        conv    | 3×3 卷积，384→384    | 填充 1 + ReLU         | 384×14×14
        conv    | 3×3 卷积，384→256    | 填充 1 + ReLU         | 256×14×14
        pool    | 2×2 最大池化，步幅 2 |                       | 256×7×7
    """) + classifier_4096(256 * 7 * 7)
    boxes = layer_column(c, x, 50, w, layers)
    bx = x + w + 130
    c.bracket(bx, boxes[1].y, boxes[8].bottom, "特征提取：5 个卷积层")
    c.bracket(bx, boxes[9].y, boxes[14].bottom, "分类器：3 个全连接层")
    y = boxes[-1].bottom + 30
    c.legend(x, y, ["input", "conv", "pool", "flatten", "fc", "dropout"])
    return c


# --------------------------------------------------------------------------- chapter 3

def vgg_block() -> Canvas:
    c = figure("VGG 块：n 个 3×3 卷积（填充 1）+ ReLU，然后 2×2 最大池化", "VGG 块（第 3 章）")
    x, w, shape_x, note_x = 70, 230, 330, 470
    column_heads(c, (shape_x, note_x), ("一般形式", "例：第 3 块（n = 3）"))
    layers = layer_rows("""
        input | 输入                 |                                      | C_in×H×W      | 128×56×56
        conv  | 3×3 卷积，填充 1     | 第 1 个 C_in→C_out，其余 C_out→C_out | C_out×H×W     | 256×56×56
        act   | ReLU                 |                                      | C_out×H×W     | 256×56×56
        pool  | 2×2 最大池化，步幅 2 |                                      | C_out×H/2×W/2 | 256×28×28
    """)
    boxes = layer_column(c, x, 90, w, layers, gap=26, shape_dx=shape_x - x - w, note_x=note_x)
    # the repeated part: n times (conv, ReLU)
    top, bottom = boxes[1].y - 10, boxes[2].bottom + 10
    c.rect(x - 14, top, w + 28, bottom - top, "none", "#888888", rx=10, dash=True, stroke_width=1.3)
    c.label(x - 22, (top + bottom) / 2, "× n", 16, "end", weight="bold")
    c.label(note_x, (boxes[1].cy + boxes[2].cy) / 2, "（重复 3 次）", 11, color=MUTED)
    return footer(c, 24, boxes[-1].bottom + 30, [
        "卷积不改变高和宽（3×3，填充 1，步幅 1）；池化把高和宽减半。",
        "VGG-16 的五个块：n = 2, 2, 3, 3, 3，C_out = 64, 128, 256, 512, 512。"],
                  ["input", "conv", "act", "pool"])


def vgg16() -> Canvas:
    c = figure("VGG-16：五个 VGG 块与三个全连接层，输入 3×224×224", "VGG-16（第 3 章），输入 3×224×224")
    x, w = 30, 580
    arch = [(2, 64, "64×112×112"), (2, 128, "128×56×56"), (3, 256, "256×28×28"),
            (3, 512, "512×14×14"), (3, 512, "512×7×7")]
    shape_x = x + w + 14
    inp = c.box(x + w / 2 - 110, 50, 220, 30, "input", "输入图像")
    c.label(shape_x, inp.cy, "3×224×224", 13, color=MUTED)
    prev, y = inp, inp.bottom + 18
    blocks = []
    for i, (n, ch, shape) in enumerate(arch, 1):
        block = c.group(x, y, w, 52)
        c.arrow((prev.cx, prev.bottom), (block.cx, block.y))
        c.label(x + 12, block.cy, f"块 {i}", 13, weight="bold")
        cx = x + 62
        for _ in range(n):       # n x (conv, ReLU), then the pool at the right end
            chip = c.box(cx, y + 11, 88, 30, "conv", f"3×3 卷积 {ch}", size=12)
            c.box(chip.right + 3, y + 11, 34, 30, "act", "ReLU", size=10)
            cx = chip.right + 3 + 34 + 12
        c.box(block.right - 12 - 84, y + 11, 84, 30, "pool", "2×2 池化", size=12)
        c.label(shape_x, block.cy, shape, 13, color=MUTED)
        blocks.append(block)
        prev, y = block, block.bottom + 18
    layers = classifier_4096(512 * 7 * 7)
    cw = 220
    c.arrow((prev.cx, prev.bottom), (x + w / 2, y))
    cx = x + w / 2
    boxes = layer_column(c, cx - cw / 2, y, cw, layers, shape_dx=shape_x - (cx + cw / 2))
    bx = shape_x + 96
    c.bracket(bx, blocks[0].y, blocks[-1].bottom, "13 个卷积层", size=12)
    c.bracket(bx, boxes[1].y, boxes[-1].bottom, "3 个全连接层", size=12)
    return footer(c, x, boxes[-1].bottom + 26, [
        "每块：卷积不改变高和宽，2×2 最大池化（步幅 2）把高和宽减半；通道 64→128→256→512→512。"],
                  ["input", "conv", "act", "pool", "flatten", "fc", "dropout"])


# --------------------------------------------------------------------------- chapter 4

# name -> (in, c1, c2, c3, c4, out); the arguments of Inception(...) in 04_googlenet.ipynb
INCEPTIONS = {
    "3a": (192, 64, (96, 128), (16, 32), 32, 256),
    "3b": (256, 128, (128, 192), (32, 96), 64, 480),
    "4a": (480, 192, (96, 208), (16, 48), 64, 512),
    "4b": (512, 160, (112, 224), (24, 64), 64, 512),
    "4c": (512, 128, (128, 256), (24, 64), 64, 512),
    "4d": (512, 112, (144, 288), (32, 64), 64, 528),
    "4e": (528, 256, (160, 320), (32, 128), 128, 832),
    "5a": (832, 256, (160, 320), (32, 128), 128, 832),
    "5b": (832, 384, (192, 384), (48, 128), 128, 1024),
}


def inception_block() -> Canvas:
    c = figure("Inception 块：四条并行路径，在通道维上拼接", "Inception 块（第 4 章）")
    c.label(836, 26, "括号内为 Inception 3a 的例子（输入 192×28×28）", 12, "end", MUTED)
    cols = [130, 323, 516, 709]
    bw, bh = 170, 44
    inp = c.box(cols[1] + 96 - 110, 56, 220, 34, "input", "输入")
    c.label(inp.right + 14, inp.cy, "C_in×H×W（192×28×28）", 13, color=MUTED)
    bus = inp.bottom + 22
    c.line([(inp.cx, inp.bottom), (inp.cx, bus)])
    c.line([(cols[0], bus), (cols[-1], bus)])
    row_a, row_b = bus + 26, bus + 26 + bh + 44
    first = {
        1: ("conv", "1×1 卷积，c2[0]", "+ ReLU", "c2[0]×H×W（96）"),
        2: ("conv", "1×1 卷积，c3[0]", "+ ReLU", "c3[0]×H×W（16）"),
        3: ("pool", "3×3 最大池化", "步幅 1，填充 1", "C_in×H×W（192）"),
    }
    second = [
        ("conv", "1×1 卷积，c1", "+ ReLU", "c1×H×W", "64×28×28"),
        ("conv", "3×3 卷积，c2[1]", "填充 1 + ReLU", "c2[1]×H×W", "128×28×28"),
        ("conv", "5×5 卷积，c3[1]", "填充 2 + ReLU", "c3[1]×H×W", "32×28×28"),
        ("conv", "1×1 卷积，c4", "+ ReLU", "c4×H×W", "32×28×28"),
    ]
    for i, cx in enumerate(cols):
        c.label(cx - bw / 2, row_a - 12, f"路径 {i + 1}", 12, color=MUTED, weight="bold")
        if i in first:
            kind, text, sub, shape = first[i]
            a = c.box(cx - bw / 2, row_a, bw, bh, kind, text, sub)
            c.arrow((cx, bus), (cx, a.y))
            c.arrow((cx, a.bottom), (cx, row_b))
            c.label(cx + 6, (a.bottom + row_b) / 2, shape, 11, color=MUTED)
        else:
            c.arrow((cx, bus), (cx, row_b))
        kind, text, sub, shape, example = second[i]
        b = c.box(cx - bw / 2, row_b, bw, bh, kind, text, sub)
        c.label(cx + 6, b.bottom + 16, shape, 12, color=MUTED)
        c.label(cx + 6, b.bottom + 32, f"（{example}）", 11, color=MUTED)
    concat_y = row_b + bh + 56
    cat = c.box(cols[0] - 40, concat_y, cols[-1] - cols[0] + 80, 36, "concat", "在通道维上拼接")
    for cx in cols:
        c.arrow((cx, row_b + bh), (cx, cat.y))
    out = c.box(inp.x, cat.bottom + 26, 220, 34, "input", "输出")
    c.arrow((out.cx, cat.bottom), (out.cx, out.y))
    c.label(out.right + 14, out.cy - 9, "(c1 + c2[1] + c3[1] + c4)×H×W", 13, color=MUTED)
    c.label(out.right + 14, out.cy + 10, "3a：64 + 128 + 32 + 32 = 256，即 256×28×28", 12, color=MUTED)
    return footer(c, 24, out.bottom + 30, [
        "四条路径都不改变高和宽（步幅 1，\"same\" 填充），所以可以按通道拼接；每个卷积之后都有 ReLU。"],
                  ["input", "conv", "pool", "concat"])


def googlenet() -> Canvas:
    c = figure("GoogLeNet：输入 3×224×224，含两个辅助分类器", "GoogLeNet（第 4 章），输入 3×224×224")
    x, w = 80, 250

    def inc(name):
        _, c1, c2, c3, c4, _ = INCEPTIONS[name]
        return f"{c1} | {c2[0]}→{c2[1]} | {c3[0]}→{c3[1]} | {c4}"

    layers = [
        Layer("input", "输入图像", "", "3×224×224"),
        Layer("conv", "7×7 卷积，3→64", "步幅 2，填充 3 + ReLU", "64×112×112"),
        Layer("pool", "3×3 最大池化，步幅 2，填充 1", "", "64×56×56"),
        Layer("conv", "1×1 卷积，64→64 + ReLU", "", "64×56×56"),
        Layer("conv", "3×3 卷积，64→192", "填充 1 + ReLU", "192×56×56"),
        Layer("pool", "3×3 最大池化，步幅 2，填充 1", "", "192×28×28"),
        Layer("inception", "Inception 3a", inc("3a"), "256×28×28"),
        Layer("inception", "Inception 3b", inc("3b"), "480×28×28"),
        Layer("pool", "3×3 最大池化，步幅 2，填充 1", "", "480×14×14"),
        Layer("inception", "Inception 4a", inc("4a"), "512×14×14"),
        Layer("inception", "Inception 4b", inc("4b"), "512×14×14"),
        Layer("inception", "Inception 4c", inc("4c"), "512×14×14"),
        Layer("inception", "Inception 4d", inc("4d"), "528×14×14"),
        Layer("inception", "Inception 4e", inc("4e"), "832×14×14"),
        Layer("pool", "3×3 最大池化，步幅 2，填充 1", "", "832×7×7"),
        Layer("inception", "Inception 5a", inc("5a"), "832×7×7"),
        Layer("inception", "Inception 5b", inc("5b"), "1024×7×7"),
        Layer("pool", "全局平均池化", "", "1024×1×1"),
        Layer("fc", "全连接 1024→1", "", "1（logit）"),
    ]
    boxes = layer_column(c, x, 52, w, layers, gap=15, h=30, h_sub=40)
    # the five stages of the notebook's table, bracketed on the left
    stages = [("段 1", 1, 2), ("段 2", 3, 5), ("段 3", 6, 8), ("段 4", 9, 14), ("段 5", 15, 18)]
    for name, first, last in stages:
        c.bracket(x - 12, boxes[first].y, boxes[last].bottom, name, side="left")

    # the two auxiliary classifiers branch off the output of 4a and of 4d
    ax, aw = 470, 150
    for n, (i, name) in enumerate([(9, "4a"), (12, "4d")], 1):
        b = boxes[i]
        y = b.bottom + 7.5                     # halfway down the arrow to the next box
        a = c.box(ax, y - 20, aw, 40, "aux", f"辅助分类器 {n}", f"（{name} 的输出）")
        c.line([(b.cx, y), (b.cx + 4, y)])
        c.arrow((b.cx, y), (a.x, y), dash=True)
        c.label(a.right + 10, y, "1（仅训练时）", 12, color=MUTED)
        aux_bottom = a.bottom

    # the structure of an auxiliary classifier
    px, py, pw = 440, aux_bottom + 24, 420
    aux_layers = layer_rows("""
        pool    | 5×5 平均池化，步幅 3    |  | 512×4×4 | 528×4×4
        conv    | 1×1 卷积，→128 + ReLU   |  | 128×4×4 | 128×4×4
        flatten | 展平                    |  | 2048    | 2048
        fc      | 全连接 2048→1024 + ReLU |  | 1024    | 1024
        dropout | Dropout 0.7             |  | 1024    | 1024
        fc      | 全连接 1024→1           |  | 1       | 1
    """)
    c.label(px + 16, py + 22, "辅助分类器的结构", 13, weight="bold")
    column_heads(c, (px + 262, px + 338), ("辅助 1", "辅助 2"), y=py + 22, size=12)
    col = layer_column(c, px + 16, py + 44, 210, aux_layers, gap=14, h=28, shape_dx=36, note_x=px + 338)
    notes(c, px + 16, col[-1].bottom + 20, ["训练时：总损失 = 主损失 + 0.3 × (辅助损失 1 + 辅助损失 2)",
                                             "推理时丢弃，只用主分类器的输出"])
    panel_bottom = col[-1].bottom + 56
    c.rect(px, py, pw, panel_bottom - py, "none", KINDS["aux"][1], rx=10, dash=True, stroke_width=1.3)

    return footer(c, 24, max(boxes[-1].bottom, panel_bottom) + 28, [
        "Inception 块内的数字：c1 | c2[0]→c2[1] | c3[0]→c3[1] | c4（四条路径的输出通道）。",
        "第一层卷积的步幅：本章按论文用 2；课程代码用 1，那样之后每张特征图的边长都加倍"
        "（5b 输出 1024×14×14）。"],
                  ["input", "conv", "pool", "inception", "fc", "dropout", "aux"])


# --------------------------------------------------------------------------- chapter 5

def residual_panel(c: Canvas, x0, y0, title, rows, shapes, shortcut, out_shape, add_shape=""):
    """One residual block, top to bottom: input x, the chip rows of F(x), the
    addition, ReLU, output; the main path runs through the centres of the
    convolution chips (the first chip of every row). ``shapes``: the label left
    of the input and of each row. ``shortcut``: None for identity, else
    (chip parts, shape label). Returns the bottom of the output box."""
    c.label(x0, y0, title, 14, weight="bold")
    main_x = x0 + 112
    shape_x = main_x - 22                      # right end of the shape labels
    cx = main_x + rows[0][0][3] / 2
    row_w = max(sum(p[3] for p in parts) + 3 * (len(parts) - 1) for parts in rows)
    inp = c.box(cx - 50, y0 + 30, 100, 30, "input", "输入 x")
    c.label(shape_x, inp.cy, shapes[0], 12, "end", MUTED)
    y = inp.bottom + 32
    frame_top = y - 14
    prev = inp
    for parts, shape in zip(rows, shapes[1:]):
        h = 40 if any(p[2] for p in parts) else 30
        row = chip_row(c, main_x, y, parts, h=h)
        c.arrow((cx, prev.bottom), (cx, row.y))
        c.label(shape_x, row.cy, shape, 12, "end", MUTED)
        prev, y = row, row.bottom + 20
    frame = Box(main_x - 10, frame_top, row_w + 20, prev.bottom + 10 - frame_top)
    c.rect(frame.x, frame.y, frame.w, frame.h, "none", "#999999", rx=8, dash=True, stroke_width=1.1)
    c.label(frame.x + 4, frame.y - 9, "F(x)", 13, italic=True, color=MUTED)
    add = c.add_node(cx, frame.bottom + 28)
    c.arrow((cx, prev.bottom), (cx, add.y))
    c.label(add.x - 8, add.cy, "相加", 11, "end", KINDS["add"][1])
    if add_shape:
        c.label(shape_x, add.cy, add_shape, 12, "end", MUTED)
    relu = c.box(cx - 30, add.bottom + 18, 60, 26, "act", "ReLU", size=12)
    c.arrow((cx, add.bottom), (cx, relu.y))
    out = c.box(cx - 50, relu.bottom + 20, 100, 30, "input", "输出 y")
    c.arrow((cx, relu.bottom), (cx, out.y))
    c.label(shape_x, out.cy, out_shape, 12, "end", MUTED)
    # the shortcut on the right
    lane = frame.right + 24
    if shortcut is None:
        c.line([(inp.right, inp.cy), (lane, inp.cy), (lane, add.cy)])
        c.arrow((lane, add.cy), (add.right, add.cy))
        c.label(lane + 8, (inp.cy + add.cy) / 2 - 9, "恒等映射 x", 12, color=MUTED)
        c.label(lane + 8, (inp.cy + add.cy) / 2 + 9, "（无参数）", 11, color=MUTED)
    else:
        parts, shape = shortcut
        sx = lane - 16
        lx = sx + parts[0][3] / 2               # the line runs through the conv chip
        sc = chip_row(c, sx, (inp.cy + add.cy) / 2 - 20, parts, h=40)
        c.line([(inp.right, inp.cy), (lx, inp.cy)])
        c.arrow((lx, inp.cy), (lx, sc.y))
        c.line([(lx, sc.bottom), (lx, add.cy)])
        c.arrow((lx, add.cy), (add.right, add.cy))
        c.label(lx + 8, sc.bottom + 16, shape, 12, color=MUTED)
        c.label(lx + 8, sc.y - 14, "投影捷径", 12, color=MUTED)
    return out.bottom


def residual_block() -> Canvas:
    c = figure("残差块：y = F(x) + x，捷径为恒等映射或 1×1 卷积", "残差块（基本块，ResNet-18/34 使用）")
    bn, relu = ("norm", "BN", "", 34), ("act", "ReLU", "", 44)
    rows = [[("conv", "3×3 卷积", "C→C", 86), bn, relu],
            [("conv", "3×3 卷积", "C→C", 86), bn]]
    same = "C×H×W"
    residual_panel(c, 24, 64, "(a) 形状不变：恒等捷径", rows, [same] * 3, None, same, same)
    rows = [[("conv", "3×3 卷积", "C→C'，步幅 s", 104), bn, relu],
            [("conv", "3×3 卷积", "C'→C'", 104), bn]]
    new = "C'×H/s×W/s"
    shortcut = ([("conv", "1×1 卷积", "C→C'，步幅 s", 96), bn], new)
    bottom = residual_panel(c, 430, 64, "(b) 通道或尺寸改变：1×1 卷积捷径", rows, [same, new, new],
                            shortcut, new, new)
    y = bottom + 30
    c.label(24, y, "y = F(x) + x，相加之后再做 ReLU：分支只需学习残差 F(x) = H(x) − x。", 13)
    return footer(c, 24, y + 22, [
        "捷径用 1×1 卷积 + BN（步幅 s）把 x 投影到 F(x) 的形状（论文的选项 B）。"],
                  ["input", "conv", "norm", "act", "add"])


def bottleneck_block() -> Canvas:
    c = figure("瓶颈模块：1×1 (c) → 3×3 (c，步幅 s) → 1×1 (4c)，加捷径后 ReLU", "瓶颈模块（ResNet-50/101/152 使用）")

    def rows(stride_text, w):
        return [
            [("conv", "1×1 卷积", "→ c", w), ("norm", "BN", "", 34), ("act", "ReLU", "", 44)],
            [("conv", "3×3 卷积", stride_text, w), ("norm", "BN", "", 34), ("act", "ReLU", "", 44)],
            [("conv", "1×1 卷积", "→ 4c", w), ("norm", "BN", "", 34)],
        ]

    residual_panel(
        c, 24, 64, "(a) 恒等捷径（例：c = 64，s = 1）", rows("c → c", 86),
        ["256×56×56", "64×56×56", "64×56×56", "256×56×56"], None, "256×56×56", "256×56×56")
    short = ([("conv", "1×1 卷积", "→ 4c，步幅 s", 96), ("norm", "BN", "", 34)], "512×28×28")
    bottom = residual_panel(
        c, 430, 64, "(b) 投影捷径（例：c = 128，s = 2）", rows("c → c，步幅 s", 100),
        ["256×56×56", "128×56×56", "128×28×28", "512×28×28"], short, "512×28×28", "512×28×28")
    return footer(c, 24, bottom + 30, [
        "两个例子的形状即第 5 章 layer_table 的输出：Bottleneck(256, 64) 与 Bottleneck(256, 128, stride=2)。",
        "步幅放在 3×3 卷积上（ResNet v1.5，课程与 paddle.vision 的做法）；"
        "第 3 个 1×1 卷积之后不加 ReLU，相加之后才加。"],
                  ["input", "conv", "norm", "act", "add"])


def resnet50() -> Canvas:
    c = figure("ResNet-50：输入 3×224×224 的逐阶段形状", "ResNet-50（第 5 章），输入 3×224×224")
    x, w = 30, 540
    inp = c.box(x + w / 2 - 110, 50, 220, 30, "input", "输入图像")
    c.label(x + w + 14, inp.cy, "3×224×224", 13, color=MUTED)
    stem = chip_row(c, x + w / 2 - 95, inp.bottom + 18,
                    [("conv", "7×7 卷积，3→64", "步幅 2，填充 3", 190), ("norm", "BN", "", 44),
                     ("act", "ReLU", "", 60)], h=40)
    c.arrow((inp.cx, inp.bottom), (inp.cx, stem.y))
    c.label(x + w + 14, stem.cy, "64×112×112", 13, color=MUTED)
    pool = c.box(x + w / 2 - 110, stem.bottom + 18, 220, 30, "pool", "3×3 最大池化，步幅 2，填充 1")
    c.arrow((inp.cx, stem.bottom), (inp.cx, pool.y))
    c.label(x + w + 14, pool.cy, "64×56×56", 13, color=MUTED)
    stages = [(1, 3, 64, 256, 1, "256×56×56"), (2, 4, 128, 512, 2, "512×28×28"),
              (3, 6, 256, 1024, 2, "1024×14×14"), (4, 3, 512, 2048, 2, "2048×7×7")]
    prev, y = pool, pool.bottom + 18
    for i, n, ch, out_ch, stride, shape in stages:
        stage = c.group(x, y, w, 82)
        c.arrow((prev.cx, prev.bottom), (stage.cx, stage.y))
        c.label(x + 12, y + 16, f"阶段 {i}（layer{i}）：{n} 个瓶颈模块，c = {ch}，输出 {out_ch} 通道",
                13, weight="bold")
        cx, cw = x + 12, 78
        for j in range(n):            # only the first block has a projection shortcut
            sub = f"投影，步幅 {stride}" if j == 0 else "恒等"
            c.box(cx, y + 34, cw, 38, "block", "瓶颈", sub, size=12)
            if j:
                c.arrow((cx - 9, y + 53), (cx, y + 53))
            cx += cw + 9
        c.label(x + w + 14, stage.cy, shape, 13, color=MUTED)
        prev, y = stage, stage.bottom + 18
    layers = [Layer("pool", "全局平均池化", "", "2048×1×1"),
              Layer("fc", "全连接 2048→1", "", "1（logit）")]
    c.arrow((prev.cx, prev.bottom), (x + w / 2, y))
    boxes = layer_column(c, x + w / 2 - 110, y, 220, layers,
                         shape_dx=w / 2 - 110 + 14)          # shape labels at x + w + 14, as above
    return footer(c, x, boxes[-1].bottom + 28, [
        "每个瓶颈模块 3 个卷积：1 (stem) + 3 × (3 + 4 + 6 + 3) + 1 (全连接) = 50 层。",
        "每阶段第一个模块用 1×1 卷积投影捷径（阶段 2–4 步幅 2，高和宽减半），其余用恒等捷径。"],
                  ["input", "conv", "norm", "act", "pool", "block", "fc"])


FIGURES = {
    "conv_arithmetic": conv_arithmetic,
    "lenet": lenet,
    "alexnet": alexnet,
    "vgg_block": vgg_block,
    "vgg16": vgg16,
    "inception_block": inception_block,
    "googlenet": googlenet,
    "residual_block": residual_block,
    "bottleneck_block": bottleneck_block,
    "resnet50": resnet50,
}


#: the modules with the figures of chapters 6-9 (beside this file; they use its helpers)
LATER_CHAPTERS = ("diagrams_ch06", "diagrams_ch07", "diagrams_ch08", "diagrams_ch09")


def all_figures() -> dict:
    """Every figure of the series: this file's and the later chapters' (each
    module checks its own shapes when it is loaded)."""
    import importlib
    import sys

    sys.modules.setdefault("diagrams", sys.modules[__name__])  # one copy of the helpers
    figures = dict(FIGURES)
    for name in LATER_CHAPTERS:
        module = importlib.import_module(name)
        module.check_shapes()
        figures.update(module.FIGURES)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    check_shapes()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, draw in all_figures().items():
        path = args.out / f"{name}.svg"
        path.write_text(draw().svg(), encoding="utf-8", newline="\n")
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
