#!/usr/bin/env python
"""Build the book: an HTML site of the five chapter notebooks.

    python scripts/book.py                      from the committed notebooks, as stored
    python scripts/book.py --execute            execute copies in quick mode first, then build
    python scripts/book.py --execute --full     the same with full training runs (hours on a CPU)
    python scripts/book.py --out DIR            write the book to DIR (default build/book)

Without ``--execute`` nothing runs: the pages show the outputs stored in
``notebooks/*.ipynb`` (the full runs on the real data); this is what
publishing should use. ``--execute`` runs *copies* of the notebooks in a
staging folder next to the output (``build/executed/`` by default, which is
also the working directory, so checkpoints land there), in quick mode
(``PALM_QUICK=1``) unless ``--full``, on the data that ``palm_utils`` finds;
the committed notebooks are never touched.

The site is built with Sphinx, myst-nb (no execution) and sphinx-book-theme
from ``book/`` plus copies of the notebooks, in a temporary source folder.
The landing page gets chapter 5's comparison table, copied from the stored
output of the cell that calls ``pu.comparison_table``. MathJax 2 is copied
from the ``jupyter-server-mathjax`` package into ``_static/mathjax``, so the
book needs no network. The new site is written to a temporary folder next to
the output and swapped in only when everything succeeded: a failed build or
a failing notebook leaves the previous book as it was.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO / "book"
NOTEBOOKS = REPO / "notebooks"
DEFAULT_OUT = REPO / "build" / "book"
COMPARISON_NOTEBOOK = "05_resnet.ipynb"
COMPARISON_CALL = "pu.comparison_table("
MARKER = "% palm:comparison-table"
# The parts of MathJax 2 the pages load: the combined TeX + MathML config
# with HTML-CSS output, the STIX web fonts it uses (the only font set the
# package ships), the lazily loaded extensions (menu, zoom, TeX macros) and
# the Chinese menu strings (the config asks for locale zh-hans).
MATHJAX_PARTS = [
    "MathJax.js",
    "LICENSE",
    "config/TeX-AMS-MML_HTMLorMML-full.js",
    "jax/input/TeX",
    "jax/element",
    "jax/output/HTML-CSS",
    "extensions",
    "fonts/HTML-CSS/STIX-Web",
    "localization/zh-hans",
]
MATHJAX_SKIP = {"a11y"}  # 3.7 MB of accessibility extensions, loaded only on request


class BuildError(RuntimeError):
    """The book could not be built; the previous book is left as it was."""


class NotebookFailed(BuildError):
    def __init__(self, notebook: str, cell: int | None, prompt: int | None, error: str):
        self.notebook, self.cell, self.prompt, self.error = notebook, cell, prompt, error
        where = "before the first cell" if cell is None else f"cell {cell}"
        if prompt is not None:
            where += f" (code cell In [{prompt}])"
        super().__init__(f"{notebook} failed at {where}: {error}")


def _nbtool():
    """scripts/notebooks.py as a module (execute and clean)."""
    spec = importlib.util.spec_from_file_location("palm_notebooks", Path(__file__).with_name("notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prompt(nb, index: int) -> int | None:
    if nb.cells[index].cell_type != "code":
        return None
    return sum(1 for cell in nb.cells[:index + 1] if cell.cell_type == "code")


def execute(notebooks_dir: Path, staging: Path, *, quick: bool = True, timeout: int | None = None) -> Path:
    """Execute copies of ``notebooks_dir/*.ipynb`` into ``staging`` (emptied
    first; it is also the kernels' working directory) and return it. Raises
    :class:`NotebookFailed` naming the notebook and the failing cell."""
    nbtool = _nbtool()
    notebooks = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not notebooks:
        raise BuildError(f"no notebooks in {notebooks_dir}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    saved = os.environ.get("PALM_QUICK")
    if quick:
        os.environ["PALM_QUICK"] = "1"
    else:
        os.environ.pop("PALM_QUICK", None)
    try:
        for path in notebooks:
            out = staging / path.name
            started: dict[str, int] = {}

            def on_cell_start(cell=None, cell_index=None, **_):
                started["index"] = cell_index

            print(f"book: executing {path.name} ({'quick' if quick else 'full'} mode)", flush=True)
            try:
                seconds = nbtool.run(path, timeout, out=out, on_cell_start=on_cell_start)
            except Exception as exc:  # CellExecutionError, timeouts, a dead kernel
                nb = nbformat.read(out, as_version=4) if out.exists() else nbformat.read(path, as_version=4)
                found = nbtool.first_error(nb)
                if found:
                    index, error = found
                else:
                    index = started.get("index")
                    lines = str(exc).strip().splitlines() or [""]
                    error = f"{type(exc).__name__}: {lines[-1]}"
                prompt = _prompt(nb, index) if index is not None else None
                raise NotebookFailed(path.name, index, prompt, error) from exc
            print(f"book: {path.name} executed in {seconds:.0f} s", flush=True)
    finally:
        if saved is None:
            os.environ.pop("PALM_QUICK", None)
        else:
            os.environ["PALM_QUICK"] = saved
    return staging


def _output_text(out) -> str:
    if out.output_type == "stream":
        return out.text
    data = out.get("data", {})
    value = data.get("text/plain", "")
    return value if isinstance(value, str) else "".join(value)


def comparison_section(notebook: Path) -> str:
    """MyST for the landing page: where the table comes from, then chapter 5's
    stored comparison table as raw HTML."""
    if not notebook.is_file():
        raise BuildError(f"{notebook} not found: the landing page takes its comparison table from it")
    nb = nbformat.read(notebook, as_version=4)
    table = None
    for cell in nb.cells:
        if cell.cell_type == "code" and COMPARISON_CALL in cell.source:
            for out in cell.outputs:
                html = out.get("data", {}).get("text/html") if out.output_type == "execute_result" else None
                if html:
                    table = html if isinstance(html, str) else "".join(html)
    if table is None:
        raise BuildError(f"{notebook.name} has no stored output of a cell calling {COMPARISON_CALL}...): "
                         "execute it first")
    run = ""
    for cell in reversed(nb.cells):
        texts = [_output_text(o) for o in cell.get("outputs", [])]
        hits = [t.strip() for t in texts if t.strip().startswith("This run:")]
        if hits:
            run = hits[-1].splitlines()[0]
            break
    lines = [
        "下表取自**第 5 章保存的那次运行**：构建本书时，从 [第 5 章](05_resnet.ipynb) 里调用",
        "`pu.comparison_table(...)` 的单元格中把保存的输出原样复制过来，没有重新运行，也没有手工填写任何数字。",
        "*(Taken at build time from the stored output of chapter 5's comparison cell.)*",
        "",
    ]
    if run:
        lines += [f"第 5 章的那次运行：`{run}`", ""]
    lines += ["```{raw} html", '<div class="comparison-table">', table.strip(), "</div>", "```", ""]
    return "\n".join(lines)


def mathjax_dir() -> Path:
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("jupyter-server-mathjax is not installed (pip install -e '.[book]'); "
                         "the book serves MathJax from it for offline math")
    return Path(list(spec.submodule_search_locations)[0]) / "static"


def copy_mathjax(dest: Path) -> None:
    src = mathjax_dir()
    for part in MATHJAX_PARTS:
        source = src / part
        target = dest / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=lambda d, names: [n for n in names if n in MATHJAX_SKIP])
        else:
            shutil.copy2(source, target)


def assemble(notebooks_dir: Path, src: Path, comparison_dir: Path | None = None,
             book_dir: Path = BOOK_DIR) -> Path:
    """The Sphinx source folder: book/, the notebooks, the landing page with
    the comparison table (from ``comparison_dir``, default ``notebooks_dir``)
    and MathJax."""
    shutil.copytree(book_dir, src, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        shutil.copy2(path, src / path.name)
    # the chapters' diagrams, referenced as img/NAME.svg (always the checkout's)
    shutil.copytree(NOTEBOOKS / "img", src / "img")
    index = src / "index.md"
    text = index.read_text(encoding="utf-8")
    if MARKER not in text:
        raise BuildError(f"{book_dir / 'index.md'} lacks the line {MARKER!r}")
    section = comparison_section(Path(comparison_dir or notebooks_dir) / COMPARISON_NOTEBOOK)
    index.write_text(text.replace(MARKER, section), encoding="utf-8")
    copy_mathjax(src / "_static" / "mathjax")
    return src


def sphinx(src: Path, html_dir: Path, doctrees: Path) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(doctrees), str(src), str(html_dir)]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.stderr.strip():
        # Sphinx reports warnings on stderr with -q; show them, keep building.
        print(result.stderr.rstrip().replace(str(src) + os.sep, ""), file=sys.stderr)
    if result.returncode != 0:
        raise BuildError(f"sphinx-build failed (exit {result.returncode})")


def swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new``: rename the old one away, rename the new one
    in, then delete the old one (put back if the second rename fails)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        old.rmdir()
        os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build(notebooks_dir: Path = NOTEBOOKS, out: Path = DEFAULT_OUT, *, execute_first: bool = False,
          full: bool = False, timeout: int | None = None, book_dir: Path = BOOK_DIR) -> Path:
    """Build the book into ``out`` and return the path of its index.html."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    source_notebooks = Path(notebooks_dir)
    if execute_first:
        source_notebooks = execute(source_notebooks, out.parent / "executed", quick=not full, timeout=timeout)
    # One temporary folder next to the output (same file system, so the
    # final rename is atomic) holds the source, the doctrees, myst-nb's
    # jupyter_execute/ (written beside the HTML folder) and the new HTML.
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    try:
        src = assemble(source_notebooks, work / "src", book_dir=book_dir)
        new = work / "html"
        sphinx(src, new, work / "doctrees")
        if not (new / "index.html").is_file():
            raise BuildError("sphinx-build wrote no index.html")
        swap_in(new, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", action="store_true",
                        help="execute copies of the notebooks (quick mode) and build from them")
    parser.add_argument("--full", action="store_true", help="with --execute: full runs, not quick mode")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/book)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="notebook folder (default notebooks/)")
    parser.add_argument("--timeout", type=int, default=None, help="with --execute: seconds per cell")
    args = parser.parse_args(argv)
    if args.full and not args.execute:
        parser.error("--full only makes sense with --execute")
    t0 = time.perf_counter()
    try:
        index = build(args.notebooks, args.out, execute_first=args.execute, full=args.full, timeout=args.timeout)
    except BuildError as exc:
        print(f"book: {exc}", file=sys.stderr)
        kept = f"the previous book in {args.out} is unchanged" if args.out.exists() else "no book written"
        print(f"book: {kept}", file=sys.stderr)
        return 1
    print(f"book: built in {time.perf_counter() - t0:.0f} s")
    print(f"book: open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
