"""The AI Studio path end to end: a checkout with the three dataset-19065 zips
in the AI Studio layout (nested training zip, annotation zips, __MACOSX
litter, the xlsx inside valid_gt.zip) and nothing else configured. Chapter 1,
run top to bottom, prepares the zips on first use and trains on them."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import nbformat
import numpy as np

from conftest import blob_image
from palm_utils.layout import TRAIN_COUNTS, TRAIN_DIR, VALID_DIR
from test_aistudio import _xlsx_bytes, make_zips

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("nbtool", REPO / "scripts" / "notebooks.py")
nbtool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbtool)


def _jpegs(names, positive, seed):
    """Generated images whose class is easy to see (a bright or dark disc)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, pos in zip(names, positive):
        ok, buf = cv2.imencode(".jpg", blob_image(pos, rng))
        assert ok
        out[name] = buf.tobytes()
    return out


def test_chapter_prepares_the_aistudio_zips_on_first_use(tmp_path, monkeypatch):
    # the release's names and counts: H0001-H0026, N0001-N0161, P0001-P0213, V0001-V0400
    train_names = [f"{k}{i:04d}.jpg" for k, n in TRAIN_COUNTS.items() for i in range(1, n + 1)]
    valid_names = [f"V{i:04d}.jpg" for i in range(1, 401)]
    valid_labels = [int(i % 19 < 10) for i in range(400)]  # 211 positives
    zips = make_zips(tmp_path / "data19065",
                     train=_jpegs(train_names, [n[0] == "P" for n in train_names], 1),
                     valid=_jpegs(valid_names, [bool(v) for v in valid_labels], 2),
                     xlsx=_xlsx_bytes(valid_names, valid_labels))

    # A checkout: the notebook beside the package, the way a student clones it.
    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "palm_utils").symlink_to(REPO / "palm_utils")
    home = tmp_path / "home"
    monkeypatch.setenv("PALM_AISTUDIO_DIR", str(zips))
    monkeypatch.setenv("PALM_HOME", str(home))
    monkeypatch.setenv("PALM_QUICK", "1")

    executed = checkout / "notebooks" / "01_lenet.ipynb"
    nbtool.run(REPO / "notebooks" / "01_lenet.ipynb", timeout=600, out=executed)

    nb = nbformat.read(executed, as_version=4)
    assert nbtool.first_error(nb) is None
    text = "\n".join(t for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []) for t in nbtool._texts(out))
    assert "real PALM data" in text and "found via AI Studio zips" in text
    assert "train: 400 images (H 26, N 161, P 213" in text and "valid: 400 images (label 1: 211" in text
    prepared = home / "PALM"
    assert len(list((prepared / TRAIN_DIR).glob("*.jpg"))) == 400
    assert len(list((prepared / VALID_DIR).glob("*.jpg"))) == 400
    marker = json.loads((prepared / "PREPARED.json").read_text())
    assert set(marker["sources"]) == {"training.zip", "validation.zip", "valid_gt.zip"}
    assert "This run: real PALM data" in text
