"""Checked command-line arguments and one-line errors.

The ``type=`` functions here reject a bad value while the command line is
parsed, so the message names the option (``error: argument --epochs: ...``)
and nothing has been read or written yet. Each returns the value in the
form the command uses; paths stay strings (they go into ``config.json``).

:class:`Parser` prints an argparse error as that one line (and exits 2)
instead of the usage text followed by the message.

:func:`reporting` runs a command and turns the exceptions that mean bad
input (:data:`EXPECTED`) into one ``error:`` line and exit status 1; any
other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

#: What a command raises for bad input: ``OSError`` (a missing or unwritable
#: file or folder: FileNotFoundError, NotADirectoryError, PermissionError,
#: FileExistsError, ...; also :class:`~palm_utils.reader.ImageReadError`),
#: ``ValueError`` (:class:`~palm_utils.netspec.NetworkSpecError`,
#: :class:`~palm_utils.checkpoint.ParamsMismatch`, the dataset tools' errors)
#: and ``FloatingPointError`` (:class:`~palm_utils.training.TrainingDiverged`).
#: Their messages are written to name the file or argument and say what to do.
EXPECTED = (OSError, ValueError, FloatingPointError)

#: The largest seed: NumPy's legacy seeding takes 32 bits.
MAX_SEED = 2**32 - 1


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (and, through ``add_subparsers``, its
    subcommands' parsers) whose usage errors are one line on stderr,
    ``error: argument --epochs: ... (see python -m palm_utils train --help)``,
    with exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {one_line(message).rstrip('.')} (see `{self.prog} --help`)\n")


def one_line(text) -> str:
    """``text`` with its whitespace, newlines included, collapsed to single spaces."""
    return " ".join(str(text).split())


def error_line(exc: BaseException) -> str:
    """The ``error: ...`` line for an exception of :data:`EXPECTED`. An
    ``OSError`` raised by the operating system reads ``FILE: reason``."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = one_line(exc) or type(exc).__name__
    return f"error: {text}"


def reporting(run, *args) -> int:
    """``run(*args)``, its return value the exit status; an exception of
    :data:`EXPECTED` is printed as one ``error:`` line and gives status 1."""
    try:
        return run(*args)
    except EXPECTED as exc:
        print(error_line(exc), file=sys.stderr)
        return 1


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
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"{parent} is a file, so {text} cannot be created; choose another folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent}; choose another folder")
    return text
