"""The generated stand-in dataset: the dataset writer.

When the real data is not available the series still runs end to end on
fundus-like pictures drawn by :func:`~palm_utils.datasets.fundus.render_fundus`.
Some ``H`` (high myopia) negatives show mild tessellation and some positives
only weak signs, so a small CNN learns the task but not instantly.

The folder copies the real layout, names and counts (see :mod:`palm_utils.layout`)::

    root/PALM-Training400/H0001.jpg .. N0161.jpg .. P0213.jpg
    root/PALM-Validation400/V0001.jpg .. V0400.jpg        (211 positives)
    root/PALM-Validation-GT/PM_Label_and_Fovea_Location.xlsx
    root/labels.csv                                       (same table)
    root/STANDIN.json                                     (marks generated data)

Every image has its own random generator seeded from ``(seed, split, index)``,
so all files are byte-identical for the same seed and size (and library
versions), whatever the number of worker threads.
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..atomic import atomic_dir
from .fundus import normalize_size, render_fundus
from ..layout import (
    CSV_NAME, GT_DIR, LABEL_COLUMNS, STANDIN_MARKER, TRAIN_COUNTS, TRAIN_DIR,
    VALID_COUNT, VALID_DIR, VALID_POSITIVES, XLSX_NAME,
)

GENERATOR_VERSION = 1
JPEG_QUALITY = 95
_FIXED_DATE = "2019-01-01T00:00:00Z"  # in the xlsx, instead of the time of writing

# Split keys of the per-image random generators.
_TRAIN_KEY, _VALID_KEY, _LAYOUT_KEY = 0, 1, 2


# --------------------------------------------------------------------------
# What to generate
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Item:
    """One image of the stand-in: where it goes, its class and RNG key."""

    folder: str
    name: str
    kind: str  # "P" pathologic myopia, "H" high myopia, "N" normal
    key: tuple

    @property
    def positive(self) -> bool:
        return self.kind == "P"


def _plan(seed: int) -> list[_Item]:
    """All 800 images: training in name order, then V0001..V0400.

    The 211 validation positives are placed in a seeded random order; the
    validation negatives are high myopia or normal in the training ratio.
    """
    items = []
    for kind, count in TRAIN_COUNTS.items():
        for i in range(1, count + 1):
            items.append(_Item(TRAIN_DIR, f"{kind}{i:04d}.jpg", kind, (_TRAIN_KEY, len(items))))
    rng = np.random.default_rng([seed, _LAYOUT_KEY])
    positives = set(rng.choice(VALID_COUNT, VALID_POSITIVES, replace=False).tolist())
    share_h = TRAIN_COUNTS["H"] / (TRAIN_COUNTS["H"] + TRAIN_COUNTS["N"])
    for i in range(VALID_COUNT):
        if i in positives:
            kind = "P"
        else:
            kind = "H" if rng.random() < share_h else "N"
        items.append(_Item(VALID_DIR, f"V{i + 1:04d}.jpg", kind, (_VALID_KEY, i)))
    return items


# --------------------------------------------------------------------------
# Writing the dataset
# --------------------------------------------------------------------------

def _encode_item(item: _Item, seed: int, size: tuple[int, int]) -> tuple[bytes, tuple]:
    """JPEG bytes and fovea position of one planned image."""
    rng = np.random.default_rng([seed, *item.key])
    img, fovea = render_fundus(rng, item.positive, size, high_myopia=item.kind == "H")
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {item.name}")
    return buf.tobytes(), fovea


def _write_item(folder: Path, item: _Item, seed: int, size) -> tuple[float, float]:
    """Render and save one image; return its fovea position.

    Bytes are written with Python rather than ``cv2.imwrite``, which cannot
    open paths with non-ASCII characters on Windows.
    """
    data, fovea = _encode_item(item, seed, size)
    (folder / item.folder / item.name).write_bytes(data)
    return fovea


def _write_images(folder: Path, items: list[_Item], seed: int, size, workers: int,
                  progress: bool) -> dict[str, tuple[float, float]]:
    """Render all items with a thread pool (OpenCV releases the GIL)."""
    for sub in {item.folder for item in items}:
        (folder / sub).mkdir()
    foveas = {}
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_write_item, folder, item, seed, size): item for item in items}
        with tqdm(total=len(items), desc="stand-in images", unit="img", file=sys.stdout,
                  disable=not progress) as bar:
            for future in as_completed(futures):
                foveas[futures[future].name] = future.result()
                bar.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return foveas


def _write_labels(folder: Path, items: list[_Item], foveas) -> None:
    """The validation label table as labels.csv and as the original xlsx."""
    valid = [item for item in items if item.folder == VALID_DIR]
    table = pd.DataFrame(
        [(i, item.name, int(item.positive), *foveas[item.name]) for i, item in enumerate(valid, 1)],
        columns=list(LABEL_COLUMNS),
    )
    table.to_csv(folder / CSV_NAME, index=False)
    (folder / GT_DIR).mkdir()
    _write_xlsx(table, folder / GT_DIR / XLSX_NAME)


def _write_xlsx(table: pd.DataFrame, path: Path) -> None:
    """Save ``table`` as xlsx, byte-identical for an identical table.

    openpyxl stamps the time of writing into the document properties and
    into every zip entry; both are replaced by a fixed date.
    """
    buffer = io.BytesIO()
    table.to_excel(buffer, index=False, engine="openpyxl")
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            data = src.read(entry)
            if entry.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              rb"\g<1>" + _FIXED_DATE.encode(), data)
            dst.writestr(zipfile.ZipInfo(entry.filename, (1980, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def _marker(seed: int, size: tuple[int, int]) -> dict:
    """Content of STANDIN.json."""
    return {
        "generator": "palm_utils.datasets.standin",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "size": list(size),
        "counts": {"train": dict(TRAIN_COUNTS), "valid": VALID_COUNT,
                   "valid_positives": VALID_POSITIVES},
        "note": "Generated fundus-like stand-in, not real fundus photographs.",
    }


def _read_marker(root: Path) -> dict | None:
    """The STANDIN.json of ``root``, or None when absent or unreadable."""
    try:
        return json.loads((root / STANDIN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_complete(root: Path) -> bool:
    """All 800 images and both label files are present."""
    expected = {TRAIN_DIR: sum(TRAIN_COUNTS.values()), VALID_DIR: VALID_COUNT}
    try:
        counts = {d: sum(1 for p in (root / d).iterdir() if p.suffix == ".jpg") for d in expected}
    except OSError:
        return False
    return (counts == expected and (root / CSV_NAME).is_file()
            and (root / GT_DIR / XLSX_NAME).is_file())


def _matches(root: Path, seed: int, size: tuple[int, int]) -> bool:
    """``root`` holds a complete stand-in made with this seed and size."""
    marker = _read_marker(root)
    return (marker is not None and marker.get("seed") == seed
            and marker.get("size") == list(size) and _is_complete(root))


def _check_replaceable(root: Path, seed: int, size, overwrite: bool) -> None:
    """Refuse to replace anything but an empty folder, or a stand-in when
    ``overwrite`` is set; the message names the folder and the way out."""
    if root.is_dir() and not any(root.iterdir()):
        return
    if not root.is_dir():
        raise FileExistsError(
            f"{root} exists and is not a folder; remove it or choose another path."
        )
    marker = _read_marker(root)
    if marker is None:
        raise FileExistsError(
            f"{root} exists and is not a generated stand-in (no {STANDIN_MARKER}); it is "
            "left untouched. Choose another folder for the stand-in."
        )
    if not overwrite:
        raise FileExistsError(
            f"{root} holds another or incomplete stand-in (seed {marker.get('seed')}, size "
            f"{marker.get('size')}; asked for seed {seed}, size {list(size)}). Pass "
            "overwrite=True (`python -m palm_utils synth --force`) to replace it, or "
            "choose another folder."
        )


def generate_standin(root, seed: int = 0, size=224, overwrite: bool = False,
                     workers: int | None = None, progress: bool = True) -> Path:
    """Generate the stand-in dataset at ``root`` and return ``root``.

    ``size`` is an int (square) or ``(width, height)``, e.g. ``(2124, 2056)``
    for images at the original resolution. The result is deterministic in
    ``seed`` and ``size``. If ``root`` already holds a complete stand-in of
    this seed and size it is returned at once. An existing stand-in of
    another seed or size is replaced only with ``overwrite=True``; any other
    existing content raises :class:`FileExistsError` naming it.

    The data is written to a hidden temporary folder next to ``root`` and
    renamed into place when complete, so an interrupted run leaves nothing
    at ``root``. ``workers`` threads render the images (default: one per
    CPU core, at most 8); ``progress`` shows a progress bar.
    """
    root = Path(root).expanduser().absolute()
    size = normalize_size(size)
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    if not overwrite and _matches(root, seed, size):
        return root
    if root.exists():
        _check_replaceable(root, seed, size, overwrite)
    items = _plan(seed)
    workers = workers or min(8, os.cpu_count() or 1)
    try:
        with atomic_dir(root) as build:
            foveas = _write_images(build, items, seed, size, workers, progress)
            _write_labels(build, items, foveas)
            marker = json.dumps(_marker(seed, size), indent=2)
            (build / STANDIN_MARKER).write_text(marker, encoding="utf-8")
    except OSError:
        if not _matches(root, seed, size):
            raise
        # Another process finished the same stand-in first: use that one.
    return root
