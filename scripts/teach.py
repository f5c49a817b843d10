#!/usr/bin/env python
"""For instructors: the chapters' student edition, and a grader.

    python scripts/teach.py edition [--out student] [NAME ...]
    python scripts/teach.py grade SUBMISSIONS [--out scores.csv] [--timeout 300]

``edition`` writes a student edition of the chapters (default: every
chapter, into ``student/`` at the checkout's root, beside ``notebooks/``, so
that a chapter's first cell finds ``palm_utils`` one folder up as it does
in ``notebooks/``): each answer is replaced by a stub, the folded answers
(``<details>`` blocks whose summary says 答案) are removed, the stored
outputs of answer and check cells are cleared, and the check cells are
locked in Jupyter. Nothing else changes, and nothing new is needed to run
it: the checks are ordinary cells calling :mod:`palm_utils.checks`.

``grade`` runs every submitted chapter under ``SUBMISSIONS/<student>/``
(a chapter is known by its file name's two digits, ``05_resnet.ipynb`` or
``05.ipynb``) in quick mode on the stand-in data, in a fresh folder, each
cell with a time limit, and writes one CSV row per student and exercise.
Before running, the check cells are put back as the chapter has them, so an
edited or deleted check does not change a score. An exercise scores its
points when its check cell ran without an error; a cell that fails or runs
out of time scores zero for its exercise, and the cells after it still run.

The markup is nbgrader's (cell metadata ``nbgrader``, answers between
``### BEGIN SOLUTION`` and ``### END SOLUTION``), so the chapters also work
in nbgrader's own course workflow; this script uses nbgrader's
preprocessors for the edition and its rule for scoring a check cell, and
nbclient to run the submissions.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = REPO / "notebooks"
KERNEL = "python3"
#: the folded answers of the chapters' exercises
ANSWER = re.compile(r"\n?[ \t]*<details><summary>[^<]*答案[^<]*</summary>.*?</details>[ \t]*\n?", re.S)
STUB = "# 在这里写你的代码\nraise NotImplementedError()"
FIELDS = ["student", "chapter", "exercise", "points", "max_points", "status"]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_check(cell) -> bool:
    return cell.cell_type == "code" and bool(_nbgrader(cell).get("grade"))


def is_answer(cell) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def checks_of(nb) -> dict:
    """``grade_id`` -> check cell, in the notebook's order."""
    return {_nbgrader(c)["grade_id"]: c for c in nb.cells if is_check(c)}


def exercise_of(grade_id: str) -> str:
    """``check-5.2`` -> ``5.2``."""
    return grade_id.split("-", 1)[-1]


def chapter_number(path: Path) -> str | None:
    m = re.match(r"(\d\d)(?:_|\.ipynb$)", path.name)
    return m.group(1) if m else None


def find_chapter(number: str, chapters: Path = CHAPTERS) -> Path:
    found = sorted(chapters.glob(f"{number}_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no chapter {number}_*.ipynb in {chapters}")
    return found[0]


# --------------------------------------------------------------- edition
def student_edition(nb):
    """The student edition of chapter ``nb`` (a copy; ``nb`` is unchanged)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, LockCells

    nb = nbformat.from_dict(nb)   # a deep copy
    resources = {}
    clear = ClearSolutions(code_stub={"python": STUB}, enforce_metadata=True)
    for step in (clear, ClearHiddenTests(enforce_metadata=True),
                 LockCells(lock_grade_cells=True, lock_solution_cells=False, lock_readonly_cells=True)):
        nb, resources = step.preprocess(nb, resources)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = ANSWER.sub("\n", cell.source)
        elif is_answer(cell) or is_check(cell):
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_edition(names: list[str], out: Path, chapters: Path = CHAPTERS) -> list[Path]:
    from palm_utils.atomic import atomic_write_bytes

    sys.path.insert(0, str(REPO / "scripts"))
    import notebooks as nbtool

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(chapters.glob("*.ipynb")):
        if names and not any(path.name.startswith(n) for n in names):
            continue
        nb = student_edition(nbformat.read(path, as_version=4))
        nbtool.clean(nb)
        target = out / path.name
        atomic_write_bytes(target, (nbformat.writes(nb) + "\n").encode("utf-8"))
        written.append(target)
    if (chapters / "img").is_dir():
        shutil.copytree(chapters / "img", out / "img", dirs_exist_ok=True)
    return written


# ----------------------------------------------------------------- grade
def restore_checks(submitted, chapter) -> list[str]:
    """Put the chapter's check cells back into ``submitted`` (in place), each
    where the submission has it, or after the answer cell it follows in the
    chapter if the student deleted it. Returns the check ids it had to add."""
    wanted = checks_of(chapter)
    added = []
    for i, cell in enumerate(submitted.cells):
        gid = _nbgrader(cell).get("grade_id")
        if gid in wanted:
            submitted.cells[i] = nbformat.from_dict(wanted[gid])
            submitted.cells[i].outputs = []
    present = set(checks_of(submitted))
    for gid, cell in wanted.items():
        if gid in present:
            continue
        before = _before(chapter, gid)
        index = next((i + 1 for i, c in enumerate(submitted.cells)
                      if before and _nbgrader(c).get("grade_id") == before), len(submitted.cells))
        fresh = nbformat.from_dict(cell)
        fresh.outputs = []
        submitted.cells.insert(index, fresh)
        added.append(gid)
    return added


def _before(chapter, gid: str) -> str | None:
    """The ``grade_id`` of the last nbgrader cell before check ``gid``."""
    last = None
    for cell in chapter.cells:
        this = _nbgrader(cell).get("grade_id")
        if this == gid:
            return last
        last = this or last
    return last


def run_submission(nb, workdir: Path, timeout: int, env: dict | None = None,
                   limit: float | None = None) -> str | None:
    """Execute ``nb`` in place in ``workdir``: errors are kept in the cells'
    outputs and a cell running past ``timeout`` seconds is interrupted
    (KeyboardInterrupt), the cells after it still running. A run still going
    after ``limit`` seconds (default 2 * timeout + 20 per code cell, but at least
    the cells' time limits: a loop that catches the interrupt) has its kernel
    killed, and the cells not run score nothing.
    Returns what stopped the run early (the kernel died or was killed), else None."""
    import threading
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="palm-kernel-") as sockets:
        config = Config()
        if os.name == "posix":   # local sockets: nothing listens on the network
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = os.path.join(sockets, "kernel")
        # nbclient's own (asynchronous) kernel manager: it can interrupt a cell
        client = NotebookClient(nb, kernel_name=KERNEL, timeout=timeout, interrupt_on_timeout=True,
                                allow_errors=True, record_timing=True, config=config,
                                resources={"metadata": {"path": str(workdir)}})
        cells = sum(c.cell_type == "code" for c in nb.cells)
        killed = threading.Event()

        def kill():
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                killed.set()
                process.kill()

        watchdog = threading.Timer(limit if limit is not None else cells * (2 * timeout + 20), kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            client.execute(**({"env": env} if env else {}))
        except DeadKernelError as exc:
            if killed.is_set():
                return "stopped: the notebook ran past its time limit"
            return f"the kernel died ({str(exc).splitlines()[0] if str(exc) else 'no message'})"
        finally:
            watchdog.cancel()
    return None


def score(nb, chapter_nb, problem: str | None = None) -> list[dict]:
    """One row per check of the chapter: points, and why not full."""
    from nbgrader.utils import determine_grade

    ran = checks_of(nb)
    rows = []
    for gid, original in checks_of(chapter_nb).items():
        cell = ran.get(gid)
        max_points = float(_nbgrader(original)["points"])
        if cell is None:
            rows.append(dict(exercise=exercise_of(gid), points=0.0, max_points=max_points, status="missing"))
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "shell.execute_reply" not in cell.metadata.get("execution", {}):   # never finished
            status, points = (f"not run: {problem}" if problem else "not run"), 0.0
        else:
            points = float(determine_grade(cell)[0] or 0.0)
            status = "passed" if points == max_points else _why(errors, cell)
        rows.append(dict(exercise=exercise_of(gid), points=points, max_points=max_points, status=status))
    return rows


def _why(errors, cell) -> str:
    if errors:
        e = errors[0]
        if e.ename == "KeyboardInterrupt":
            return "timed out (interrupted)"
        return f"{e.ename}: {e.evalue.splitlines()[0] if e.evalue else ''}"[:300]
    if any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs):
        return "wrote to stderr"
    return "partial credit"


#: the checkout's folders of stored outputs that chapters read from ``..``
STORED_FOLDERS = ("results", "docs")


def working_folder(base: Path) -> Path:
    """A fresh folder to run a notebook in, laid out as ``notebooks/`` is
    in the checkout: ``base/results`` and ``base/docs`` are the checkout's
    (chapters read stored runs from ``../results`` and chapter 8 the
    benchmark report from ``../docs``)."""
    folder = base / "notebook"
    folder.mkdir(parents=True, exist_ok=True)
    for name in STORED_FOLDERS:
        link = base / name
        if not link.exists():
            try:
                link.symlink_to(REPO / name, target_is_directory=True)
            except OSError:   # no symlinks (Windows without the privilege): a copy
                shutil.copytree(REPO / name, link)
    return folder


def quick_env() -> dict:
    """The environment a submission runs in: quick mode, offline, and this
    checkout's palm_utils importable from anywhere."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PALM_QUICK": "1", "PALM_OFFLINE": "1", "PYTHONPATH": path}


def grade_one(path: Path, timeout: int, chapters: Path = CHAPTERS) -> list[dict]:
    number = chapter_number(path)
    chapter_nb = nbformat.read(find_chapter(number, chapters), as_version=4)
    try:
        submitted = nbformat.read(path, as_version=4)
    except Exception as exc:  # not a notebook: every exercise scores zero
        why = f"unreadable notebook ({type(exc).__name__})"
        return [dict(exercise=exercise_of(g), points=0.0, max_points=float(_nbgrader(c)["points"]),
                     status=why) for g, c in checks_of(chapter_nb).items()]
    restore_checks(submitted, chapter_nb)
    with tempfile.TemporaryDirectory(prefix="palm-grade-") as work:
        problem = run_submission(submitted, working_folder(Path(work)), timeout, quick_env())
    return score(submitted, chapter_nb, problem)


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, notebook) for every ``folder/<student>/**/NN*.ipynb``."""
    found = []
    for student in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(student.rglob("*.ipynb")):
            if chapter_number(path) and ".ipynb_checkpoints" not in path.parts:
                found.append((student.name, path))
    return found


def grade(folder: Path, out: Path, timeout: int = 300, chapters: Path = CHAPTERS, log=print) -> list[dict]:
    from palm_utils.atomic import atomic_write_bytes

    rows = []
    for student, path in submissions(folder):
        t0 = time.perf_counter()
        got = grade_one(path, timeout, chapters)
        for row in got:
            rows.append({"student": student, "chapter": chapter_number(path), **row})
        total = sum(r["points"] for r in got)
        log(f"{student} {path.name}: {total:g} of {sum(r['max_points'] for r in got):g} points "
            f"({time.perf_counter() - t0:.0f} s)")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "points": f"{row['points']:g}", "max_points": f"{row['max_points']:g}"})
    atomic_write_bytes(out, text.getvalue().encode("utf-8"))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/teach.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ed = sub.add_parser("edition", help="write the student edition")
    ed.add_argument("names", nargs="*", help="chapters (file names or prefixes such as 05; default all)")
    ed.add_argument("--out", type=Path, default=REPO / "student", help="folder (default student/)")
    gr = sub.add_parser("grade", help="grade a folder of submissions into a CSV")
    gr.add_argument("folder", type=Path, help="SUBMISSIONS/<student>/<NN_chapter>.ipynb")
    gr.add_argument("--out", type=Path, default=Path("scores.csv"), help="CSV file (default scores.csv)")
    gr.add_argument("--timeout", type=int, default=300, help="seconds a cell may run (default 300)")
    args = parser.parse_args(argv)
    if args.command == "edition":
        for path in write_edition(args.names, args.out):
            print(f"wrote {path}")
        return 0
    if not args.folder.is_dir():
        parser.error(f"{args.folder}: not a folder; give the folder that holds one folder per student")
    if args.timeout < 1:
        parser.error("--timeout: must be at least 1 second")
    if not submissions(args.folder):
        parser.error(f"{args.folder}: no <student>/NN_*.ipynb inside; see python scripts/teach.py --help")
    grade(args.folder, args.out, args.timeout)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
