"""Environment variables and default locations, in one place.

Every knob the series reads from the environment is defined here so that a
student (or CI) can find them all at once:

``PALM_DATA_DIR``      a PALM dataset root (see :mod:`palm_utils.layout`).
``PALM_MNIST_DIR``     a folder holding the four MNIST IDX ``.gz`` files.
``PALM_HOME``          where prepared and generated data is written
                       (default: ``data/`` of the source checkout, else
                       ``~/.cache/palm_utils``).
``PALM_AISTUDIO_DIR``  where the AI Studio zips are mounted
                       (default ``/home/aistudio/data/data19065``).
``PALM_QUICK``         ``1`` caps epochs, batches and the validation set so
                       that notebooks execute in seconds (CI, nbval).
``PALM_OFFLINE``       ``1`` forbids any download attempt.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "PALM_DATA_DIR"
ENV_MNIST = "PALM_MNIST_DIR"
ENV_HOME = "PALM_HOME"
ENV_AISTUDIO = "PALM_AISTUDIO_DIR"
ENV_QUICK = "PALM_QUICK"
ENV_OFFLINE = "PALM_OFFLINE"

AISTUDIO_DEFAULT = "/home/aistudio/data/data19065"

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when the environment variable ``name`` is 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """True when downloads are forbidden (``PALM_OFFLINE=1``)."""
    return flag(ENV_OFFLINE)


def home() -> Path:
    """Folder for prepared and generated data (created on demand)."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return Path.home() / ".cache" / "palm_utils"


def prepared_dir() -> Path:
    """Where ``python -m palm_utils prepare`` puts the real dataset."""
    return home() / "PALM"


def standin_dir() -> Path:
    """Where the generated stand-in dataset lives."""
    return home() / "PALM-standin"


def aistudio_dir() -> Path:
    return Path(os.environ.get(ENV_AISTUDIO, AISTUDIO_DEFAULT))
