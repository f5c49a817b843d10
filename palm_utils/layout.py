"""The on-disk layout of a PALM dataset root, shared by every module.

A dataset root looks like the AI Studio release once unzipped::

    <root>/PALM-Training400/H0001.jpg ... N0001.jpg ... P0001.jpg
    <root>/PALM-Validation400/V0001.jpg ... V0400.jpg
    <root>/PALM-Validation-GT/PM_Label_and_Fovea_Location.xlsx   (original)
    <root>/labels.csv                                             (or this)

A generated stand-in additionally holds ``STANDIN.json``.
"""
from __future__ import annotations

from pathlib import Path

TRAIN_DIR = "PALM-Training400"
VALID_DIR = "PALM-Validation400"
GT_DIR = "PALM-Validation-GT"
XLSX_NAME = "PM_Label_and_Fovea_Location.xlsx"
CSV_NAME = "labels.csv"
STANDIN_MARKER = "STANDIN.json"

# AI Studio dataset 19065: the three zips, as mounted in one folder.
TRAINING_ZIP = "training.zip"
VALIDATION_ZIP = "validation.zip"
GT_ZIP = "valid_gt.zip"
AISTUDIO_ZIPS = (TRAINING_ZIP, VALIDATION_ZIP, GT_ZIP)

LABEL_COLUMNS = ("ID", "imgName", "Label", "Fovea_X", "Fovea_Y")

# Counts of the real release (and of the stand-in, which copies them).
TRAIN_COUNTS = {"H": 26, "N": 161, "P": 213}
VALID_COUNT = 400
VALID_POSITIVES = 211


def label_files(root: Path) -> list[Path]:
    """Candidate validation label files under ``root``, preferred first."""
    root = Path(root)
    return [
        root / GT_DIR / XLSX_NAME,
        root / XLSX_NAME,
        root / CSV_NAME,
        root / GT_DIR / CSV_NAME,
    ]


def looks_like_dataset(root: Path) -> bool:
    """Cheap check: both image folders exist and some label file is there."""
    root = Path(root)
    return (
        (root / TRAIN_DIR).is_dir()
        and (root / VALID_DIR).is_dir()
        and any(p.is_file() for p in label_files(root))
    )
