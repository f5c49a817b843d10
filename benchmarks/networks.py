"""The chapters' networks, as the benchmark builds them.

The benchmark must time exactly what a student trains, without a second copy
of each network to drift out of date. The chapters save their networks
(``#@save`` cells) into :mod:`palm_utils.models`, and the benchmark builds the
ordinary classes from there, as ``from palm_utils.models import ResNet`` does
in a chapter and ``python -m palm_utils train --net
notebooks/05_resnet.ipynb:ResNet`` does on the command line.

The same source also runs on PyTorch: :func:`torch_namespace` maps the few
Paddle names the chapters use (``nn.Conv2D``, ``paddle.concat(axis=)``, ...)
onto their PyTorch twins, and :func:`run_models_source` runs the text of
``palm_utils/models.py`` (without its import lines) in that namespace, so the
outside reference is the same network, line for line. The channels-last
variant, ``paddle_namespace("NHWC")``, is built the same way.
"""
from __future__ import annotations

import ast
import math
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np

from palm_utils import models

CHECKOUT = Path(__file__).resolve().parents[1]
MODELS_SOURCE = Path(models.__file__)

#: name -> (class in palm_utils.models, the arguments of the network the chapter trains on PALM)
CHAPTERS = {
    "LeNet": ("LeNet", dict(in_channels=3, num_classes=1, flat_features=120 * 50 * 50)),
    "AlexNet": ("AlexNet", {}),
    "VGG-16": ("VGG", {}),
    "GoogLeNet": ("GoogLeNet", {}),
    "ResNet-50": ("ResNet", dict(depth=50)),
    "ResNet-18": ("ResNet", dict(depth=18)),
    "NiN": ("NiN", {}),
    "DenseNet-121": ("DenseNet", {}),
    "Inception v3": ("InceptionV3", {}),
    "SE-ResNet-50": ("SEResNet", dict(depth=50)),
    "MobileNetV2": ("MobileNetV2", {}),
    "EfficientNet-B0": ("EfficientNet", {}),
}

#: the controlled experiments' twins that part 6 times against their chapter network:
#: name -> (the chapter network of :data:`CHAPTERS`, the arguments that make the twin)
TWINS = {
    "MobileNetV2, standard 3x3 convolutions": ("MobileNetV2", dict(depthwise=False)),
    "GoogLeNet, no 1x1 reductions": ("GoogLeNet", dict(reductions=False)),
}


def paddle_namespace(data_format: str = "NCHW") -> dict | None:
    """What :func:`build` builds a Paddle network in: ``None`` for NCHW, which
    means :mod:`palm_utils.models` as imported; for ``"NHWC"`` the names the
    saved code uses (``paddle``, ``nn``, ``F``, ``math``, ``np``) with the
    layout-aware layers built channels-last."""
    if data_format == "NCHW":
        return None
    import paddle

    nn = types.SimpleNamespace(**{k: getattr(paddle.nn, k) for k in dir(paddle.nn) if not k.startswith("_")})
    for name in ("Conv2D", "BatchNorm2D", "MaxPool2D", "AvgPool2D", "AdaptiveAvgPool2D"):
        setattr(nn, name, _with_format(getattr(paddle.nn, name), data_format))
    return {"paddle": paddle, "nn": nn, "F": paddle.nn.functional, "math": math, "np": np}


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

    class Layer(tnn.Module):
        def sublayers(self):   # Paddle's name: every layer inside, not the layer itself
            return list(self.modules())[1:]

    nn = types.SimpleNamespace(
        Layer=Layer, Identity=tnn.Identity, Conv2D=Conv2D, Linear=Linear, Sequential=Sequential,
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
    return {"paddle": paddle, "nn": nn, "F": F, "math": math, "np": np}


def run_models_source(namespace: dict) -> dict:
    """The definitions of ``palm_utils/models.py``, read as text and executed
    in a copy of ``namespace``. The module's own import lines are left out:
    they would replace the channels-last and PyTorch names of ``namespace``."""
    tree = ast.parse(MODELS_SOURCE.read_text(encoding="utf-8"), str(MODELS_SOURCE))
    tree.body = [node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    scope = {"__name__": "benchmarks.networks.models", **namespace}
    exec(compile(tree, str(MODELS_SOURCE), "exec"), scope)
    return scope


def chapter_of(name: str) -> str:
    """The chapter network of ``name``: itself, or the one a twin of :data:`TWINS` is built from."""
    return TWINS[name][0] if name in TWINS else name


def build(name: str, namespace: dict | None = None):
    """Instantiate chapter network ``name`` (a key of :data:`CHAPTERS` or of
    :data:`TWINS`): the class of :mod:`palm_utils.models` itself (``namespace``
    None), or the same source run in ``namespace`` (:func:`torch_namespace`,
    ``paddle_namespace("NHWC")``)."""
    class_name, kwargs = CHAPTERS[chapter_of(name)]
    kwargs = {**kwargs, **TWINS[name][1]} if name in TWINS else kwargs
    scope = vars(models) if namespace is None else run_models_source(namespace)
    return scope[class_name](**kwargs)
