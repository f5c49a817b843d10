"""The committed notebooks are clean: sequential execution counts, kernel
python3, no stderr, errors, memory addresses or machine paths in outputs."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("nbtool", REPO / "scripts" / "notebooks.py")
nbtool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbtool)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean(path):
    assert nbtool.problems(nbformat.read(path, as_version=4), path.name) == []


def test_checker_catches_dirty_outputs():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "conda-env-x"}
    cell = nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nx")
    cell.execution_count = 7
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: ..."),
        nbformat.v4.new_output("stream", name="stdout", text="<Layer at 0x7f3a2b1c9d00>\n"),
        nbformat.v4.new_output("stream", name="stdout", text="saved to /work/main/x\n"),
    ]
    nb.cells = [cell]
    found = "\n".join(nbtool.problems(nb, "t.ipynb"))
    for expected in ("kernelspec", "execution count 7", "stderr", "memory address", "absolute path",
                     "nbval marker"):
        assert expected in found
    nbtool.clean(nb)
    assert nb.cells[0].execution_count == 1 and nb.metadata["kernelspec"]["name"] == "python3"


def test_progress_bars_collapse_to_final_line():
    text = "\repoch 1:  0%|\repoch 1: 50%|\r          \repoch 1  loss 0.5\nnext\n"
    assert nbtool.collapse_carriage_returns(text) == "epoch 1  loss 0.5\nnext\n"


def test_runner_shuts_its_kernel_down(tmp_path):
    """scripts/notebooks.py run(): the kernel it starts is gone when run()
    returns (command 1 executes five notebooks; none may linger)."""
    import os

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.getpid())")]
    path = tmp_path / "pid.ipynb"
    nbformat.write(nb, path)
    nbtool.run(path, timeout=120)
    pid = int(nbformat.read(path, as_version=4).cells[0].outputs[0]["text"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    # a zombie or a process on its way out may still answer for a moment
    import time

    for _ in range(50):
        time.sleep(0.1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
    raise AssertionError(f"kernel {pid} still running after run() returned")


def test_nbval_reads_the_cell_tags():
    """The chapters mark cells for nbval with tags, not code comments; at
    least the training cells carry one."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "nbval-ignore-output" in c.metadata.get("tags", [])]
        assert any("train_" in c.source for c in tagged), path.name


def test_fill_stores_outputs_only_in_new_cells(tmp_path, monkeypatch):
    """`notebooks.py fill`: the cells that already hold outputs (a full run's)
    keep them; the new cells get the quick run's."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    monkeypatch.delenv("PALM_QUICK", raising=False)
    stored = new_code_cell("import os\nprint(os.environ.get('PALM_QUICK'))", execution_count=1,
                           outputs=[new_output("stream", name="stdout", text="full run\n")])
    nb = new_notebook(cells=[stored, new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "99_t.ipynb"
    nbformat.write(nb, path)
    assert nbtool.fill(path, timeout=120) == [1]
    after = nbformat.read(path, as_version=4)
    assert after.cells[0].outputs[0]["text"] == "full run\n"      # not the quick run's "1"
    assert after.cells[1].outputs[0]["text"] == "42\n" and after.cells[1].execution_count == 2
    assert not list(tmp_path.glob(".fill-*"))                        # the scratch copy is gone
    assert nbtool.fill(path) == []                                   # nothing new: nothing runs


def _stored_minutes(path) -> float | None:
    """The minutes of the stored run, from the last line the chapter prints
    (palm_utils.session: '... full run, 10.3 min in all.')."""
    import re

    nb = nbformat.read(path, as_version=4)
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            found = re.search(r"full run, (\d+\.\d) min in all", output.get("text", ""))
            if found:
                return float(found.group(1))
    return None


def test_readme_full_run_table_matches_the_notebooks():
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d\d) [^|]*\| (\d+\.\d) min \|", readme, flags=re.M))
    assert sorted(rows) == [p.name[:2] for p in NOTEBOOKS], "README's full-run table lists every chapter"
    for path in NOTEBOOKS:
        assert _stored_minutes(path) == float(rows[path.name[:2]]), path.name
