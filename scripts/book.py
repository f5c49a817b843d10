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
RESULTS = REPO / "results" / "full-run"
RUNS_DIR = REPO / "results" / "runs"
MARKER = "% palm:comparison-table"
SEEDS_MARKER = "% palm:seed-leaderboard"
#: the recipe of the leaderboard (scripts/experiments.py) and the chapters' own
SHARED_RECIPE, CHAPTER_RECIPE = "shared", "chapter"
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
    first; it is also the kernels' working directory, with copies of
    ``results/`` and ``docs/`` beside it, as in the checkout) and return it. Raises
    :class:`NotebookFailed` naming the notebook and the failing cell."""
    nbtool = _nbtool()
    notebooks = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not notebooks:
        raise BuildError(f"no notebooks in {notebooks_dir}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    # the later chapters read stored outputs beside notebooks/: the runs at ../results
    # and (chapter 8) the benchmark report at ../docs/benchmarks.md
    # (a fresh copy each time: a copy left by an earlier build would hide newer runs)
    for stored in (RESULTS.parent, REPO / "docs"):
        copy = staging.parent / stored.name
        if copy.resolve() != stored.resolve():
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(stored, copy)
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


def leaderboard_section(results: Path = RESULTS) -> str:
    """MyST for the landing page: the leaderboard of every network of the
    series, computed at build time from the full runs' histories in
    ``results/full-run/<run>/history.json`` (the runs whose outputs the
    chapters store), with 95 % intervals; runs without a history are listed."""
    from palm_utils.results import RUNS, comparison_table

    if not results.is_dir():
        raise BuildError(f"{results} not found: the leaderboard reads the full runs' histories from it")
    saved = sorted(p.parent.name for p in results.glob("*/history.json"))
    order = [run for run in RUNS if run in saved] + [run for run in saved if run not in RUNS]
    table = comparison_table(results, runs=order, reference=True)
    if table.empty:
        raise BuildError(f"{results} holds no history.json: nothing to put on the leaderboard")
    missing = [RUNS[run].label for run in RUNS if run not in saved]
    lines = [
        "下表在构建本书时由 `results/full-run/` 中各次完整运行保存的 `history.json` 生成"
        "（`pu.comparison_table(\"results/full-run\", reference=True)`），没有手工填写任何数字；"
        "各章保存的输出来自同样的运行。",
        "*(Built from the full runs' saved histories; nothing typed in by hand.)*",
        "",
        "```{raw} html",
        '<div class="comparison-table">',
        table.to_html(classes="dataframe", na_rep="–").strip(),
        "</div>",
        "```",
        "",
    ]
    if missing:
        lines += [f"还没有完整运行、因而不在表中的：{'、'.join(missing)}。", ""]
    return "\n".join(lines)


def _html_table(table) -> list[str]:
    return ["```{raw} html", '<div class="comparison-table">',
            table.to_html(classes="dataframe", na_rep="–").strip(), "</div>", "```", ""]


def seed_leaderboard_section(runs_dir: Path = RUNS_DIR, recipe: str = SHARED_RECIPE,
                             full_runs: Path | None = RESULTS) -> str:
    """MyST for the landing page: the leaderboard of the shared recipe over
    seeds (:func:`palm_utils.results.seed_leaderboard`, with the chapter
    recipe's column) and the paired tests of every pair of networks
    (:func:`palm_utils.compare.compare_networks_all`, Holm-corrected), all
    computed at build time from ``results/runs``."""
    from palm_utils.compare import compare_networks_all, runs_from_results
    from palm_utils.results import _runner_label, seed_leaderboard

    table = seed_leaderboard(runs_dir, recipe, CHAPTER_RECIPE, full_runs=full_runs)
    if table.empty:
        return (f"共同训练方案（`{recipe}`）的多种子运行还没有存进 `results/runs/{recipe}/`，"
                "这里暂时没有排行榜；见 `python scripts/experiments.py status`。\n")
    seeds = int(table["seeds"].sum())
    lines = [f"下表在构建本书时由 `results/runs/{recipe}/` 里各次运行的记录生成（`pu.results.seed_leaderboard`），"
             "没有手工填写任何数字。",
             f"目前完成了 {len(table)} 个网络的 {seeds} 次运行；计划每个网络 3 个种子（最慢的 VGG-16、DenseNet-121 和 "
             "SE-ResNet-50 可能少于 3 个），`seeds` 一列是已经完成的种子数。只有一个种子的网络，表里没有标准差。",
             "`s/epoch` 是每个种子平均每轮秒数的中位数（同一台 2 核机器），只取运行时机器上没有别的任务的那些"
             "（运行器每 15 秒记下 1 分钟平均负载，曾经超过核数 + 0.5 的算“忙”）；标着 (busy) 的网络只有忙时的运行，"
             "它的秒数偏大。网络之间的速度比较见基准测试（`docs/benchmarks.md`）。",
             "*(Built from the runner's stored runs; nothing typed in by hand.)*", ""]
    lines += _html_table(table)
    found = {_runner_label(n): seeds for n, seeds in runs_from_results(runs_dir, recipe).items()}
    networks = {name: found[name] for name in table.index if name in found}   # best mean first
    if len(networks) >= 2:
        pairs = compare_networks_all(networks)
        k = len(pairs)
        acc_sig = pairs[pairs.acc_p_holm < 0.05]
        auc_sig = pairs[pairs.auc_p_holm < 0.05]
        lines += [f"**配对检验。** 每两个网络比较一次（共 {k} 对），比较的是种子均值之差：准确率用图像上的配对置换检验，"
                  "AUC 用图像上的配对分层自助法（`pu.compare.compare_networks_all`），"
                  f"p 值按 Holm 方法对 {k} 对校正。校正后 p < 0.05 的：准确率 {len(acc_sig)} 对，AUC {len(auc_sig)} 对。", ""]
        shown = pairs[(pairs.acc_p_holm < 0.05) | (pairs.auc_p_holm < 0.05)]
        if not shown.empty:
            import pandas as pd

            view = pd.DataFrame({
                "A": shown.model_a, "B": shown.model_b,
                "acc A − B": shown.acc_diff.map("{:+.4f}".format),
                "95 % CI": [f"{lo:+.4f} to {hi:+.4f}" for lo, hi in zip(shown.acc_ci_low, shown.acc_ci_high)],
                "p (Holm)": shown.acc_p_holm.map("{:.4f}".format),
                "AUC A − B": shown.auc_diff.map("{:+.4f}".format),
                "AUC 95 % CI": [f"{lo:+.4f} to {hi:+.4f}" for lo, hi in zip(shown.auc_ci_low, shown.auc_ci_high)],
                "AUC p (Holm)": shown.auc_p_holm.map("{:.4f}".format)})
            lines += ["下表列出校正后至少一项 p < 0.05 的各对（A 是均值较高的那个；区间是每一对单独的 95 % 区间，"
                      "没有按对数校正，所以以校正后的 p 值为准）：", ""]
            lines += _html_table(view.set_index(["A", "B"]))
    return "\n".join(lines)


ABLATIONS_MARKER = "% palm:ablations"


def _experiments():
    """scripts/experiments.py as a module (the ablations' table of pairs)."""
    spec = importlib.util.spec_from_file_location("palm_experiments", REPO / "scripts" / "experiments.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ablations_section(runs_dir: Path = RUNS_DIR) -> str:
    """MyST for the ablations page: one row per chapter's idea, the network
    with it (the shared recipe's runs) against its twin without it (recipe
    ``ablation``), paired over the test images, from ``results/runs``."""
    import pandas as pd

    experiments = _experiments()
    experiments.RESULTS = Path(runs_dir)
    experiments.add_shared()
    experiments.add_ablation()
    done = {row["idea"]: row for row in experiments.ablation_rows()}

    def cost(row, network):
        c = row["cost"].loc[network]
        return f"{c['params (M)']:.2f} M, {c['GFLOPs']:.2f} GFLOPs" if c["GFLOPs"] else "–"

    rows = []
    for a in experiments.ABLATIONS:
        (with_, _), (without, _) = a.arms
        row = {"chapter": a.chapter, "idea": a.idea, "with": with_, "without": without}
        r = done.get(a.idea)
        if r is None:
            row.update({"seeds": "not run yet"})
        else:
            c = r["comparison"]
            row.update({
                "seeds": ", ".join(map(str, r["seeds"])),
                "test acc with / without": f"{c.acc_a.mean:.4f} / {c.acc_b.mean:.4f}",
                "acc with − without (95 % CI)": f"{c.acc_diff:+.4f} ({c.acc_ci[0]:+.4f} to {c.acc_ci[1]:+.4f})",
                "p (acc)": f"{c.acc_p:.4f}",
                "test AUC with / without": f"{c.auc_a.mean:.4f} / {c.auc_b.mean:.4f}",
                "AUC with − without (95 % CI)": f"{c.auc_diff:+.4f} ({c.auc_ci[0]:+.4f} to {c.auc_ci[1]:+.4f})",
                "p (AUC)": f"{c.auc_p:.4f}",
                "cost with / without": f"{cost(r, with_)} / {cost(r, without)}",
                "s/epoch with / without": " / ".join(str(r["cost"].loc[n, "s/epoch"]) for n in (with_, without)),
            })
        rows.append(row)
    table = pd.DataFrame(rows).fillna("–").set_index(["chapter", "idea"])
    lines = [f"下表在构建本书时由 `results/runs/shared/` 和 `results/runs/ablation/` 里的运行记录生成"
             f"（`python scripts/experiments.py ablations`），没有手工填写任何数字。{len(done)} / {len(experiments.ABLATIONS)} "
             "个对照实验已经有两边的运行。", "*(Built from the runner's stored runs; nothing typed in by hand.)*", ""]
    return "\n".join(lines + _html_table(table))


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


def assemble(notebooks_dir: Path, src: Path, results: Path = RESULTS,
             book_dir: Path = BOOK_DIR) -> Path:
    """The Sphinx source folder: book/, the notebooks and their diagrams, the
    landing page with the leaderboard (from the histories in ``results``) and
    MathJax."""
    shutil.copytree(book_dir, src, ignore=shutil.ignore_patterns("__pycache__", "_build"))
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        shutil.copy2(path, src / path.name)
    # the chapters' diagrams, referenced as img/NAME.svg (always the checkout's)
    shutil.copytree(NOTEBOOKS / "img", src / "img")
    index = src / "index.md"
    text = index.read_text(encoding="utf-8")
    if MARKER not in text:
        raise BuildError(f"{book_dir / 'index.md'} lacks the line {MARKER!r}")
    section = leaderboard_section(results)
    text = text.replace(MARKER, section)
    if SEEDS_MARKER in text:
        text = text.replace(SEEDS_MARKER, seed_leaderboard_section())
    index.write_text(text, encoding="utf-8")
    ablations = src / "ablations.md"
    text = ablations.read_text(encoding="utf-8")
    if ABLATIONS_MARKER not in text:
        raise BuildError(f"{book_dir / 'ablations.md'} lacks the line {ABLATIONS_MARKER!r}")
    ablations.write_text(text.replace(ABLATIONS_MARKER, ablations_section()), encoding="utf-8")
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
