"""Tests for palm_utils.datasets.aistudio: the AI Studio zips -> dataset root.

The three zips are built here with the AI Studio layout (nested training
zip, an annotation zip, macOS litter) and tiny 8x8 JPEGs, so the tests run
offline in well under a second each.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from palm_utils import labels
from palm_utils.datasets import aistudio
from palm_utils.layout import GT_DIR, TRAIN_DIR, VALID_DIR, XLSX_NAME

TRAIN_NAMES = (
    [f"H{i:04d}.jpg" for i in range(1, 4)]
    + [f"N{i:04d}.jpg" for i in range(1, 5)]
    + [f"P{i:04d}.jpg" for i in range(1, 6)]
)
VALID_NAMES = [f"V{i:04d}.jpg" for i in range(1, 7)]
VALID_LABELS = [1, 0, 1, 0, 0, 1]
JUNK = {"__MACOSX/._junk.jpg": b"\0", "__MACOSX/PALM/._H0001.jpg": b"\0"}


def _jpeg(value: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), value, np.uint8))
    assert ok
    return buf.tobytes()


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _xlsx_bytes(names=VALID_NAMES, values=VALID_LABELS) -> bytes:
    table = pd.DataFrame({
        "ID": range(1, len(names) + 1),
        "imgName": names,
        "Label": values,
        "Fovea_X": [100.5] * len(names),
        "Fovea_Y": [200.5] * len(names),
    })
    buf = io.BytesIO()
    table.to_excel(buf, index=False)
    return buf.getvalue()


def make_zips(folder: Path, inner_extra=None, outer_extra=None, xlsx=None, train=None,
              valid=None) -> Path:
    """Write training.zip, validation.zip and valid_gt.zip into ``folder``.

    ``inner_extra`` / ``outer_extra`` add entries to the nested training zip /
    to training.zip; ``xlsx`` replaces the label file's bytes. ``train`` /
    ``valid`` (file name -> JPEG bytes) replace the tiny default images.
    """
    folder.mkdir(parents=True, exist_ok=True)
    train = train or {n: _jpeg(i) for i, n in enumerate(TRAIN_NAMES)}
    valid = valid or {n: _jpeg(50 + i) for i, n in enumerate(VALID_NAMES)}
    inner = {f"{TRAIN_DIR}/{n}": data for n, data in train.items()}
    inner.update({f"{TRAIN_DIR}/.DS_Store": b"junk", **JUNK, **(inner_extra or {})})
    annotation = _zip_bytes({"Disc_Masks/H0001.bmp": b"BM"})
    outer = {
        f"{TRAIN_DIR}/{TRAIN_DIR}.zip": _zip_bytes(inner),
        f"{TRAIN_DIR}/{TRAIN_DIR}-Annotation-D&F.zip": annotation,
        f"{TRAIN_DIR}/{TRAIN_DIR}-Annotation-Lession.zip": annotation,
        f"__MACOSX/{TRAIN_DIR}/._{TRAIN_DIR}.zip": b"\0",
        **(outer_extra or {}),
    }
    valid = {f"{VALID_DIR}/{n}": data for n, data in valid.items()}
    valid.update({f"{VALID_DIR}/.DS_Store": b"junk", **JUNK})
    gt = {
        f"{GT_DIR}/{XLSX_NAME}": xlsx if xlsx is not None else _xlsx_bytes(),
        f"{GT_DIR}/Fovea_Location_masks/V0001.bmp": b"BM",
        f"__MACOSX/{GT_DIR}/._{XLSX_NAME}": b"\0",
    }
    for name, entries in (
        ("training.zip", outer), ("validation.zip", valid), ("valid_gt.zip", gt)
    ):
        (folder / name).write_bytes(_zip_bytes(entries))
    return folder


def leftovers(parent: Path) -> list[str]:
    """Hidden temporary folders prepare may have left next to dest."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".dest."))


@pytest.fixture
def src(tmp_path):
    return make_zips(tmp_path / "zips")


@pytest.fixture
def dest(tmp_path):
    return tmp_path / "out" / "dest"


# -- the happy path -----------------------------------------------------------


def test_layout_and_counts(src, dest, capsys):
    assert aistudio.prepare_aistudio(src, dest, progress=False) == dest
    assert sorted(p.name for p in (dest / TRAIN_DIR).iterdir()) == sorted(TRAIN_NAMES)
    assert sorted(p.name for p in (dest / VALID_DIR).iterdir()) == VALID_NAMES
    with zipfile.ZipFile(src / "valid_gt.zip") as zf:  # copied byte for byte
        assert (dest / GT_DIR / XLSX_NAME).read_bytes() == zf.read(f"{GT_DIR}/{XLSX_NAME}")
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [TRAIN_DIR, VALID_DIR, GT_DIR, aistudio.MARKER]
    )
    marker = json.loads((dest / aistudio.MARKER).read_text())
    assert marker["counts"] == {"training": {"H": 3, "N": 4, "P": 5}, "validation": 6}
    assert set(marker["sources"]) == set(aistudio.ZIP_NAMES)
    out = capsys.readouterr().out
    assert str(dest) in out and "H 3, N 4, P 5" in out and "validation 6" in out
    assert leftovers(dest.parent) == []


def test_labels_readable(src, dest):
    aistudio.prepare_aistudio(src, dest, progress=False)
    train = labels.training_samples(dest / TRAIN_DIR)
    assert sum(label for _, label in train) == 5
    valid = labels.validation_samples(dest / VALID_DIR, labels.find_label_file(dest))
    assert [label for _, label in valid] == VALID_LABELS
    image = cv2.imread(str(valid[0][0]))
    assert image.shape == (8, 8, 3)


def test_progress_bar_on_stdout(src, dest, capsys):
    aistudio.prepare_aistudio(src, dest, progress=True)
    assert "Extracting" in capsys.readouterr().out


# -- idempotence and force ----------------------------------------------------


def test_second_call_does_not_reextract(src, dest, monkeypatch, capsys):
    aistudio.prepare_aistudio(src, dest, progress=False)
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    capsys.readouterr()

    def fail(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(aistudio, "_build", fail)
    assert aistudio.prepare_aistudio(src, dest, progress=False) == dest
    assert "already prepared" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == mtimes


def test_changed_zip_needs_force(src, dest):
    aistudio.prepare_aistudio(src, dest, progress=False)
    stat = (src / "validation.zip").stat()
    os.utime(src / "validation.zip", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(FileExistsError, match="other zips.*force=True"):
        aistudio.prepare_aistudio(src, dest, progress=False)
    aistudio.prepare_aistudio(src, dest, force=True, progress=False)
    marker = json.loads((dest / aistudio.MARKER).read_text())
    assert marker["sources"] == aistudio.source_signature(src)


def test_existing_dest_without_marker(src, dest):
    dest.mkdir(parents=True)
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError) as info:
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert str(dest) in str(info.value) and "--force" in str(info.value)
    assert (dest / "mine.txt").read_text() == "keep me"


def test_force_replaces_dest(src, dest):
    dest.mkdir(parents=True)
    (dest / "stale.txt").write_text("old")
    aistudio.prepare_aistudio(src, dest, force=True, progress=False)
    assert not (dest / "stale.txt").exists()
    assert len(list((dest / TRAIN_DIR).iterdir())) == len(TRAIN_NAMES)
    assert leftovers(dest.parent) == []


# -- unsafe zips --------------------------------------------------------------


@pytest.mark.parametrize("evil", ["../evil.jpg", "/tmp/evil.jpg"])
@pytest.mark.parametrize("where", ["outer", "inner"])
def test_unsafe_entry_refused(tmp_path, dest, evil, where):
    extra = {evil: _jpeg(0)}
    src = make_zips(
        tmp_path / "zips",
        inner_extra=extra if where == "inner" else None,
        outer_extra=extra if where == "outer" else None,
    )
    before = set(tmp_path.rglob("*"))
    abs_existed = Path("/tmp/evil.jpg").exists()
    with pytest.raises(aistudio.UnsafeZipError) as info:
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert "training.zip" in str(info.value) and evil in str(info.value)
    assert not dest.exists()
    assert set(tmp_path.rglob("*")) == before | {dest.parent}
    assert leftovers(dest.parent) == []
    assert Path("/tmp/evil.jpg").exists() == abs_existed


@pytest.mark.parametrize(
    "name, safe",
    [
        ("PALM-Training400/H0001.jpg", True),
        ("a/b/../c.jpg", False),
        ("..", False),
        ("/etc/passwd", False),
        ("\\windows\\x.jpg", False),
        ("C:/x.jpg", False),
        ("c:x.jpg", False),
        ("a\\..\\b.jpg", False),
        ("..foo/bar.jpg", True),
        ("", False),
    ],
)
def test_is_safe_member(name, safe):
    assert aistudio.is_safe_member(name) is safe


# -- failures leave dest untouched -----------------------------------------------


def test_failure_in_validation_cleans_up(src, dest, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(labels, "validation_samples", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_interrupt_cleans_up_and_keeps_old_dest(src, dest, monkeypatch):
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("old")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(aistudio, "_write_marker", interrupt)
    with pytest.raises(KeyboardInterrupt):
        aistudio.prepare_aistudio(src, dest, force=True, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == ["old.txt"]
    assert leftovers(dest.parent) == []


def test_label_row_naming_missing_image(tmp_path, dest):
    xlsx = _xlsx_bytes(VALID_NAMES + ["V9999.jpg"], VALID_LABELS + [0])
    src = make_zips(tmp_path / "zips", xlsx=xlsx)
    with pytest.raises(labels.LabelError, match="V9999.jpg") as info:
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert ".dest.tmp-" not in str(info.value)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_bad_training_name(tmp_path, dest):
    src = make_zips(tmp_path / "zips", inner_extra={f"{TRAIN_DIR}/X0001.jpg": _jpeg(9)})
    with pytest.raises(labels.LabelError, match="X0001.jpg"):
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


# -- missing or broken zips -----------------------------------------------------


def test_missing_zip(src, dest):
    (src / "valid_gt.zip").unlink()
    with pytest.raises(FileNotFoundError) as info:
        aistudio.prepare_aistudio(src, dest, progress=False)
    message = str(info.value)
    assert "valid_gt.zip" in message and str(src) in message and "19065" in message
    assert "training.zip" in message  # the download hint lists all three
    assert not dest.exists()


def test_not_a_zip(src, dest):
    (src / "validation.zip").write_bytes(b"this is not a zip file")
    with pytest.raises(zipfile.BadZipFile, match="validation.zip") as info:
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert isinstance(info.value, aistudio.PrepareError)  # a ValueError for the CLI
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_damaged_entry(src, dest):
    data = bytearray((src / "validation.zip").read_bytes())
    start = data.find(_jpeg(52))  # V0003.jpg, stored uncompressed
    assert start > 0
    data[start + 100] ^= 0xFF
    (src / "validation.zip").write_bytes(bytes(data))
    with pytest.raises(aistudio.BadZipError, match="validation.zip: cannot read .*V0003.jpg"):
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_missing_nested_zip(tmp_path, dest):
    src = make_zips(tmp_path / "zips")
    with zipfile.ZipFile(src / "training.zip") as zf:
        kept = {n: zf.read(n) for n in zf.namelist() if "Annotation" in n}
    (src / "training.zip").write_bytes(_zip_bytes(kept))
    with pytest.raises(aistudio.PrepareError, match="nested zip"):
        aistudio.prepare_aistudio(src, dest, progress=False)
    assert not dest.exists()
    assert leftovers(dest.parent) == []
