"""Turn the three AI Studio zips of iChallenge-PM (PALM) into a dataset root.

On Baidu AI Studio, dataset 19065 is mounted as three zips in one folder::

    training.zip    PALM-Training400/PALM-Training400.zip   (a zip in the zip:
                                                             the 400 images)
                    PALM-Training400/...-Annotation-*.zip   (ignored)
    validation.zip  PALM-Validation400/V0001.jpg ... V0400.jpg
    valid_gt.zip    PALM-Validation-GT/PM_Label_and_Fovea_Location.xlsx
                    PALM-Validation-GT/... masks            (ignored)

:func:`prepare_aistudio` writes the layout of :mod:`palm_utils.layout`::

    <dest>/PALM-Training400/*.jpg
    <dest>/PALM-Validation400/*.jpg
    <dest>/PALM-Validation-GT/PM_Label_and_Fovea_Location.xlsx
    <dest>/PREPARED.json          (where it came from; written last)

It is safe (no zip entry can write outside ``dest``), atomic (everything is
built in a temporary sibling folder and renamed into place, so ``dest`` is
either complete or untouched) and idempotent (a second call with the same
zips returns at once).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from .. import labels
from ..atomic import atomic_dir
from ..layout import (
    AISTUDIO_ZIPS as ZIP_NAMES, GT_DIR, GT_ZIP, TRAIN_DIR, TRAINING_ZIP, VALID_DIR, VALIDATION_ZIP,
    XLSX_NAME,
)

MARKER = "PREPARED.json"

_DRIVE = re.compile(r"^[A-Za-z]:")
_COPY_CHUNK = 1 << 20


class UnsafeZipError(ValueError):
    """A zip entry that would be written outside the destination folder."""


class PrepareError(ValueError):
    """The zips do not hold what the AI Studio release should hold."""


class BadZipError(PrepareError, zipfile.BadZipFile):
    """A source zip that is damaged or not a zip at all (catchable both as
    :class:`PrepareError` and as :class:`zipfile.BadZipFile`)."""


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def is_safe_member(name: str) -> bool:
    """True when the zip entry ``name`` stays inside the folder it is
    extracted to: not absolute (``/x``, ``\\x``), no drive letter (``C:``)
    and no ``..`` component. Both ``/`` and ``\\`` count as separators."""
    if not name or "\0" in name or name.startswith(("/", "\\")):
        return False
    return not any(part == ".." or _DRIVE.match(part) for part in _parts(name))


def prepare_aistudio(
    src_dir: str | Path, dest: str | Path, force: bool = False, progress: bool = True
) -> Path:
    """Unpack the AI Studio zips in ``src_dir`` into the dataset root ``dest``.

    Returns ``dest``. If ``dest`` already holds a ``PREPARED.json`` made from
    the same zips (names, sizes, modification times), nothing is done. If
    ``dest`` exists otherwise, :class:`FileExistsError` is raised unless
    ``force`` is true, in which case it is replaced once the new copy is
    complete.

    Raises :class:`FileNotFoundError` for a missing zip,
    :class:`BadZipError` (a :class:`zipfile.BadZipFile`) for a damaged zip,
    :class:`UnsafeZipError` for an entry that would escape the destination,
    :class:`PrepareError` for zips without the expected content and
    :class:`palm_utils.labels.LabelError` when the labels do not match the
    images. In every error case ``dest`` is left as it was.
    """
    src_dir, dest = Path(src_dir).expanduser(), Path(dest).expanduser()
    sources = source_signature(src_dir)
    if not force and is_prepared(dest, sources):
        print(f"{dest} is already prepared from the zips in {src_dir}; nothing to do.")
        return dest
    _refuse_existing(dest, force)

    with atomic_dir(dest) as build:
        counts = _build(src_dir, build, progress)
        _write_marker(build, src_dir, sources, counts)
    print(f"Prepared {dest}: {_describe(counts)}.")
    return dest


def source_signature(src_dir: Path) -> dict:
    """Name -> {size, mtime_ns} of the three zips; raises a helpful
    :class:`FileNotFoundError` when any of them is missing."""
    missing = [name for name in ZIP_NAMES if not (src_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Missing {', '.join(missing)} in {src_dir}. On AI Studio, mount "
            "dataset 19065 (iChallenge-PM) to the project; elsewhere, download "
            f"{', '.join(ZIP_NAMES)} into {src_dir} (or point PALM_AISTUDIO_DIR "
            "at the folder that holds them)."
        )
    signature = {}
    for name in ZIP_NAMES:
        stat = (src_dir / name).stat()
        signature[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return signature


def is_prepared(dest: Path, sources: dict) -> bool:
    """True when ``dest/PREPARED.json`` records exactly these source zips."""
    try:
        marker = json.loads((Path(dest) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("sources") == sources


# --------------------------------------------------------------------------
# Steps of prepare_aistudio
# --------------------------------------------------------------------------


def _refuse_existing(dest: Path, force: bool) -> None:
    """Raise unless ``dest`` is free or ``force`` allows replacing it."""
    if force or not (dest.exists() or dest.is_symlink()):
        return
    why = (
        "was prepared from other zips"
        if (dest / MARKER).is_file()
        else f"exists but has no {MARKER} from this tool"
    )
    raise FileExistsError(
        f"{dest} {why}. Pass force=True (or `--force` on the command line) to "
        "replace it, or choose another destination."
    )


def _build(src_dir: Path, build: Path, progress: bool) -> dict:
    """Check and extract all three zips into ``build``; return the counts.

    Every entry name is checked before any file is extracted; the nested
    training zip is first copied into ``build`` (it can be large) and deleted
    once its images are out.
    """
    with _open_zip(src_dir / TRAINING_ZIP, TRAINING_ZIP) as training, \
            _open_zip(src_dir / VALIDATION_ZIP, VALIDATION_ZIP) as validation, \
            _open_zip(src_dir / GT_ZIP, GT_ZIP) as gt:
        for zf, label in ((training, TRAINING_ZIP), (validation, VALIDATION_ZIP), (gt, GT_ZIP)):
            _check_members(zf, label)
        inner_name = _find_training_zip(training)
        xlsx_name = _find_label_file(gt)
        valid_names = _image_members(validation, VALIDATION_ZIP)

        inner_label = f"{TRAINING_ZIP}:{inner_name}"
        inner_path = build / ".training-inner.zip"
        _copy_member(training, TRAINING_ZIP, inner_name, inner_path)
        with _open_zip(inner_path, inner_label) as inner:
            _check_members(inner, inner_label)
            train_names = _image_members(inner, inner_label)
            with tqdm(
                total=len(train_names) + len(valid_names), desc="Extracting",
                unit="img", file=sys.stdout, disable=not progress,
            ) as bar:
                _extract_flat(inner, inner_label, train_names, build / TRAIN_DIR, bar)
                _extract_flat(validation, VALIDATION_ZIP, valid_names, build / VALID_DIR, bar)
        inner_path.unlink()
        _copy_member(gt, GT_ZIP, xlsx_name, build / GT_DIR / XLSX_NAME)
    return _validate(build)


def _open_zip(path: Path, label: str) -> zipfile.ZipFile:
    """Open a zip; a damaged one raises :class:`BadZipError` naming it."""
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise BadZipError(
            f"{label} ({path}) is not a valid zip file ({exc}); it is probably "
            "truncated or damaged. Download or mount it again."
        ) from exc


def _check_members(zf: zipfile.ZipFile, label: str) -> None:
    """Raise :class:`UnsafeZipError` naming ``label`` and the first entry of
    ``zf`` that could be written outside the destination folder."""
    for name in zf.namelist():
        if not is_safe_member(name):
            raise UnsafeZipError(
                f"{label}: unsafe entry {name!r} (absolute path, drive letter or "
                "'..'); refusing to extract anything from these zips."
            )


def _is_junk(name: str) -> bool:
    """True for macOS/Windows litter inside a zip (``__MACOSX/``, ``._x``)."""
    return "__MACOSX" in _parts(name) or _parts(name)[-1].startswith(".")


def _find_training_zip(training: zipfile.ZipFile) -> str:
    """Name of the nested zip of training images inside ``training.zip``:
    the one zip entry that is not an annotation zip nor OS litter."""
    zips = [
        n for n in training.namelist()
        if n.lower().endswith(".zip") and not _is_junk(n)
    ]
    images = [n for n in zips if "annotation" not in _basename(n).lower()]
    if len(images) != 1:
        raise PrepareError(
            f"{TRAINING_ZIP}: expected one nested zip of training images (like "
            f"{TRAIN_DIR}/{TRAIN_DIR}.zip) besides the annotation zips, found "
            f"{images or 'none'} among {zips or 'no zips'}. Is this the "
            "training.zip of AI Studio dataset 19065?"
        )
    return images[0]


def _find_label_file(gt: zipfile.ZipFile) -> str:
    """Name of ``PM_Label_and_Fovea_Location.xlsx`` inside ``valid_gt.zip``."""
    found = [
        n for n in gt.namelist()
        if not _is_junk(n) and _basename(n).lower() == XLSX_NAME.lower()
    ]
    if len(found) != 1:
        raise PrepareError(
            f"{GT_ZIP}: expected one {XLSX_NAME}, found {found or 'none'}."
        )
    return found[0]


def _image_members(zf: zipfile.ZipFile, label: str) -> list[str]:
    """Image entries of ``zf`` (OS litter skipped), checked for clashing
    file names since all are extracted into one flat folder."""
    names = [
        n for n in zf.namelist()
        if not n.endswith("/") and labels.is_image_file(n.replace("\\", "/"))
    ]
    if not names:
        raise PrepareError(f"{label}: no images found in this zip.")
    seen = {}
    for name in names:
        base = _basename(name)
        if base in seen:
            raise PrepareError(
                f"{label}: two images named {base} ({seen[base]} and {name})."
            )
        seen[base] = name
    return names


def _parts(name: str) -> list[str]:
    """Components of a zip entry name; ``/`` and ``\\`` both separate."""
    return re.split(r"[/\\]", name)


def _basename(name: str) -> str:
    """Last component of a zip entry name."""
    return _parts(name)[-1]


def _extract_flat(
    zf: zipfile.ZipFile, label: str, names: list[str], folder: Path, bar
) -> None:
    """Write each entry of ``names`` into ``folder`` under its base name."""
    for name in names:
        _copy_member(zf, label, name, folder / _basename(name))
        bar.update(1)


def _copy_member(zf: zipfile.ZipFile, label: str, name: str, target: Path) -> None:
    """Stream one zip entry to ``target`` (a path computed by this module,
    never taken from the zip), creating parent folders. A damaged entry
    raises :class:`BadZipError` naming the zip ``label`` and the entry."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zf.open(name) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise BadZipError(
            f"{label}: cannot read {name} ({exc}); the zip is damaged. "
            "Download or mount it again."
        ) from exc


def _validate(build: Path) -> dict:
    """Check the labels of the built tree and return the image counts.

    A :class:`~palm_utils.labels.LabelError` is re-raised with paths shown
    relative to the dataset root, since the temporary folder will be gone.
    """
    try:
        train = labels.training_samples(build / TRAIN_DIR)
        valid = labels.validation_samples(build / VALID_DIR, build / GT_DIR / XLSX_NAME)
    except labels.LabelError as exc:
        message = str(exc).replace(f"{build}{os.sep}", "")
        raise labels.LabelError(
            f"The zips do not form a valid PALM dataset: {message}"
        ) from exc
    per_letter = {letter: 0 for letter in labels.TRAIN_PREFIX_LABELS}
    for path, _ in train:
        per_letter[path.name[0].upper()] += 1
    return {"training": dict(sorted(per_letter.items())), "validation": len(valid)}


def _write_marker(build: Path, src_dir: Path, sources: dict, counts: dict) -> None:
    """Record where the data came from; the last file written to ``build``."""
    marker = {
        "source_dir": str(src_dir),
        "sources": sources,
        "counts": counts,
        "prepared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (build / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _describe(counts: dict) -> str:
    """One-line summary of the counts, e.g. ``training 400 (H 26, ...)``."""
    train = counts["training"]
    letters = ", ".join(f"{k} {v}" for k, v in train.items())
    return (
        f"training {sum(train.values())} ({letters}), "
        f"validation {counts['validation']}"
    )
