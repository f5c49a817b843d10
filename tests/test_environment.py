"""palm_utils.environment: a missing package is named with the command that
installs it, on AI Studio into the folder that survives a restart."""
import subprocess
import sys

import pytest

from palm_utils import environment


def test_everything_needed_is_here():
    environment.check_dependencies()  # the test environment has it all


def test_missing_packages_are_named_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "AISTUDIO_HOME", tmp_path / "not-aistudio")
    needed = {"numpy": "numpy", "palm_no_such_module": "palm-missing", "palm_no_such_2": "other-pkg"}
    with pytest.raises(ImportError) as info:
        environment.check_dependencies(needed)
    message = str(info.value)
    assert "palm-missing, other-pkg" in message and "numpy" not in message.split("Install")[0]
    assert "Install with: pip install palm-missing other-pkg." in message


def test_on_aistudio_the_command_installs_into_the_persistent_folder(monkeypatch, tmp_path):
    home = tmp_path / "aistudio"
    libs = home / "external-libraries"
    libs.mkdir(parents=True)
    monkeypatch.setattr(environment, "AISTUDIO_HOME", home)
    monkeypatch.setattr(environment, "PERSISTENT_LIBS", libs)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ImportError) as info:
        environment.check_dependencies({"palm_no_such_module": "mlxtend"})
    assert f"pip install --no-deps --target {libs} mlxtend" in str(info.value)
    assert "survives a restart" in str(info.value)
    assert sys.path[-1] == str(libs)  # appended: the platform's packages win
    (libs / "palm_fake_pkg.py").write_text("VALUE = 42\n")
    import importlib

    assert importlib.import_module("palm_fake_pkg").VALUE == 42


@pytest.mark.parametrize("module, expected", [
    ("cv2", "palm_utils needs opencv-python-headless, not installed here"),
    ("paddle", "palm_utils needs paddlepaddle, not installed here (paddlepaddle is the CPU build; "
               "on a CUDA machine install paddlepaddle-gpu instead). Install with: pip install paddlepaddle"),
])
def test_import_without_a_package_names_it_in_one_line(module, expected):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "try:\n    import palm_utils\n"
            "except ImportError as e:\n    print('MSG', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120).stdout
    line = [l for l in out.splitlines() if l.startswith("MSG")]
    assert len(line) == 1 and expected in line[0]


@pytest.mark.parametrize("package", ["paddle", "numpy"])
def test_installed_packages_carry_compiled_bytecode(package):
    """The setup scripts install with compiled bytecode, as pip does by default
    (uv needs --compile-bytecode). Without it, where Python writes no .pyc files
    (PYTHONDONTWRITEBYTECODE=1, as in CI), every new process recompiles Paddle:
    each notebook kernel and each child process of the tests took about 14 s
    longer, and the suite a third longer."""
    import importlib.util
    from pathlib import Path

    root = Path(importlib.import_module(package).__file__).parent
    missing = [p for p in root.rglob("*.py")
               if not Path(importlib.util.cache_from_source(str(p))).exists()]
    assert not missing, (f"{len(missing)} of {package}'s modules have no compiled bytecode, "
                         f"for example {missing[0]}; reinstall with `uv pip install "
                         f"--compile-bytecode` or run `python -m compileall -q {root}`")
