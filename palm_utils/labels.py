"""Labels: training labels from file names, validation labels from the
original ``PM_Label_and_Fovea_Location.xlsx`` or an equivalent CSV.

pandas reads both formats (``openpyxl`` behind ``read_excel``), so the xlsx
the dataset ships is used as is, with no manual conversion.
"""
from __future__ import annotations

from pathlib import Path

from .layout import LABEL_COLUMNS, label_files

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
# Names that operating systems and zip tools leave behind.
_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}

# First letter of a training file name -> label (1 = pathologic myopia).
TRAIN_PREFIX_LABELS = {"P": 1, "H": 0, "N": 0}


class LabelError(ValueError):
    """A label file or file name the series cannot interpret."""


def is_image_file(path: str | Path) -> bool:
    """True for image files; False for OS litter such as ``.DS_Store``,
    ``Thumbs.db``, AppleDouble ``._x.jpg`` files or anything in ``__MACOSX``."""
    p = Path(path)
    if "__MACOSX" in p.parts or p.name.lower() in _JUNK_NAMES:
        return False
    if p.name.startswith("._") or p.name.startswith("."):
        return False
    return p.suffix.lower() in IMAGE_SUFFIXES


def label_from_filename(path: str | Path) -> int:
    """Training label from the first letter of the file name.

    ``P`` (pathologic myopia) is 1; ``H`` (high myopia) and ``N`` (normal)
    are 0. Any other name raises :class:`LabelError` naming the file.
    """
    name = Path(path).name
    label = TRAIN_PREFIX_LABELS.get(name[:1].upper()) if name else None
    if label is None:
        raise LabelError(
            f"{path}: cannot tell the label from this file name. Training images "
            "must start with P (pathologic myopia, label 1), H (high myopia, 0) "
            "or N (normal, 0); move or rename this file."
        )
    return label


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name, OS litter skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: image folder not found. Point PALM_DATA_DIR at a dataset "
            "root or run `python -m palm_utils prepare`."
        )
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def training_samples(folder: str | Path) -> list[tuple[Path, int]]:
    """(path, label) for every training image, labels from file names."""
    return [(p, label_from_filename(p)) for p in list_images(folder)]


def find_label_file(root: str | Path) -> Path:
    for candidate in label_files(Path(root)):
        if candidate.is_file():
            return candidate
    names = ", ".join(str(p) for p in label_files(Path(root)))
    raise FileNotFoundError(
        f"No validation label file under {root}; looked for {names}. Copy the "
        "dataset's PM_Label_and_Fovea_Location.xlsx there, or run "
        "`python -m palm_utils prepare`."
    )


def read_label_table(path: str | Path):
    """Read the label table (xlsx or csv) into a DataFrame and check columns."""
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
            table = pd.read_excel(path)
        else:
            table = pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for a bad file
        raise LabelError(f"{path}: cannot read this label file ({exc}).") from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("imgName", "Label") if c not in table.columns]
    if missing:
        raise LabelError(
            f"{path}: missing column(s) {missing}; expected the columns "
            f"{list(LABEL_COLUMNS)} of PM_Label_and_Fovea_Location.xlsx."
        )
    return table


def validation_samples(
    image_dir: str | Path, label_file: str | Path
) -> list[tuple[Path, int]]:
    """(path, label) for every row of the validation label file.

    Raises :class:`LabelError` naming the label file and the row when a row
    names an image that is not in ``image_dir`` or has a label other than 0/1.
    """
    image_dir, label_file = Path(image_dir), Path(label_file)
    table = read_label_table(label_file)
    samples = []
    for i, row in enumerate(table.itertuples(index=False)):
        rowno = i + 2  # 1-based, after the header row, as a spreadsheet shows it
        name = str(getattr(row, "imgName")).strip()
        raw = getattr(row, "Label")
        try:
            label = int(raw)
            ok = float(raw) == label and label in (0, 1)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise LabelError(
                f"{label_file}, row {rowno} ({name}): label {raw!r} is not 0 or 1; "
                "fix that row."
            )
        path = image_dir / name
        if not path.is_file():
            raise LabelError(
                f"{label_file}, row {rowno}: image {name} is not in {image_dir}; "
                "restore the image or delete the row."
            )
        samples.append((path, label))
    if not samples:
        raise LabelError(f"{label_file}: no rows.")
    return samples
