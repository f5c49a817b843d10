#!/usr/bin/env python
"""Execute, clean and check the chapter notebooks.

    python scripts/notebooks.py run [--quick] [NAME ...]   execute in place, then clean
    python scripts/notebooks.py clean [NAME ...]           clean stored outputs
    python scripts/notebooks.py check [NAME ...]           exit 1 if any output is unclean
    python scripts/notebooks.py fill [NAME ...]            outputs for new cells only (quick mode)

NAME is a notebook file name or a prefix such as ``01``; default: all.
``run`` executes with the kernel ``python3`` in ``notebooks/`` and passes the
environment through (set PALM_DATA_DIR / PALM_MNIST_DIR for real data).
Cleaning numbers the code cells 1, 2, 3, ... as one top-to-bottom run does
(nbval only compares cells that have a count), drops volatile metadata and
keeps only what a terminal would show of progress bars (text after the last
carriage return).
``fill`` is for a cell added to a chapter whose stored outputs come from a
full run: it executes a copy in quick mode and stores that run's outputs
only in the code cells that have none and no execution count (the new ones),
leaving every other cell as it was. Use it only for cells whose output does
not depend on the data or on training (parameter counts, shapes, checks),
which print the same in quick mode as in a full run.
The check rejects stderr output, errors, memory addresses, absolute paths
of the machine that ran the notebook, and nbval markers in code (nbval's
cell tags such as ``nbval-ignore-output`` are what Jupyter and the book hide).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")
# Absolute paths of a machine; /home/aistudio/... is the documented AI Studio default.
ABS_PATH = re.compile(r"(?<![\w$.~])(/work/|/tmp/|/root/|/home/(?!aistudio)|/Users/|[A-Z]:\\\\)")


def select(names: list[str]) -> list[Path]:
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return found
    chosen = [p for p in found if any(p.name.startswith(n) or p.name == n for n in names)]
    if not chosen:
        sys.exit(f"no notebook in {NOTEBOOKS} matches {names}")
    return chosen


def collapse_carriage_returns(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        shown = line.split("\r")[-1]
        if "\r" in line and not shown.strip():
            continue  # a progress bar that cleared itself
        lines.append(shown)
    return "\n".join(lines)


def clean(nb) -> None:
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    count = 0
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        merged = []
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
                continue
            merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = collapse_carriage_returns(out.text)
        merged = [o for o in merged if o.output_type != "stream" or o.text]
        cell.outputs = merged


def _texts(out):
    if out.output_type == "stream":
        yield out.text
    elif out.output_type in ("execute_result", "display_data"):
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                yield value if isinstance(value, str) else "".join(value)
    elif out.output_type == "error":
        yield "\n".join(out.traceback)


def problems(nb, name: str) -> list[str]:
    found = []
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append(f"{name}: kernelspec is not python3")
    count = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        where = f"{name} cell {i}"
        if "NBVAL_" in cell.source:
            found.append(f"{where}: an nbval marker in the code students read; use the cell tag "
                         "nbval-ignore-output (or nbval-skip) instead")
        if cell.execution_count != count:
            found.append(f"{where}: execution count {cell.execution_count}, expected {count}")
        for out in cell.outputs:
            if out.output_type == "error":
                found.append(f"{where}: error output ({out.ename}: {out.evalue})")
            if out.output_type == "stream" and out.name == "stderr":
                found.append(f"{where}: stderr output: {out.text.strip()[:200]!r}")
            for text in _texts(out):
                if ADDRESS.search(text):
                    found.append(f"{where}: memory address in output")
                m = ABS_PATH.search(text)
                if m:
                    found.append(f"{where}: absolute path in output: {text[m.start():m.start() + 60]!r}")
    return found


def first_error(nb) -> tuple[int, str] | None:
    """(cell index, "Name: message") of the first cell with an error output."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                return i, f"{out.ename}: {out.evalue}"
    return None


def run(path: Path, timeout: int | None, out: Path | None = None, **options) -> float:
    """Execute the notebook at ``path`` with the working directory next to
    ``out`` (default: ``path`` itself, executed in place), then clean it and
    write it to ``out``, also when a cell fails (the error is then stored in
    that cell's outputs: see :func:`first_error`). ``options`` go to
    nbclient's ``NotebookClient`` (for example ``on_cell_start``)."""
    from nbclient import NotebookClient

    out = Path(out) if out is not None else path
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    own_km = "km" not in options
    with tempfile.TemporaryDirectory(prefix="palm-kernel-") as sockets:
        if os.name == "posix" and own_km:
            # Local sockets instead of TCP: nothing listens on the network and
            # ipykernel has no "running over TCP without encryption" warning.
            from jupyter_client.manager import KernelManager

            options.setdefault("km", KernelManager(kernel_name="python3", transport="ipc",
                                                   ip=os.path.join(sockets, "kernel")))
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                resources={"metadata": {"path": str(out.parent)}}, **options)
        try:
            # nbclient shuts down only kernels it started itself; ours goes too,
            # before its socket folder is removed (else it lingers until exit).
            client.execute(cleanup_kc=own_km)
        finally:
            clean(nb)
            nbformat.write(nb, out)
    return time.perf_counter() - t0


def fill(path: Path, timeout: int | None = None) -> list[int]:
    """Store quick-mode outputs in the new code cells of ``path`` (see the
    module's docstring); returns their indices. The cells are matched by
    position and source, so nothing else may change between the two."""
    nb = nbformat.read(path, as_version=4)
    new = [i for i, c in enumerate(nb.cells)
           if c.cell_type == "code" and not c.outputs and c.execution_count is None]
    if not new:
        return []
    os.environ["PALM_QUICK"] = "1"
    scratch = path.parent / f".fill-{path.name}"   # beside it: the same working directory
    try:
        run(path, timeout, out=scratch)
        ran = nbformat.read(scratch, as_version=4)
    finally:
        scratch.unlink(missing_ok=True)
    error = first_error(ran)
    if error:
        raise RuntimeError(f"{path.name}: cell {error[0]} failed in quick mode: {error[1]}")
    for i in new:
        if ran.cells[i].source != nb.cells[i].source:
            raise RuntimeError(f"{path.name}: cell {i} changed while it ran")
        nb.cells[i].outputs = ran.cells[i].outputs
    clean(nb)
    nbformat.write(nb, path)
    return new


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "clean", "check", "fill"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--quick", action="store_true", help="set PALM_QUICK=1 for the run")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: none)")
    args = parser.parse_intermixed_args(argv)  # `run --quick 01` and `run 01 --quick`
    if args.quick:
        os.environ["PALM_QUICK"] = "1"
    bad = []
    for path in select(args.names):
        if args.command == "run":
            seconds = run(path, args.timeout)
            print(f"{path.name}: executed in {seconds:.0f} s", flush=True)
        if args.command == "fill":
            print(f"{path.name}: outputs stored for new cells {fill(path, args.timeout)}", flush=True)
        nb = nbformat.read(path, as_version=4)
        if args.command == "clean":
            clean(nb)
            nbformat.write(nb, path)
        bad += problems(nb, path.name)
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
