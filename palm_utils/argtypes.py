"""Types for command-line arguments (argparse ``type=`` functions), shared by
:mod:`palm_utils.cli` and :mod:`palm_utils.deploy.predict`.

Each rejects a bad value while the command line is parsed, so the message
names the option (``error: argument --epochs: ...``) and nothing has been
read or written yet, and returns the value in the form the command uses;
paths stay strings (they go into ``config.json``). They only look: nothing
is created. Below every other module of the package (argparse only).
"""
from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

#: The largest seed: NumPy's legacy seeding takes 32 bits.
MAX_SEED = 2**32 - 1


def one_line(text) -> str:
    """``text`` with its whitespace, newlines included, collapsed to single spaces."""
    return " ".join(str(text).split())


# -------------------------------------------------------------- numbers

def _number(text: str, kind, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, batch size)."""
    value = _number(text, int, "a whole number >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def seed(text: str) -> int:
    """A random seed, 0 to 2**32 - 1."""
    value = _number(text, int, f"a whole number from 0 to {MAX_SEED}")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, not {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rate)."""
    value = _number(text, float, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (momentum, weight decay)."""
    value = _number(text, float, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def fraction(text: str) -> float:
    """A number from 0 up to (not including) 1 (label smoothing)."""
    value = _number(text, float, "a number from 0 to below 1")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 0 and < 1, not {text}")
    return value


_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*$")
MIN_SIZE = 32


def image_size(text: str):
    """``224`` -> 224, ``2124x2056`` -> ``(2124, 2056)`` (width x height),
    each side at least :data:`MIN_SIZE`."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected N or WIDTHxHEIGHT such as 224 or 2124x2056, not {text!r}")
    sides = [int(v) for v in match.groups() if v is not None]
    if min(sides) < MIN_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is too small: each side must be at least {MIN_SIZE}")
    return sides[0] if len(sides) == 1 else tuple(sides)


# ---------------------------------------------------------------- paths

def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return Path(text).expanduser()


def existing_dir(text: str) -> str:
    """A folder that exists and can be read."""
    path = _path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot read this folder")
    return text


def existing_path(text: str) -> str:
    """A file or folder that exists (an input to read)."""
    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return text


def _existing_parent(path: Path) -> Path:
    """The nearest folder (or file) above ``path`` that exists."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    return parent


def output_file(text: str) -> str:
    """A file to write (a CSV): not a folder, and its nearest existing parent
    is a folder, so it can be created."""
    path = Path(text).expanduser()
    if not text.strip() or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file name; give the CSV file to write")
    parent = _existing_parent(path)
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{parent} is a file, so {text} cannot be written; "
                                         "choose another path")
    return text


def output_dir(text: str) -> str:
    """A folder to write into: it exists and is writable, or it can be
    created (its nearest existing parent is a writable folder). Looks only,
    creates nothing."""
    path = _path(text)
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; choose another folder")
        parent = path
    else:
        parent = _existing_parent(path)
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"{parent} is a file, so {text} cannot be created; choose another folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent}; choose another folder")
    return text
