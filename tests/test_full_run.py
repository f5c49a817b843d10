"""scripts/full_run.py: a chapter executed in place on the real data, its
runs' histories copied to results/full-run/ (what the leaderboard reads)."""
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
spec = importlib.util.spec_from_file_location("full_run", REPO / "scripts" / "full_run.py")
full_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(full_run)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    for name in ("PALM_DATA_DIR", "PALM_MNIST_DIR"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setattr(full_run, "REPO", tmp_path)
    monkeypatch.setattr(full_run.nbtool, "NOTEBOOKS", tmp_path / "notebooks")
    return tmp_path


def write(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def test_histories_of_the_chapter_are_copied(checkout):
    write(checkout / "notebooks" / "01_x.ipynb",
          "import json, os, pathlib\n"
          "assert os.environ.get('PALM_QUICK') is None\n"
          "for run in ('lenet_palm', 'not_a_run'):\n"
          "    d = pathlib.Path('checkpoints') / run\n"
          "    d.mkdir(parents=True)\n"
          "    (d / 'history.json').write_text(json.dumps({'run': run}))\n")
    assert full_run.main(["01"]) == 0
    copied = checkout / "results" / "full-run" / "lenet_palm" / "history.json"
    assert json.loads(copied.read_text()) == {"run": "lenet_palm"}
    assert not (checkout / "results" / "full-run" / "not_a_run").exists()
    assert nbformat.read(checkout / "notebooks" / "01_x.ipynb", as_version=4).cells[0].execution_count == 1


def test_a_failing_chapter_copies_nothing(checkout, capsys):
    write(checkout / "notebooks" / "02_y.ipynb", "raise ValueError('boom')")
    assert full_run.main(["02"]) == 1
    assert "ValueError: boom" in capsys.readouterr().err
    assert not (checkout / "results").exists()


def test_real_data_is_required(checkout, monkeypatch):
    monkeypatch.setenv("PALM_DATA_DIR", str(checkout / "missing"))
    with pytest.raises(SystemExit, match="needs the real data"):
        full_run.main(["01"])


def test_an_earlier_execution_of_the_chapter_leaves_nothing_behind(checkout):
    """A table the chapter prints before it trains a run must not show the
    run an earlier execution left in checkpoints/; other chapters' runs,
    which the chapter may read, are kept."""
    for run in ("lenet_palm", "alexnet"):
        (checkout / "notebooks" / "checkpoints" / run).mkdir(parents=True)
        (checkout / "notebooks" / "checkpoints" / run / "history.json").write_text("{}")
    write(checkout / "notebooks" / "01_x.ipynb",
          "import pathlib\n"
          "assert not pathlib.Path('checkpoints/lenet_palm').exists()\n"
          "assert pathlib.Path('checkpoints/alexnet/history.json').is_file()\n")
    assert full_run.main(["01"]) == 0
