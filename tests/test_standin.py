"""The generated stand-in dataset: layout, counts, labels, determinism,
idempotence and atomic writing."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from palm_utils.datasets import fundus, standin as synth
from palm_utils.labels import training_samples, validation_samples
from palm_utils.layout import (
    CSV_NAME, GT_DIR, LABEL_COLUMNS, STANDIN_MARKER, TRAIN_DIR, VALID_DIR, XLSX_NAME,
    looks_like_dataset,
)

SEED = 0  # the default seed: conftest's session-wide stand-in


@pytest.fixture
def standin(standin_palm):
    """The full stand-in at 224x224 that conftest generates (or finds) once per session."""
    return standin_palm


def fake_render(rng, positive, size=(224, 224), high_myopia=False):
    """A fast stand-in for render_fundus: a flat image."""
    w, h = fundus.normalize_size(size)
    return np.full((h, w, 3), 255 if positive else 0, np.uint8), (w / 2, h / 2)


def test_layout_and_counts(standin):
    assert looks_like_dataset(standin)
    names = sorted(p.name for p in (standin / TRAIN_DIR).iterdir())
    assert [sum(n.startswith(k) for n in names) for k in "HNP"] == [26, 161, 213]
    assert names[0] == "H0001.jpg" and "N0161.jpg" in names and names[-1] == "P0213.jpg"
    valid = sorted(p.name for p in (standin / VALID_DIR).iterdir())
    assert valid == [f"V{i:04d}.jpg" for i in range(1, 401)]
    marker = json.loads((standin / STANDIN_MARKER).read_text())
    assert marker["seed"] == SEED and marker["size"] == [224, 224]
    assert not list(standin.parent.glob(f".{standin.name}.tmp-*"))  # no temporary folders left


def test_readable_by_labels_module(standin):
    train = training_samples(standin / TRAIN_DIR)
    assert len(train) == 400 and sum(label for _, label in train) == 213
    for label_file in (standin / CSV_NAME, standin / GT_DIR / XLSX_NAME):
        valid = validation_samples(standin / VALID_DIR, label_file)
        assert len(valid) == 400 and sum(label for _, label in valid) == 211


def test_label_tables(standin):
    csv = pd.read_csv(standin / CSV_NAME)
    xlsx = pd.read_excel(standin / GT_DIR / XLSX_NAME)
    assert tuple(xlsx.columns) == LABEL_COLUMNS
    pd.testing.assert_frame_equal(csv, xlsx, check_dtype=False)
    assert list(xlsx.ID) == list(range(1, 401))
    # Positives are spread over the list, not in a block.
    labels = xlsx.Label.to_numpy()
    assert 0.3 < labels[:200].mean() < 0.75
    assert xlsx.Fovea_X.between(0, 224).all() and xlsx.Fovea_Y.between(0, 224).all()


def test_images(standin):
    import cv2

    img = cv2.imread(str(standin / TRAIN_DIR / "P0001.jpg"))
    assert img.shape == (224, 224, 3)
    assert img[:5, :5].mean() < 20  # dark surround
    centre = img[80:144, 80:144].mean(axis=(0, 1))
    assert centre[2] > centre[1] > centre[0]  # orange-red fundus (BGR)


def test_deterministic_and_seeded(standin):
    """Rendering again, single-threaded, gives the very bytes on disk; another
    seed gives other images."""
    items = synth._plan(SEED)
    for item in (items[0], items[200], items[-1]):
        data, _ = synth._encode_item(item, SEED, (224, 224))
        assert data == (standin / item.folder / item.name).read_bytes()
        other, _ = synth._encode_item(item, SEED + 1, (224, 224))
        assert other != data
    assert [i.kind for i in synth._plan(SEED)] == [i.kind for i in items]
    assert [i.kind for i in synth._plan(SEED + 1)] != [i.kind for i in items]


def test_xlsx_bytes_do_not_depend_on_time(standin, tmp_path):
    """Written again, later, the same table gives the same xlsx bytes."""
    synth._write_xlsx(pd.read_csv(standin / CSV_NAME), tmp_path / "again.xlsx")
    assert (tmp_path / "again.xlsx").read_bytes() == (standin / GT_DIR / XLSX_NAME).read_bytes()


def test_render_fundus_size_and_fovea():
    img, (fx, fy) = fundus.render_fundus(np.random.default_rng(0), True, (300, 200))
    assert img.shape == (200, 300, 3) and img.dtype == np.uint8
    assert 0 < fx < 300 and 0 < fy < 200


def test_second_call_returns_at_once(standin):
    before = {p: p.stat().st_mtime_ns for p in standin.rglob("*")}
    assert synth.generate_standin(standin, seed=SEED, progress=False) == standin
    assert {p: p.stat().st_mtime_ns for p in standin.rglob("*")} == before


def test_other_seed_needs_overwrite(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "render_fundus", fake_render)
    root = synth.generate_standin(tmp_path / "s", seed=1, size=64, progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        synth.generate_standin(root, seed=2, size=64, progress=False)
    synth.generate_standin(root, seed=2, size=64, overwrite=True, progress=False)
    assert json.loads((root / STANDIN_MARKER).read_text())["seed"] == 2
    assert sorted(os.listdir(tmp_path)) == ["s"]


def test_refuses_foreign_folder(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=str(root)):
            synth.generate_standin(root, overwrite=overwrite, progress=False)
    assert (root / "notes.txt").read_text() == "keep me"


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) > 20:
            raise RuntimeError("boom")
        return fake_render(*args, **kwargs)

    monkeypatch.setattr(synth, "render_fundus", failing_render)
    with pytest.raises(RuntimeError, match="boom"):
        synth.generate_standin(tmp_path / "s", size=64, workers=2, progress=False)
    assert os.listdir(tmp_path) == []
