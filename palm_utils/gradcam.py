"""Grad-CAM: where in the fundus image did the network look?

Grad-CAM (Selvaraju et al., 2017) takes the feature maps ``A`` of one
convolutional layer and the gradient of the logit with respect to them.
Each channel gets one weight, the mean of its gradient over the map; the heat
map is ``ReLU(sum_c weight_c * A_c)``, scaled to [0, 1] and upsampled to the
input size. Bright regions are those that raised the PM logit.

    cam = grad_cam(model, img)             # img: 224x224x3 uint8 RGB
    show_grad_cam(model, [img1, img2])      # heat maps over the images
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .evaluation import main_logits
from .reader import read_image, transform_img
from .runtime import paddle

F = paddle.nn.functional


def conv_layer_names(model) -> list[str]:
    """Names (as in ``model.named_sublayers()``) of every ``Conv2D``."""
    return [name for name, sub in model.named_sublayers() if isinstance(sub, paddle.nn.Conv2D)]


def find_layer(model, layer=None):
    """The sublayer called ``layer``; the last ``Conv2D`` when ``None``; a
    :class:`paddle.nn.Layer` is returned as is."""
    if isinstance(layer, paddle.nn.Layer):
        return layer
    convs = conv_layer_names(model)
    if layer is None:
        if not convs:
            raise ValueError(f"{type(model).__name__} has no Conv2D layer; pass layer=NAME.")
        layer = convs[-1]
    sublayers = dict(model.named_sublayers())
    if layer not in sublayers:
        raise ValueError(f"{type(model).__name__} has no layer named {layer!r}; "
                         f"its Conv2D layers are: {', '.join(convs) or '(none)'}.")
    return sublayers[layer]


def as_batch(image) -> "paddle.Tensor":
    """A batch of one network input from an HWC uint8 RGB array (preprocessed
    with :func:`~palm_utils.reader.transform_img`) or a CHW float array/tensor."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 \
            and image.shape[-1] == 3:
        image = transform_img(image)
    x = image if isinstance(image, paddle.Tensor) else paddle.to_tensor(np.asarray(image, "float32"))
    return x.astype("float32").reshape([1, *x.shape[-3:]])


def grad_cam_and_logit(model, image, layer=None) -> tuple[np.ndarray, float]:
    """:func:`grad_cam` and the logit of the image."""
    x = as_batch(image)
    x.stop_gradient = False  # gradients flow even through a frozen backbone
    target, saved = find_layer(model, layer), []
    hook = target.register_forward_post_hook(lambda _layer, _inputs, output: saved.append(output))
    was_training = model.training
    model.eval()
    try:
        logit = main_logits(model(x)).reshape([-1])[0]
    finally:
        hook.remove()
        if was_training:
            model.train()
    activation = saved[0]                                        # 1 x C x h x w
    (grads,) = paddle.grad(logit, activation)
    weights = grads.mean(axis=[2, 3], keepdim=True)              # one weight per channel
    cam = F.relu((weights * activation).sum(axis=1, keepdim=True))
    cam = F.interpolate(cam, size=list(x.shape[2:]), mode="bilinear", align_corners=False)
    cam = cam[0, 0].numpy()
    return cam / cam.max() if cam.max() > 0 else cam, float(logit)


def grad_cam(model, image, layer=None) -> np.ndarray:
    """Grad-CAM heat map (H x W, values in [0, 1], the input's size) of the
    one-logit network ``model`` for ``image``.

    ``image``: an HWC uint8 RGB array (as :func:`~palm_utils.reader.read_image`
    returns) or a preprocessed CHW float array or tensor. ``layer``: the name
    of a sublayer (see ``model.named_sublayers()``), or ``None`` for the last
    ``Conv2D``. The model is run in eval mode (its mode is restored after).
    """
    return grad_cam_and_logit(model, image, layer)[0]


def _displayable(image) -> np.ndarray:
    """HWC RGB in [0, 1] for ``imshow``, from what :func:`grad_cam` accepts or a path."""
    if isinstance(image, paddle.Tensor):
        image = image.numpy()
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image / 255.0
    chw = image.reshape(image.shape[-3:])
    return np.clip((np.transpose(chw, (1, 2, 0)) + 1.0) / 2.0, 0.0, 1.0)  # undo transform_img


def show_grad_cam(model, images, titles=None, layer=None, alpha: float = 0.4):
    """Plot each image with its Grad-CAM heat map on top; returns the figure.

    ``images``: one image or a list of them: file paths, HWC uint8 RGB arrays
    or CHW float inputs. Default titles give the predicted PM risk.
    """
    import matplotlib.pyplot as plt

    if isinstance(images, (str, Path, np.ndarray, paddle.Tensor)):
        images = [images]
    images = [read_image(im) if isinstance(im, (str, Path)) else im for im in images]
    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.4), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], images)):
        cam, logit = grad_cam_and_logit(model, image, layer)
        shown = _displayable(image)
        ax.imshow(shown)
        ax.imshow(cam, cmap="jet", alpha=alpha, extent=(-0.5, shown.shape[1] - 0.5, shown.shape[0] - 0.5, -0.5))
        ax.set_title(titles[i] if titles else f"PM risk {0.5 + 0.5 * np.tanh(logit / 2):.2f}")
        ax.axis("off")
    fig.tight_layout()
    return fig
