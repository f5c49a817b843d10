"""What a network costs: parameters, FLOPs, and a layer-by-layer table of
output shapes and parameter counts (the "shape walkthrough" of each chapter),
plus :func:`conv_out`, the output-size formula those shapes follow, and the
counts the chapters work out by hand: :func:`conv_weights`, :func:`fc_params`.
"""
from __future__ import annotations

import contextlib
import io

from .runtime import paddle


def conv_out(size: int, kernel: int, *, stride: int = 1, padding: int = 0,
             dilation: int = 1) -> int:
    """Output side length of a convolution or pooling layer (floor mode):
    ``(size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1``,
    which for ``dilation=1`` is ``(size - kernel + 2 * padding) // stride + 1``.

    ``stride`` and ``padding`` are keyword-only (in ``paddle.nn.Conv2D``
    they come in that order, stride first), so a swapped positional call
    cannot silently give a wrong size.
    """
    if stride < 1 or dilation < 1 or kernel < 1 or padding < 0:
        raise ValueError(f"need kernel, stride, dilation >= 1 and padding >= 0; got kernel "
                         f"{kernel}, stride {stride}, padding {padding}, dilation {dilation}.")
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}x{kernel} window does not fit a side of {size} "
                         f"with padding {padding}: the output would be empty.")
    return out


def conv_weights(c_in: int, c_out: int, kernel) -> int:
    """Weights of a convolution without bias, ``c_in * c_out * kh * kw``.

    ``kernel`` is ``k`` for a k x k kernel or ``(kh, kw)``, e.g. ``(1, 7)``.
    A bias would add ``c_out``; a convolution followed by BatchNorm has none.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return c_in * c_out * kh * kw


def fc_params(sizes) -> int:
    """Weights and biases of fully connected layers ``sizes[0] -> sizes[1] -> ...``,
    e.g. ``fc_params([12544, 4096, 4096, 1])`` for AlexNet's classifier."""
    sizes = list(sizes)
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def count_params(model) -> int:
    """Number of trainable and non-trainable parameters."""
    return int(sum(int(p.size) for p in model.parameters()))


def count_trainable(model) -> int:
    """Number of parameters the optimizer updates: :func:`count_params` without
    those that take no gradient, such as BatchNorm's running mean and variance."""
    return int(sum(int(p.size) for p in model.parameters() if not p.stop_gradient))


def count_flops(model, input_size=(1, 3, 224, 224)) -> int:
    """Multiply-accumulate FLOPs of one forward pass, by ``paddle.flops``
    (its per-layer printout is swallowed). Convolutions and linear layers
    dominate; pooling counts as zero."""
    was_training = model.training
    # paddle.flops counts the sublayers it finds; a lone layer has none.
    target = model if model.sublayers() else paddle.nn.Sequential(model)
    with contextlib.redirect_stdout(io.StringIO()):
        flops = paddle.flops(target, list(input_size), print_detail=False)
    model.train() if was_training else model.eval()
    return int(flops)


def _own_params(layer) -> int:
    return int(sum(int(p.size) for p in layer.parameters(include_sublayers=False)))


def layer_table(model, input_size=(1, 3, 224, 224), depth: int | None = None) -> str:
    """A text table: each layer's name (as in the class), type, output shape
    and parameter count, in the order the forward pass calls them.

    ``depth=None`` lists every leaf layer; ``depth=1`` only the model's direct
    children (use it for deep networks such as ResNet), and so on.
    """
    rows, hooks = [], []
    for name, layer in model.named_sublayers():
        level = name.count(".") + 1
        leaf = not layer.sublayers()
        if (depth is None and leaf) or level == depth:
            params = (count_params(layer) if depth is not None else _own_params(layer))

            def hook(layer, inputs, output, name=name, params=params):
                out = output[0] if isinstance(output, (tuple, list)) else output
                rows.append((name, type(layer).__name__, list(out.shape), params))

            hooks.append(layer.register_forward_post_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros(list(input_size)))
    finally:
        for h in hooks:
            h.remove()
        model.train() if was_training else model.eval()
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f"{'layer':<{width}}  {'type':<18} {'output shape':<22} {'params':>12}",
             "-" * (width + 56)]
    lines += [f"{n:<{width}}  {t:<18} {str(s):<22} {p:>12,}" for n, t, s, p in rows]
    lines += ["-" * (width + 56), f"{'total':<{width}}  {'':<18} {'':<22} {count_params(model):>12,}"]
    return "\n".join(lines)
