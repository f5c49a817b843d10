"""The command line, ``python -m palm_utils COMMAND`` (or ``palm-utils COMMAND``).

- ``info``     the data that would be used, the device and quick mode
- ``demo``     an end-to-end check: a tiny CNN trained and evaluated (:mod:`.demo`)
- ``prepare``  the three AI Studio zips -> a dataset folder
- ``synth``    the generated stand-in dataset
- ``train``    train a chapter's network, one process or data parallel (:mod:`.train`)
- ``predict``  PM risk of new images into a CSV (:mod:`palm_utils.deploy.predict`)

:mod:`palm_utils.netspec` turns ``--net`` (a class a chapter saves in
:mod:`palm_utils.models`, ``file.py:Class``, ``module:Class`` or a
``paddle.vision.models`` name) into a network.

Bad input ends in one line on stderr, ``error: ...``, naming the argument or
file and what to do, and nothing half-written: values are checked as the
command line is parsed (:mod:`.args`, exit status 2), and what fails later
(a missing file, a network that rejects its arguments, a checkpoint of
another network) is reported by :func:`.args.reporting` (exit status 1).
"""
from __future__ import annotations

from pathlib import Path

from . import args as checked


def build_parser() -> checked.Parser:
    """The parser of every subcommand (``main`` parses with it)."""
    from .. import config
    from ..deploy.predict import add_predict_arguments
    from .train import add_train_parser

    parser = checked.Parser(prog="python -m palm_utils",
                            description="The shared code of the classic-CNN chapters on iChallenge-PM.")
    sub = parser.add_subparsers(dest="command", required=True)  # subparsers are Parsers too

    p = sub.add_parser("demo", help="find the data, train and evaluate a small CNN end to end")
    p.add_argument("--epochs", type=checked.positive_int, default=3)
    p.add_argument("--data", type=checked.existing_dir, help="dataset root (default: see `info`)")
    p.add_argument("--save-dir", type=checked.output_dir, default="checkpoints/demo")

    p = sub.add_parser("info", help="show the data that would be used, the device and quick mode")
    p.add_argument("--data", type=checked.existing_dir, help="dataset root")

    p = sub.add_parser("prepare", help="turn the three AI Studio zips into a dataset folder")
    p.add_argument("--src", type=checked.existing_dir, default=None,
                   help=f"folder of the zips (default {config.AISTUDIO_DEFAULT})")
    p.add_argument("--dest", type=checked.output_dir, default=None, help="output folder (default data/PALM)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")

    p = sub.add_parser("synth", help="generate the fundus-like stand-in dataset")
    p.add_argument("--dest", type=checked.output_dir, default=None,
                   help="output folder (default data/PALM-standin)")
    p.add_argument("--seed", type=checked.seed, default=0)
    p.add_argument("--size", type=checked.image_size, default=224, help="224, or WxH such as 2124x2056")
    p.add_argument("--force", action="store_true", help="regenerate even if present")

    add_train_parser(sub)
    add_predict_arguments(sub.add_parser("predict", help="PM risk of fundus images into a CSV"))
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the subcommand;
    returns the exit status. Bad input ends in one ``error:`` line on
    stderr: status 2 for what the parser rejects, 1 for what fails later
    (:func:`~palm_utils.cli.args.reporting`)."""
    args = build_parser().parse_args(argv)
    return checked.reporting(_run, args)


def _run(args) -> int:
    from .. import config

    if args.command == "train":
        from .train import run_train

        return run_train(args)
    if args.command == "predict":
        from ..deploy.predict import run_predict

        return run_predict(args)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(epochs=args.epochs, save_dir=args.save_dir, data_path=args.data)
    elif args.command == "info":
        from ..session import setup

        setup(args.data)
    elif args.command == "prepare":
        from ..datasets.aistudio import prepare_aistudio

        prepare_aistudio(Path(args.src or config.aistudio_dir()),
                         Path(args.dest or config.prepared_dir()), force=args.force)
    elif args.command == "synth":
        from ..datasets.standin import generate_standin

        root = generate_standin(Path(args.dest or config.standin_dir()), seed=args.seed,
                                size=args.size, overwrite=args.force)
        print(f"Stand-in dataset ready at {root}")
    return 0
