"""The chapters' networks, taken from the notebooks themselves.

The benchmark must time exactly what a student trains, without a second copy
of each network to drift out of date. So it reads each chapter notebook with
:func:`palm_utils.cli.netspec.exec_notebook` (the top-level definitions of
its code cells: classes, functions and UPPER_CASE constants) in a namespace
that provides ``paddle``, ``nn``, ``F`` and ``math``, as ``python -m
palm_utils train --net notebooks/NN_x.ipynb:Class`` does.

The same source also runs on PyTorch: :func:`torch_namespace` maps the few
Paddle names the chapters use (``nn.Conv2D``, ``paddle.concat(axis=)``, ...)
onto their PyTorch twins, so the outside reference is the same network, line
for line.
"""
from __future__ import annotations

import math
import types
from collections import OrderedDict
from pathlib import Path

from palm_utils.cli import netspec

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: name -> (notebook, how to build the network the chapter trains on PALM)
CHAPTERS = {
    "LeNet": ("01_lenet.ipynb", "LeNet(in_channels=3, num_classes=1, flat_features=120 * 50 * 50)"),
    "AlexNet": ("02_alexnet.ipynb", "AlexNet()"),
    "VGG-16": ("03_vgg.ipynb", "VGG()"),
    "GoogLeNet": ("04_googlenet.ipynb", "GoogLeNet()"),
    "ResNet-50": ("05_resnet.ipynb", "ResNet(50)"),
    "ResNet-18": ("05_resnet.ipynb", "ResNet(18)"),
    "NiN": ("06_nin_densenet.ipynb", "NiN()"),
    "DenseNet-121": ("06_nin_densenet.ipynb", "DenseNet()"),
    "Inception v3": ("07_inception_v3_senet.ipynb", "InceptionV3()"),
    "SE-ResNet-50": ("07_inception_v3_senet.ipynb", "ResNet(50, se=True)"),
    "MobileNetV2": ("08_mobilenet_efficientnet.ipynb", "MobileNetV2()"),
    "EfficientNet-B0": ("08_mobilenet_efficientnet.ipynb", "EfficientNet()"),
}


def paddle_namespace(data_format: str = "NCHW") -> dict:
    """``paddle``, ``nn``, ``F``, ``math`` for the notebook code. With
    ``data_format="NHWC"`` the layout-aware layers are built channels-last."""
    if data_format == "NCHW":
        return netspec.default_namespace()
    import paddle

    nn = types.SimpleNamespace(**{k: getattr(paddle.nn, k) for k in dir(paddle.nn) if not k.startswith("_")})
    for name in ("Conv2D", "BatchNorm2D", "MaxPool2D", "AvgPool2D", "AdaptiveAvgPool2D"):
        setattr(nn, name, _with_format(getattr(paddle.nn, name), data_format))
    return {"paddle": paddle, "nn": nn, "F": paddle.nn.functional, "math": math}


def _with_format(cls, data_format):
    def build(*args, **kwargs):
        kwargs.setdefault("data_format", data_format)
        return cls(*args, **kwargs)
    return build


def torch_namespace() -> dict:
    """The Paddle names the chapters use, backed by PyTorch."""
    import torch

    tnn, tf = torch.nn, torch.nn.functional

    def _drop(kwargs, *names):
        for n in names:
            kwargs.pop(n, None)
        return kwargs

    def Conv2D(*args, bias_attr=None, weight_attr=None, **kwargs):
        return tnn.Conv2d(*args, bias=bias_attr is not False, **kwargs)

    def Linear(*args, **kwargs):
        return tnn.Linear(*args, **_drop(kwargs, "weight_attr", "bias_attr"))

    def Sequential(*layers):
        if layers and isinstance(layers[0], tuple):
            return tnn.Sequential(OrderedDict(layers))
        return tnn.Sequential(*layers)

    nn = types.SimpleNamespace(
        Layer=tnn.Module, Conv2D=Conv2D, Linear=Linear, Sequential=Sequential,
        MaxPool2D=tnn.MaxPool2d, AvgPool2D=tnn.AvgPool2d, AdaptiveAvgPool2D=tnn.AdaptiveAvgPool2d,
        BatchNorm2D=tnn.BatchNorm2d, ReLU=tnn.ReLU, Dropout=tnn.Dropout, Flatten=tnn.Flatten,
        initializer=types.SimpleNamespace(Uniform=lambda *a, **k: None),
    )
    F = types.SimpleNamespace(
        relu=tf.relu, relu6=tf.relu6, silu=tf.silu, sigmoid=torch.sigmoid,
        leaky_relu=lambda x, negative_slope=0.01: tf.leaky_relu(x, negative_slope),
        adaptive_avg_pool2d=tf.adaptive_avg_pool2d,
    )
    paddle = types.SimpleNamespace(
        flatten=torch.flatten, ParamAttr=lambda *a, **k: None,
        concat=lambda xs, axis=0: torch.cat(xs, dim=axis),
        floor=torch.floor, rand=lambda shape, dtype=None: torch.rand(*shape, dtype=dtype),
        no_grad=torch.no_grad,
    )
    return {"paddle": paddle, "nn": nn, "F": F, "math": math}


def build(name: str, namespace: dict, notebooks: Path = NOTEBOOKS):
    """Instantiate chapter network ``name`` (a key of :data:`CHAPTERS`)
    from its notebook, in ``namespace``."""
    notebook, expression = CHAPTERS[name]
    path = notebooks / notebook
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: chapter notebook not found; the benchmark reads the networks "
            "from notebooks/ and must run from a checkout of the repository."
        )
    # imports=False: the notebook's own `import paddle.nn as nn` would replace
    # the channels-last and PyTorch stand-ins of `namespace`
    scope = netspec.exec_notebook(path, namespace, imports=False)
    return eval(expression, scope)
