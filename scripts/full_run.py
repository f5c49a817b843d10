#!/usr/bin/env python
"""Full runs of chapters on the real data, stored as the chapters' outputs.

    python scripts/full_run.py 01 02 ...     (default: every chapter, in order)

Each chapter is executed in place, without quick mode, on the real data in
``../shared/data`` (PALM downsized to 224x224 and full MNIST; override with
PALM_DATA_DIR / PALM_MNIST_DIR), then cleaned as ``scripts/notebooks.py run``
does. Afterwards the ``history.json`` of every run the chapter saved
(``notebooks/checkpoints/<run>/``, the runs of ``palm_utils.results.RUNS``)
replaces ``results/full-run/<run>/history.json``, which the book's
leaderboard reads. A chapter whose cell fails stops the script with exit 1;
its notebook keeps the error, and nothing of it is copied. Before a
chapter runs, the checkpoint folders of its own runs are removed, so a
table it prints before training a run cannot show an earlier execution's.

Run it on an otherwise idle machine: the epoch times it stores are read as
the networks' costs.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import notebooks as nbtool  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def main(argv=None) -> int:
    from palm_utils.results import RUNS

    os.environ.pop("PALM_QUICK", None)
    os.environ.setdefault("PALM_DATA_DIR", str(SHARED / "palm224"))
    os.environ.setdefault("PALM_MNIST_DIR", str(SHARED / "mnist"))
    for variable in ("PALM_DATA_DIR", "PALM_MNIST_DIR"):
        if not Path(os.environ[variable]).is_dir():
            sys.exit(f"{os.environ[variable]} (from {variable}) is not a folder: a full run needs the real data.")
    for path in nbtool.select(list(argv if argv is not None else sys.argv[1:])):
        chapter = int(path.name[:2])
        runs = [run for run, info in RUNS.items() if info.chapter == chapter]
        for run in runs:  # a run left by an earlier execution would show in the tables
            # the chapter prints before it trains that run again
            shutil.rmtree(REPO / "notebooks" / "checkpoints" / run, ignore_errors=True)
        print(f"{path.name}: full run started {time.strftime('%H:%M:%S')}", flush=True)
        try:
            seconds = nbtool.run(path, timeout=None)  # stores the outputs, the error too
        except Exception:  # nbclient's CellExecutionError: reported from the notebook below
            seconds = None
        error = nbtool.first_error(nbformat.read(path, as_version=4))
        if error or seconds is None:
            where = f"cell {error[0]} failed: {error[1]}" if error else "the kernel failed"
            print(f"{path.name}: {where}", file=sys.stderr)
            return 1
        copied = []
        for run in runs:
            history = REPO / "notebooks" / "checkpoints" / run / "history.json"
            if history.is_file():
                target = REPO / "results" / "full-run" / run / "history.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(history, target)
                copied.append(run)
        print(f"{path.name}: done in {seconds / 60:.1f} min; histories: {', '.join(copied) or 'none'}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
