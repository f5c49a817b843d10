"""Shared fixtures. Every test runs offline, on the CPU, with the project's
environment variables cleared so that the developer's settings never leak in."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from palm_utils import config
from palm_utils.layout import CSV_NAME, TRAIN_DIR, VALID_DIR

REPO = Path(__file__).resolve().parent.parent
SHARED_PALM = REPO.parent / "shared" / "data" / "palm224"


def real_experiments():
    """scripts/experiments.py as it is (a fresh module, not a fixture's patched copy)."""
    spec = importlib.util.spec_from_file_location("experiments_real", REPO / "scripts" / "experiments.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in (config.ENV_DATA, config.ENV_MNIST, config.ENV_QUICK, config.ENV_AISTUDIO):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(config.ENV_OFFLINE, "1")
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "palm_home"))
    monkeypatch.setenv(config.ENV_AISTUDIO, str(tmp_path / "no_aistudio"))
    from palm_utils import quick
    from palm_utils.datasets import discovery

    monkeypatch.setattr(discovery, "_found", None)
    monkeypatch.setattr(quick, "LIMITS", None)  # read from PALM_QUICK once, at import


def blob_image(positive: bool, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """A BGR image whose class is easy to learn: positives carry a bright
    disc, negatives a dark one, on a noisy background."""
    img = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
    centre = tuple(int(v) for v in rng.integers(size // 4, 3 * size // 4, 2))
    colour = (230, 230, 230) if positive else (10, 10, 10)
    cv2.circle(img, centre, size // 6, colour, -1)
    return img


def make_mini_palm(root: Path, n_train: int = 20, n_valid: int = 20, seed: int = 0) -> Path:
    """A small dataset in the PALM layout: n_train training images (P, N and H
    names), n_valid validation images and labels.csv."""
    rng = np.random.default_rng(seed)
    (root / TRAIN_DIR).mkdir(parents=True)
    (root / VALID_DIR).mkdir()
    letters = ["P", "N", "P", "H"]
    for i in range(n_train):
        letter = letters[i % 4]
        cv2.imwrite(str(root / TRAIN_DIR / f"{letter}{i + 1:04d}.jpg"),
                    blob_image(letter == "P", rng))
    rows = []
    for i in range(n_valid):
        label = i % 2
        name = f"V{i + 1:04d}.jpg"
        cv2.imwrite(str(root / VALID_DIR / name), blob_image(bool(label), rng))
        rows.append({"ID": i + 1, "imgName": name, "Label": label, "Fovea_X": 1.0, "Fovea_Y": 2.0})
    pd.DataFrame(rows).to_csv(root / CSV_NAME, index=False)
    return root


@pytest.fixture(scope="session")
def mini_palm(tmp_path_factory) -> Path:
    return make_mini_palm(tmp_path_factory.mktemp("mini") / "palm")


@pytest.fixture(scope="session")
def standin_palm(tmp_path_factory) -> Path:
    """The default stand-in (seed 0, 224x224) where the checkout keeps it
    (``data/PALM-standin``, or under ``$PALM_HOME``): the notebooks find the
    same one there, so a test run and a notebook run generate it once between
    them (rendering its 800 images takes most of a minute on 2 cores). When
    something else occupies that folder, a private copy in a temporary folder.
    Tests read it and never change it; a test that needs it somewhere else
    copies it there with :func:`copy_standin`."""
    from palm_utils.datasets.standin import _matches, generate_standin

    # A session fixture is set up before clean_env, so this is the real location.
    root = config.standin_dir()
    if root.exists() and not (_matches(root, 0, (224, 224)) and _rendered_here(root)):
        root = tmp_path_factory.mktemp("standin") / "PALM-standin"
    assert generate_standin(root, seed=0, workers=2, progress=False) == root
    return root


def _rendered_here(root: Path) -> bool:
    """``root``'s first image has the bytes this environment renders: JPEG
    bytes depend on the OpenCV and NumPy versions, so a stand-in that another
    environment generated (the other Paddle line of scripts/test.sh) is not
    used where the tests compare bytes."""
    from palm_utils.datasets import standin

    item = standin._plan(0)[0]
    path = root / item.folder / item.name
    return path.is_file() and path.read_bytes() == standin._encode_item(item, 0, (224, 224))[0]


def copy_standin(standin: Path, dest: Path) -> Path:
    """A copy of the session's stand-in at ``dest`` (its marker included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(standin, dest))
