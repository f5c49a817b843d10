"""``python -m palm_utils train``: train any network on PALM from the shell.

::

    python -m palm_utils train --net notebooks/05_resnet.ipynb:ResNet --epochs 5
    python -m palm_utils train --net resnet50 --optimizer adam --lr 1e-4 --augment
    python -m palm_utils train --net palm_utils.cli.demo:TinyNet --net-arg width=8

``--net`` is a :mod:`~palm_utils.netspec` spec. The data is what
:func:`~palm_utils.find_dataset` finds (or ``--data``); the loop is
:func:`~palm_utils.train_pm`. Beside its checkpoints and ``history.json`` in
``--save-dir`` the command writes ``config.json`` (arguments, versions,
device, data) and ``train.log`` (the printed lines), atomically. Both appear
only once the network is built and the data found: a run that fails before
training writes nothing.

Data parallel, one process per CPU share or GPU (see
:mod:`palm_utils.distributed`)::

    python -m paddle.distributed.launch --nproc_per_node 2 --log_dir logs/launch \\
        "$(command -v python)" -m palm_utils train --net ... [options]
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import re
import sys
import time
from pathlib import Path

from ..netspec import net_spec_arg, parse_net_arg
from . import args as checked

CONFIG_FILE = "config.json"
LOG_FILE = "train.log"
OPTIMIZERS = ("momentum", "adam", "sgd")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers`` (from
    ``parser.add_subparsers``); run it with :func:`run_train`."""
    p = subparsers.add_parser(
        "train", help="train a network (a chapter's class, a module's class or a paddle.vision model)",
        description=__doc__.split("\n\n")[0])
    _add_arguments(p)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--net", required=True, metavar="SPEC", type=net_spec_arg,
                   help="notebooks/NN_chapter.ipynb:ClassName (a class the chapter saves), "
                        "file.py:ClassName, package.module:ClassName, or a "
                        "paddle.vision.models name such as resnet50")
    p.add_argument("--net-arg", action="append", type=parse_net_arg, default=[], metavar="KEY=VALUE",
                   help="keyword argument for the network (repeatable; Python literals)")
    p.add_argument("--epochs", type=checked.positive_int, default=5)
    p.add_argument("--batch-size", type=checked.positive_int, default=10,
                   help="per process when data parallel")
    p.add_argument("--lr", type=checked.positive_float, default=0.001)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="momentum")
    p.add_argument("--momentum", type=checked.non_negative_float, default=0.9,
                   help="for --optimizer momentum")
    p.add_argument("--weight-decay", type=checked.non_negative_float, default=0.0,
                   help="L2 coefficient (0: none)")
    p.add_argument("--augment", action="store_true", help="random flips, rotations, brightness")
    p.add_argument("--label-smoothing", type=checked.fraction, default=0.0, metavar="EPS",
                   help="train against targets 1 - EPS/2 and EPS/2 (0: none; Inception v3: 0.1)")
    p.add_argument("--select", choices=("best", "last"), default="best",
                   help="the epoch reported on the test set: best on the held-out training "
                        "images (default), or the last")
    p.add_argument("--no-test", action="store_true",
                   help="measure nothing on the test set (for sweeps that choose settings on the "
                        "held-out images; single process only)")
    p.add_argument("--amp", action="store_true", help="float16 mixed precision (GPU only)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --save-dir")
    p.add_argument("--save-dir", type=checked.output_dir, default=None,
                   help="default checkpoints/<network name>")
    p.add_argument("--seed", type=checked.seed, default=2024)
    p.add_argument("--data", type=checked.existing_dir, default=None,
                   help="dataset root (default: see `python -m palm_utils info`)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = checked.Parser(prog="python -m palm_utils train", description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    return parser


def build_optimizer(name: str, parameters, lr: float, momentum: float = 0.9,
                    weight_decay: float = 0.0):
    """``momentum`` / ``adam`` / ``sgd`` with L2 ``weight_decay`` (0: none)."""
    from ..runtime import paddle

    decay = weight_decay or None
    if name == "momentum":
        return paddle.optimizer.Momentum(learning_rate=lr, momentum=momentum,
                                         parameters=parameters, weight_decay=decay)
    if name == "adam":
        return paddle.optimizer.Adam(learning_rate=lr, parameters=parameters, weight_decay=decay)
    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=lr, parameters=parameters, weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


class _LogTee(io.TextIOBase):
    """Passes writes on to ``stream`` and keeps each completed line (the
    last ``\\r`` segment, so progress bars drop out) in ``path``, rewritten
    atomically after every line from :meth:`start` on (the lines before are
    held until then, so a run that fails before it writes no log)."""

    def __init__(self, stream, path: Path, keep: str = ""):
        self.stream, self.path = stream, Path(path)
        self.lines = keep.splitlines()
        self.pending = ""
        self.started = False

    def start(self):
        self.started = True
        self.save()

    def write(self, text):
        self.stream.write(text)
        self.pending += text
        if "\n" in self.pending:
            *done, self.pending = self.pending.split("\n")
            added = False
            for line in done:
                line = _ANSI.sub("", line.rsplit("\r", 1)[-1]).rstrip()
                if line:
                    self.lines.append(line)
                    added = True
            if added and self.started:
                self.save()
        return len(text)

    def save(self):
        from ..checkpoint import atomic_write_bytes

        atomic_write_bytes(self.path, ("\n".join(self.lines) + "\n").encode("utf-8"))

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", "utf-8")


def _versions() -> dict:
    import numpy

    from .. import __version__
    from ..runtime import paddle

    return {"python": platform.python_version(), "paddle": paddle.__version__,
            "paddle_commit": getattr(paddle.version, "commit", None),
            "numpy": numpy.__version__, "palm_utils": __version__,
            "platform": platform.platform()}


def _device(world: int) -> dict:
    from ..runtime import cpu_threads_in_use, paddle

    return {"device": paddle.get_device(), "world_size": world,
            "backend": os.environ.get("PADDLE_DISTRI_BACKEND") if world > 1 else None,
            "cpu_threads_per_process": cpu_threads_in_use()}


def _default_save_dir(spec) -> str:
    return str(Path("checkpoints") / spec.name.lower())


RESUME_FILES = ("palm.pdparams", "palm.pdopt", "history.json")  # what train_pm resumes from


def _check_resumable(save_dir: Path) -> None:
    """FileNotFoundError unless ``save_dir`` holds a run to resume."""
    missing = [name for name in RESUME_FILES if not (save_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"--resume: nothing to resume in {save_dir} (no {', '.join(missing)}); give the "
            "--save-dir of the run to continue, or leave out --resume to start a new run.")


def _check_resume_fits(model, optimizer, save_dir: Path) -> None:
    """ParamsMismatch unless the checkpoint in ``save_dir`` loads into
    ``model`` and ``optimizer`` (as train_pm will load it), checked before
    the resumed run writes anything."""
    from ..checkpoint import check_optimizer_state, check_state, load_state

    params, opt = save_dir / RESUME_FILES[0], save_dir / RESUME_FILES[1]
    check_state(model, load_state(params), params)
    check_optimizer_state(optimizer, model, load_state(opt), opt)


def run_train(args) -> int:
    """Run the ``train`` subcommand for parsed ``args``; returns the exit
    code. Bad input raises before anything is written (an exception of
    :data:`~palm_utils.cli.args.EXPECTED`, which :func:`~palm_utils.cli.main`
    prints as one line); a failure once training has started is also the
    last line of ``train.log``."""
    from .. import distributed as pd_dist
    from .. import netspec

    spec = netspec.parse_spec(args.net)
    save_dir = Path(args.save_dir or _default_save_dir(spec))
    if args.resume:
        _check_resumable(save_dir)
    rank, world = pd_dist.init()
    if args.no_test and world > 1:
        raise ValueError("--no-test: runs in a single process only; drop it, or train without "
                         "paddle.distributed.launch")
    main = rank == 0
    tee = None
    if main:
        keep = ""
        if args.resume and (save_dir / LOG_FILE).is_file():
            keep = (save_dir / LOG_FILE).read_text(encoding="utf-8")
        tee = _LogTee(sys.stdout, save_dir / LOG_FILE, keep)
        sys.stdout = tee
    try:
        return _train(args, spec, save_dir, rank, world, tee)
    except checked.EXPECTED as exc:  # TrainingDiverged is a FloatingPointError
        if tee is not None and tee.started:
            tee.lines.append(checked.error_line(exc))
            try:
                tee.save()
            except OSError:
                pass  # the log cannot be written either: main() prints the error all the same
        raise
    finally:
        if tee is not None:
            sys.stdout = tee.stream


def _train(args, spec, save_dir: Path, rank: int, world: int, tee: _LogTee | None = None) -> int:
    import palm_utils as pu

    from .. import distributed as pd_dist
    from .. import netspec
    from ..checkpoint import atomic_write_json
    from ..runtime import configure_cpu, cpu_threads, has_gpu, paddle

    main = rank == 0
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if world == 1:
        pu.select_device(verbose=True)
    else:
        if not has_gpu():
            paddle.set_device("cpu")
            configure_cpu(max(1, cpu_threads() // pd_dist.local_world_size()))
        if main:
            print(f"Data parallel: {world} processes on {paddle.get_device()} "
                  f"(backend {os.environ.get('PADDLE_DISTRI_BACKEND', 'nccl')}), "
                  f"batch size {args.batch_size} per process")
    pu.set_seed(args.seed)

    # the network first: a spec or an argument it rejects fails at once
    net_kwargs = dict(args.net_arg)
    model = netspec.load_network(spec, **net_kwargs)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr,
                                momentum=args.momentum, weight_decay=args.weight_decay)
    if args.resume:
        _check_resume_fits(model, optimizer, save_dir)

    # rank 0 first: it may generate the stand-in, which the others then find
    info = pu.find_dataset(args.data, verbose=True) if main else None
    pd_dist.barrier()
    if not main:
        info = pu.find_dataset(args.data, verbose=False)
    if main:
        print(f"Network: {netspec.describe(spec)}"
              + (f" with {net_kwargs}" if net_kwargs else "")
              + f", {pu.count_params(model):,} parameters")

    config = {"args": {k: v for k, v in vars(args).items() if not callable(v)},
              "command": sys.argv, "network": netspec.describe(spec), "network_kwargs": net_kwargs,
              "save_dir": str(save_dir), "versions": _versions(), **_device(world),
              "data": {"root": str(info.root), "source": info.source, "standin": info.standin,
                       "train_counts": info.train_counts,
                       "valid_counts": {str(k): v for k, v in info.valid_counts.items()}},
              "quick": pu.quick.LIMITS is not None, "started": started}
    if main:
        atomic_write_json(save_dir / CONFIG_FILE, config)  # the run's first file
        if tee is not None:
            tee.start()

    common = dict(epochs=args.epochs, save_dir=save_dir, resume=args.resume, amp=args.amp,
                  name=spec.name, progress=not args.no_progress, select=args.select,
                  label_smoothing=args.label_smoothing)
    # train on the training images minus the held-out ones, choose the epoch
    # on those, report the chosen epoch once on the test set (the 400
    # validation images): see palm_utils.training.train_pm
    if world == 1:
        train = pu.data_loader(info.train_dir, batch_size=args.batch_size, augment=args.augment,
                               part="fit")
        holdout = pu.data_loader(info.train_dir, batch_size=args.batch_size, mode="valid",
                                 part="holdout")
        test = None if args.no_test else pu.valid_data_loader(info.valid_dir, info.label_file,
                                                              batch_size=args.batch_size)
        history = pu.train_pm(model, optimizer, train, holdout, test_loader=test, **common)
    else:
        done = 0
        if args.resume and (save_dir / "history.json").is_file():
            done = len(pu.load_history(save_dir)["epochs"])
        train_set = pu.PalmDataset.train(info.train_dir, part="fit", augment=args.augment,
                                         seed=args.seed + rank)
        holdout_set = pu.PalmDataset.train(info.train_dir, part="holdout")
        test_set = pu.PalmDataset.valid(info.valid_dir, info.label_file)
        train = pd_dist.train_loader(train_set, args.batch_size, seed=args.seed, first_epoch=done)
        holdout = pd_dist.valid_loader(holdout_set, args.batch_size)
        test = pd_dist.valid_loader(test_set, args.batch_size)
        history = pu.train_pm(model, optimizer, train, holdout, test_loader=test,
                              distributed=True, **common)

    print(f"rank {rank}/{world}: parameters sha256 {pd_dist.fingerprint(model)}")
    if main:
        config.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), epochs_done=len(history))
        atomic_write_json(save_dir / CONFIG_FILE, config)
        if history.test:
            print(f"Saved to {save_dir}: test acc {history.test['accuracy']:.4f}, AUC "
                  f"{history.test['auc']:.4f} at epoch {history.test['epoch']} "
                  f"(chosen on the held-out training images)")
    pd_dist.barrier()
    return 0


def train_main(argv=None) -> int:
    """``python -m palm_utils train`` with its own parser (``argv`` without
    the word ``train``)."""
    return checked.reporting(run_train, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(train_main())
