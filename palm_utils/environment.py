"""What palm_utils needs installed, checked before anything is imported.

On a notebook service such as Baidu AI Studio, Paddle, NumPy and OpenCV come
with the platform and must stay as they are, and what is installed into the
system environment is gone after a restart: only the home folder stays.
AI Studio's own advice is to install extra packages into
``/home/aistudio/external-libraries`` with ``pip install --target`` and put
that folder on ``sys.path``; :func:`check_dependencies` does the second half
for you and, when a package is missing, says which one and gives the exact
command that installs it there (``--no-deps``, so that nothing the platform
has is installed again beside it).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: import name -> the distribution that provides it (when it is missing)
REQUIRED = {
    "paddle": "paddlepaddle",
    "numpy": "numpy",
    "cv2": "opencv-python-headless",
    "pandas": "pandas",
    "openpyxl": "openpyxl",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
}

AISTUDIO_HOME = Path("/home/aistudio")
#: where AI Studio keeps installed packages across restarts
PERSISTENT_LIBS = AISTUDIO_HOME / "external-libraries"


def on_aistudio() -> bool:
    return AISTUDIO_HOME.is_dir()


def add_persistent_libs() -> bool:
    """Append ``/home/aistudio/external-libraries`` to ``sys.path`` when it
    exists (appended, so the platform's own packages win)."""
    folder = str(PERSISTENT_LIBS)
    if PERSISTENT_LIBS.is_dir() and folder not in sys.path:
        sys.path.append(folder)
        return True
    return False


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_command(distributions: list[str]) -> str:
    """The command that installs ``distributions`` so that they stay: into
    the persistent folder on AI Studio, plainly elsewhere."""
    names = " ".join(distributions)
    if on_aistudio():
        return f"pip install --no-deps --target {PERSISTENT_LIBS} {names}"
    return f"pip install {names}"


def check_dependencies(required: dict[str, str] | None = None) -> None:
    """Raise one :class:`ImportError` naming every missing package and the
    command that installs them."""
    add_persistent_libs()
    missing = [dist for module, dist in (required or REQUIRED).items() if not is_installed(module)]
    if not missing:
        return
    hint = ""
    if "paddlepaddle" in missing:
        hint = " (paddlepaddle is the CPU build; on a CUDA machine install paddlepaddle-gpu instead)"
    where = (f"; it installs into {PERSISTENT_LIBS}, which survives a restart and which "
             "palm_utils puts on sys.path" if on_aistudio() else "")
    raise ImportError(
        f"palm_utils needs {', '.join(missing)}, not installed here{hint}. "
        f"Install with: {install_command(missing)}{where}."
    )
