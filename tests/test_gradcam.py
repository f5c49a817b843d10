"""Grad-CAM points at the evidence.

The images carry bright discs in their quadrants; the label is 1 exactly when
the top-left quadrant has one, and the other quadrants hold discs at random,
independent of the label. A network that learned the task must look at the
top-left disc, so the hottest point of its heat map should lie there.

The discs all look alike, so the network can only tell them apart by where
they are. Its convolutions see two extra input channels, the y and x
coordinates (as in CoordConv), and it ends in global average pooling like
the chapters' GoogLeNet and ResNet: then the last feature maps themselves
respond to the top-left disc only, which is what Grad-CAM can show. (With a
flatten + linear head the position would be decided in the head, and
Grad-CAM, which averages gradients over the map, would light every disc.)
"""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from palm_utils.gradcam import conv_layer_names, grad_cam, show_grad_cam
from palm_utils.runtime import paddle, set_seed
from tiny_net import Tiny

matplotlib.use("Agg")
nn = paddle.nn
F = paddle.nn.functional

SIZE = 64
QUADRANTS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # (row, column); (0, 0) decides the label


def make_images(n: int, seed: int):
    """n CHW float images in [-1, 1] (like transform_img's) and their labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images = rng.normal(-0.5, 0.1, (n, 3, SIZE, SIZE)).astype("float32")
    labels = rng.integers(0, 2, n)
    half = SIZE // 2
    for i in range(n):
        for q, (row, col) in enumerate(QUADRANTS):
            if (labels[i] == 1) if q == 0 else (rng.random() < 0.5):
                cy = row * half + rng.integers(8, half - 8)
                cx = col * half + rng.integers(8, half - 8)
                images[i, :, (yy - cy) ** 2 + (xx - cx) ** 2 <= 25] = 1.0
    return images, labels.astype("float32")


class CoordNet(nn.Layer):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(5, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2),
            nn.Conv2D(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2),
            nn.Conv2D(16, 16, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        ys = paddle.linspace(-1, 1, h).reshape([1, 1, h, 1]).expand([n, 1, h, w])
        xs = paddle.linspace(-1, 1, w).reshape([1, 1, 1, w]).expand([n, 1, h, w])
        features = self.features(paddle.concat([x, ys, xs], axis=1))
        return self.fc(features.mean(axis=[2, 3]))


def accuracy(model, images, labels) -> float:
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor(images)).numpy().ravel()
    return float(((logits > 0) == (labels == 1)).mean())


@pytest.fixture(scope="module")
def trained():
    set_seed(0)
    train_x, train_y = make_images(400, seed=0)
    test_x, test_y = make_images(100, seed=1)
    model = CoordNet()
    opt = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    order = np.random.default_rng(0)
    for _epoch in range(25):
        model.train()
        perm = order.permutation(len(train_x))
        for b in range(0, len(perm), 32):
            idx = perm[b:b + 32]
            loss = F.binary_cross_entropy_with_logits(
                model(paddle.to_tensor(train_x[idx])), paddle.to_tensor(train_y[idx, None]))
            loss.backward()
            opt.step()
            opt.clear_grad()
        acc = accuracy(model, test_x, test_y)
        if acc >= 0.95:  # no time limit: a cut-off under load made CI flaky
            break
    assert acc >= 0.9, f"the test network did not learn the task (accuracy {acc:.2f})"
    return model, test_x, test_y


def test_heat_map_shape_and_range(trained):
    model, images, _ = trained
    cam = grad_cam(model, images[0])
    assert cam.shape == (SIZE, SIZE) and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() <= 1.0 + 1e-6
    assert not model.training  # eval mode for the forward pass


def test_hottest_point_is_in_the_decisive_quadrant(trained):
    model, images, labels = trained
    hits = []
    for image in images[labels == 1]:
        cam = grad_cam(model, paddle.to_tensor(image))
        row, col = np.unravel_index(cam.argmax(), cam.shape)
        hits.append(row < SIZE // 2 and col < SIZE // 2)
    assert np.mean(hits) >= 0.8, f"only {np.mean(hits):.0%} of heat maps peak in the top-left quadrant"


def test_training_mode_is_restored(trained):
    model, images, _ = trained
    model.train()
    try:
        grad_cam(model, images[0])
        assert model.training
    finally:
        model.eval()


def test_layer_by_name(trained):
    model, images, labels = trained
    names = conv_layer_names(model)
    assert names == ["features.0", "features.3", "features.6"]
    last = grad_cam(model, images[0])
    np.testing.assert_allclose(grad_cam(model, images[0], layer="features.6"), last, atol=1e-6)
    early = grad_cam(model, images[0], layer="features.0")  # full resolution, different map
    assert early.shape == (SIZE, SIZE) and not np.allclose(early, last)
    # a non-conv sublayer by name works too: the ReLU after the last conv
    assert grad_cam(model, images[0], layer="features.7").shape == (SIZE, SIZE)


def test_unknown_layer_names_the_conv_layers(trained):
    model, images, _ = trained
    with pytest.raises(ValueError, match=r"no layer named 'conv9'.*features\.0, features\.3, features\.6"):
        grad_cam(model, images[0], layer="conv9")


def test_uint8_hwc_image_is_preprocessed():
    """An HWC uint8 RGB image goes through transform_img (224 x 224 out)."""
    set_seed(1)
    img = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    assert grad_cam(Tiny(kernel=3), img).shape == (224, 224)


def test_tuple_output_in_training_mode():
    """GoogLeNet-style nets return (main, aux...) in training mode; grad_cam
    runs in eval mode and uses the main logit either way."""

    class WithAux(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 1)
            self.aux = nn.Linear(4, 1)

        def forward(self, x):
            pooled = F.relu(self.conv(x)).mean(axis=[2, 3])
            return (self.fc(pooled), self.aux(pooled)) if self.training else self.fc(pooled)

    set_seed(2)
    model = WithAux()
    x = np.random.default_rng(0).normal(size=(3, 16, 16)).astype("float32")
    assert grad_cam(model, x).shape == (16, 16)


def test_no_conv_layer_is_a_clear_error():
    with pytest.raises(ValueError, match="no Conv2D"):
        grad_cam(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1)), np.zeros((3, 8, 8), "float32"))


def test_show_grad_cam_returns_a_figure(trained, tmp_path):
    import cv2

    model, images, _ = trained
    uint8 = ((np.transpose(images[1], (1, 2, 0)) + 1) * 127.5).astype(np.uint8)
    path = tmp_path / "fundus.png"
    cv2.imwrite(str(path), uint8[:, :, ::-1])
    fig = show_grad_cam(model, [images[0], uint8, str(path)], titles=["a", "b", "c"])
    assert len(fig.axes) == 3 and [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    fig = show_grad_cam(model, images[0])
    assert fig.axes[0].get_title().startswith("PM risk ")
    import matplotlib.pyplot as plt

    plt.close("all")
