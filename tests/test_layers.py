"""The layers of palm_utils: every import points down (import-linter).

The contract lives in pyproject.toml ([tool.importlinter]): the command line
and deploy at the top, then the chapter-facing tools, the training loop, the
evaluation, the loaders, the datasets, the single-job modules, quick mode,
and at the bottom the settings and the runtime. A module imports only from
its own layer or the layers below, directly or through others.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_imports_point_down_the_layers():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 kept, 0 broken" in run.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract can fail: a copy of the package whose loaders import the
    training loop (a layer above) is reported, naming the import."""
    import shutil

    shutil.copytree(ROOT / "palm_utils", tmp_path / "palm_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    loaders = tmp_path / "palm_utils" / "loaders.py"
    loaders.write_text(loaders.read_text(encoding="utf-8") + "\nfrom .training import train_pm  # noqa\n",
                       encoding="utf-8")
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert "palm_utils.loaders is not allowed to import palm_utils.training" in run.stdout
