"""Checked command-line arguments and one-line errors.

The ``type=`` functions (:mod:`palm_utils.argtypes`, re-exported here) reject
a bad value while the command line is parsed, so the message names the
option (``error: argument --epochs: ...``) and nothing has been read or
written yet.

:class:`Parser` prints an argparse error as that one line (and exits 2)
instead of the usage text followed by the message.

:func:`reporting` runs a command and turns the exceptions that mean bad
input (:data:`EXPECTED`) into one ``error:`` line and exit status 1; any
other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import sys

from ..argtypes import (MAX_SEED, MIN_SIZE, existing_dir, fraction, image_size,  # noqa: F401
                        non_negative_float, one_line, output_dir, positive_float, positive_int,
                        seed)

#: What a command raises for bad input: ``OSError`` (a missing or unwritable
#: file or folder: FileNotFoundError, NotADirectoryError, PermissionError,
#: FileExistsError, ...; also :class:`~palm_utils.reader.ImageReadError`),
#: ``ValueError`` (:class:`~palm_utils.netspec.NetworkSpecError`,
#: :class:`~palm_utils.checkpoint.ParamsMismatch`, the dataset tools' errors)
#: and ``FloatingPointError`` (:class:`~palm_utils.training.TrainingDiverged`).
#: Their messages are written to name the file or argument and say what to do.
EXPECTED = (OSError, ValueError, FloatingPointError)

class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (and, through ``add_subparsers``, its
    subcommands' parsers) whose usage errors are one line on stderr,
    ``error: argument --epochs: ... (see python -m palm_utils train --help)``,
    with exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {one_line(message).rstrip('.')} (see `{self.prog} --help`)\n")


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
