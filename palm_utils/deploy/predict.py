"""Predict PM risk for new fundus images, as a table or a PALM-style CSV.

    table = predict(model, ["photos/", "extra.jpg"])
    table.attrs["errors"]          # {file: reason} for images that could not be read

The table has the columns of the PALM challenge's classification submission,
``FileName`` (with its extension) and ``PM Risk`` (the probability of
pathologic myopia, ``sigmoid(logit)``), plus ``Label`` (``PM Risk > 0.5``).
Images go through the training preprocessing
(:func:`~palm_utils.reader.read_image`, :func:`~palm_utils.reader.transform_img`).
``model_or_predictor`` is a network (``paddle.nn.Layer``) or anything that
maps a NumPy batch to logits, such as :func:`~palm_utils.deploy.load_predictor`.

Command line (``predict_main``)::

    python -m palm_utils predict --net NET --params FILE IMAGE_OR_FOLDER... [--out CSV]
    python -m palm_utils predict --model EXPORTED_PREFIX IMAGE_OR_FOLDER... [--out CSV]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..argtypes import existing_path, one_line, output_file, positive_int
from ..checkpoint import atomic_write_bytes, load_params
from ..evaluation import main_logits
from ..labels import is_image_file
from ..reader import ImageReadError, read_image, transform_img
from ..runtime import paddle

COLUMNS = ["FileName", "PM Risk", "Label"]
SUFFIXES = {".jpg", ".jpeg", ".png"}
DEFAULT_OUT = "classification_results.csv"  # the name the PALM challenge asked for


def expand_paths(paths) -> tuple[list[Path], dict[str, str]]:
    """Image files from ``paths``: files as given, folders as the sorted
    .jpg/.jpeg/.png files directly inside them. Also returns
    ``{folder: reason}`` for folders with no image."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files, errors = [], {}
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and is_image_file(p) and p.suffix.lower() in SUFFIXES)
            if not found:
                errors[str(path)] = f"{path}: no .jpg, .jpeg or .png image in this folder."
            files.extend(found)
        else:
            files.append(path)  # a missing file is reported by read_image
    return files, errors


@paddle.no_grad()
def logits_of(model_or_predictor, batch: np.ndarray) -> np.ndarray:
    """One logit per image of ``batch`` (N x 3 x H x W float32)."""
    if isinstance(model_or_predictor, paddle.nn.Layer):
        model_or_predictor.eval()
        out = main_logits(model_or_predictor(paddle.to_tensor(batch))).numpy()
    else:
        out = np.asarray(main_logits(model_or_predictor(batch)))
    if out.size != len(batch):
        raise ValueError(
            f"the model gives {out.size // max(len(batch), 1)} outputs per image; PM risk "
            "needs a network with one logit (num_classes=1)."
        )
    return out.reshape(-1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logits to probabilities (PM risk), ``1 / (1 + exp(-x))`` in float64,
    without overflow for large ``|x|``; what :func:`predict` reports."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def predict(model_or_predictor, paths, batch_size: int = 10):
    """PM risk of every image in ``paths`` (files or folders), as a
    DataFrame with columns ``FileName``, ``PM Risk``, ``Label``, in input order.

    Unreadable images are skipped, not fatal: ``frame.attrs["errors"]`` maps
    each of them (and each folder without images) to the reason.
    """
    import pandas as pd

    files, errors = expand_paths(paths)
    names, risks = [], []
    for start in range(0, len(files), batch_size):
        good, images = [], []
        for path in files[start:start + batch_size]:
            try:
                images.append(transform_img(read_image(path)))
                good.append(path)
            except ImageReadError as exc:
                errors[str(path)] = str(exc)
        if images:
            risks.append(sigmoid(logits_of(model_or_predictor, np.stack(images))))
            names.extend(p.name for p in good)
    risk = np.concatenate(risks) if risks else np.zeros(0)
    frame = pd.DataFrame({"FileName": names, "PM Risk": risk, "Label": (risk > 0.5).astype(int)},
                         columns=COLUMNS)
    frame.attrs["errors"] = errors
    return frame


def write_csv(frame, path) -> Path:
    """Write ``frame`` as CSV atomically (the old file stays intact until
    the new one is complete)."""
    return atomic_write_bytes(path, frame.to_csv(index=False).encode("utf-8"))


# ---------------------------------------------------------------- command line

def add_predict_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``predict`` options, for a stand-alone parser or a subcommand's.
    Values that cannot work (an input that does not exist, an ``--out`` that
    cannot be written, a batch size below 1, a malformed ``--net``) are
    rejected while parsing, naming the argument."""
    from ..netspec import net_spec_arg, parse_net_arg

    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", type=existing_path,
                        help="image files, or folders whose .jpg/.jpeg/.png files are all predicted")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="PREFIX",
                        help="a model exported with palm_utils.deploy.export_model (PREFIX.json or .pdmodel)")
    source.add_argument("--params", metavar="FILE", help="a .pdparams checkpoint (needs --net)")
    parser.add_argument("--net", metavar="NET", type=net_spec_arg,
                        help="the network the checkpoint belongs to")
    parser.add_argument("--net-arg", action="append", type=parse_net_arg, default=[], metavar="KEY=VALUE",
                        help="an argument of the network's class, e.g. depth=18 (repeatable)")
    parser.add_argument("--out", type=output_file, default=DEFAULT_OUT,
                        help=f"CSV to write (default {DEFAULT_OUT})")
    parser.add_argument("--batch-size", type=positive_int, default=10)
    return parser


def run_predict(args) -> int:
    """Run parsed ``predict`` arguments; returns the exit status: 0, or 1 when
    any image could not be read (the CSV of the others is written all the same;
    none when no image could be read), the model could not be loaded or the
    CSV not written."""
    if bool(args.params) == bool(args.model) or bool(args.net) != bool(args.params):
        print("error: give either --model PREFIX, or --params FILE with --net NET.", file=sys.stderr)
        return 2
    try:
        if args.model:
            from .export import load_predictor

            model = load_predictor(args.model)
        else:
            from ..netspec import load_network
            from ..runtime import select_device

            select_device(verbose=False)
            model = load_network(args.net, **dict(args.net_arg))
            load_params(model, args.params)
        frame = predict(model, args.inputs, batch_size=args.batch_size)
        errors = frame.attrs["errors"]
        for message in errors.values():
            print(f"error: {one_line(message)}", file=sys.stderr)
        if len(frame) == 0:
            return 1  # nothing to write
        out = write_csv(frame, args.out)
    except (OSError, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"Wrote {len(frame)} prediction(s) to {out}"
          + (f"; {len(errors)} input(s) failed (listed above)." if errors else "."))
    return 1 if errors else 0


def predict_main(argv=None) -> int:
    """``python -m palm_utils predict ...``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m palm_utils predict",
                                     description="Predict PM risk for fundus images into a CSV.")
    return run_predict(add_predict_arguments(parser).parse_args(argv))


if __name__ == "__main__":
    sys.exit(predict_main())
