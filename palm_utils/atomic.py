"""Atomic writes: a file or a whole folder appears complete or not at all.

- :func:`atomic_write_bytes` / :func:`atomic_write_json`: one file, written
  to a temporary name in the same folder, flushed to disk, then renamed over
  the target (``os.replace`` is atomic), so an interrupted save leaves the
  previous file intact. Checkpoints and histories use these.
- :func:`atomic_dir`: a folder (a prepared dataset, the stand-in) is built
  in a hidden sibling and swapped into place only when everything in it was
  written; on any error, Ctrl-C included, the build is deleted and the old
  folder is left as it was.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, obj) -> Path:
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True)
    return atomic_write_bytes(path, text.encode("utf-8"))


def replace_dir(build: Path, dest: Path) -> None:
    """Rename the finished folder ``build`` to ``dest``. An existing ``dest``
    is first moved aside, restored if the rename fails, and deleted only
    after the new folder is in place."""
    if not (dest.exists() or dest.is_symlink()):
        os.replace(build, dest)
        return
    aside = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-"))
    old = aside / dest.name
    try:
        os.replace(dest, old)
    except BaseException:
        aside.rmdir()
        raise
    try:
        os.replace(build, dest)
    except BaseException:
        os.replace(old, dest)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(dest: str | Path):
    """Build a folder atomically::

        with atomic_dir(dest) as build:
            ...write everything into build...

    ``build`` is a fresh hidden folder next to ``dest`` (same file system).
    When the block ends normally it replaces ``dest`` (:func:`replace_dir`);
    whatever happens, the build folder is gone afterwards.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    try:
        yield build
        replace_dir(build, dest)
    finally:
        shutil.rmtree(build, ignore_errors=True)
