"""Finding the data: one function every notebook calls.

:func:`find_dataset` looks, in order, at

1. an explicit path;
2. the ``PALM_DATA_DIR`` environment variable;
3. the prepared folder under ``data/`` (``python -m palm_utils prepare``);
4. the AI Studio zips at ``/home/aistudio/data/data19065/``, prepared on
   first use;
5. otherwise the generated stand-in, with a one-line notice.

and reports what it found: where, how many images per class, and whether the
data is real or the stand-in.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..labels import find_label_file, list_images, read_label_table
from ..layout import AISTUDIO_ZIPS, STANDIN_MARKER, TRAIN_DIR, VALID_DIR, looks_like_dataset


@dataclass
class DatasetInfo:
    root: Path
    source: str
    standin: bool
    train_counts: dict = field(default_factory=dict)
    valid_counts: dict = field(default_factory=dict)

    @property
    def train_dir(self) -> Path:
        return self.root / TRAIN_DIR

    @property
    def valid_dir(self) -> Path:
        return self.root / VALID_DIR

    @property
    def label_file(self) -> Path:
        return find_label_file(self.root)

    @property
    def display_root(self) -> str:
        """The root as shown to people: relative or ``~``-based, never a
        machine-specific absolute path when it can be avoided."""
        if self.source == config.ENV_DATA:
            return f"${config.ENV_DATA}"
        return display_path(self.root)

    def summary(self) -> str:
        kind = "STAND-IN (generated, not real photographs)" if self.standin else "real PALM data"
        tc = self.train_counts
        vc = self.valid_counts
        return (
            f"Data: {kind} at {self.display_root} (found via {self.source})\n"
            f"  train: {sum(tc.values())} images (H {tc.get('H', 0)}, N {tc.get('N', 0)}, "
            f"P {tc.get('P', 0)}; label 1 = P: {tc.get('P', 0)})\n"
            f"  valid: {sum(vc.values())} images (label 1: {vc.get(1, 0)}, label 0: {vc.get(0, 0)})"
        )

    def __str__(self) -> str:
        return self.summary()


def display_path(path: Path) -> str:
    path = Path(path).resolve()
    for base, shown in ((Path.cwd(), None), (Path.home(), "~")):
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        return str(rel) if shown is None else f"{shown}/{rel}"
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _count(root: Path, source: str) -> DatasetInfo:
    train = Counter(p.name[:1].upper() for p in list_images(root / TRAIN_DIR))
    table = read_label_table(find_label_file(root))
    valid = Counter(int(v) for v in table["Label"])
    return DatasetInfo(root=Path(root), source=source,
                       standin=(Path(root) / STANDIN_MARKER).is_file(),
                       train_counts=dict(sorted(train.items())),
                       valid_counts=dict(sorted(valid.items())))


def _require_dataset(root: Path, what: str) -> Path:
    root = Path(root).expanduser()
    if not looks_like_dataset(root):
        raise FileNotFoundError(
            f"{root} (from {what}) is not a PALM dataset root: it needs "
            f"{TRAIN_DIR}/, {VALID_DIR}/ and PM_Label_and_Fovea_Location.xlsx or "
            "labels.csv. Fix the path, or run `python -m palm_utils prepare` on the "
            "AI Studio zips."
        )
    return root


def find_dataset(path: str | Path | None = None, verbose: bool = True,
                 seed: int = 0) -> DatasetInfo:
    """Locate the PALM data (see module docstring for the order)."""
    if path is not None:
        info = _count(_require_dataset(Path(path), "the path given"), "explicit path")
    elif os.environ.get(config.ENV_DATA):
        info = _count(_require_dataset(Path(os.environ[config.ENV_DATA]), config.ENV_DATA),
                      config.ENV_DATA)
    elif looks_like_dataset(config.prepared_dir()):
        info = _count(config.prepared_dir(), "prepared folder")
    elif all((config.aistudio_dir() / z).is_file() for z in AISTUDIO_ZIPS):
        from .aistudio import prepare_aistudio

        root = prepare_aistudio(config.aistudio_dir(), config.prepared_dir())
        info = _count(root, "AI Studio zips")
    else:
        from .standin import generate_standin

        root = config.standin_dir()
        if verbose:
            print(f"No PALM dataset found: using the generated stand-in at {display_path(root)} "
                  f"(set {config.ENV_DATA} to use real data).")
        generate_standin(root, seed=seed, progress=False)
        info = _count(root, "stand-in")
    if verbose:
        print(info.summary())
    global _found
    _found = info
    return info


_found: DatasetInfo | None = None


def current_dataset() -> DatasetInfo | None:
    """The dataset the last :func:`find_dataset` call found in this process,
    or None before any call."""
    return _found


def default_dataset() -> DatasetInfo:
    """The dataset found by :func:`find_dataset` with no arguments, looked up
    once per process (the loaders' default when none is passed)."""
    return _found if _found is not None else find_dataset()
