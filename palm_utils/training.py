"""The training loop: :func:`train_pm` (PALM) and :func:`train_classifier` (MNIST).

The heart of it is :func:`train_one_epoch`, chapter 1's hand-written
``train_one_epoch`` step for step: forward, loss, backward, update, zero the
gradients. Everything else attaches to it without hiding it: mixed precision
is the ``scaler`` argument, and the NaN check, the running loss, the
progress bar and data parallelism's loss average are the ``after_step``
callback (:class:`StepMonitor`).

:func:`fit` calls it once per epoch, then validates, prints one line,
appends to the history, and saves atomically to ``save_dir``:

- ``palm.pdparams`` / ``palm.pdopt``  the latest epoch (resume from here);
- ``palm_best.pdparams``              the epoch with the best accuracy;
- ``history.json``                    the history so far, with run metadata.

Any network that outputs one logit per image trains with
``binary_cross_entropy_with_logits``. A network may also return a tuple
``(main, aux1, aux2, ...)`` in training mode (GoogLeNet's auxiliary
classifiers); their losses are added with weight ``aux_weight``.
``distributed=True`` runs the same loop in each process of a data-parallel
job (``paddle.distributed.launch``; see :mod:`palm_utils.distributed`).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from . import quick
from .checkpoint import atomic_write_json, load_checkpoint, save_optimizer, save_state
from .evaluation import evaluate_model, iterate, validation_row
from .loaders import default_train_loader, default_valid_loader
from .runtime import has_gpu, paddle
from .summary import count_flops, count_params

F = paddle.nn.functional

HISTORY_FILE = "history.json"


def train_one_epoch(model, optimizer, batches, loss_fn, scaler=None, after_step=None):
    """One pass over ``batches`` of ``(images, labels)``: chapter 1's loop.

    ``scaler`` (a ``paddle.amp.GradScaler``, GPU only) runs the forward pass
    in float16 and scales the loss before backward. ``after_step(loss,
    labels)`` runs after every step (:class:`StepMonitor`: NaN check,
    running loss, progress bar).
    """
    model.train()                                        # dropout on, BatchNorm learns
    for images, labels in batches:
        with paddle.amp.auto_cast(enable=scaler is not None):
            loss = loss_fn(model(images), labels)        # forward, then the loss
        if scaler is None:
            loss.backward()                              # backward: every gradient
            optimizer.step()                             # update the parameters
        else:                                            # mixed precision: scaled loss
            scaler.scale(loss).backward()
            scaler.step(optimizer)                       # unscale; skip the step on inf/NaN
            scaler.update()
        optimizer.clear_grad()                           # next batch starts from zero
        if after_step is not None:
            after_step(loss, labels)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


def load_history(path: str | Path) -> dict:
    """Read a ``history.json`` written by :func:`train_pm` (a file or the
    folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training history here; run train_pm first.")
    return json.loads(path.read_text(encoding="utf-8"))


def _bce_loss(aux_weight, label_smoothing=0.0):
    """``binary_cross_entropy_with_logits`` on the main head, plus
    ``aux_weight`` times the loss of each auxiliary head (GoogLeNet returns
    ``(main, aux1, aux2)`` in training mode). ``label_smoothing`` = eps
    trains against ``y * (1 - eps) + eps / 2`` (0.05 and 0.95 for eps 0.1),
    the two-class form of the Inception v3 paper's smoothing."""
    def loss(output, labels):
        if label_smoothing:
            labels = labels * (1 - label_smoothing) + label_smoothing / 2
        main, *aux = output if isinstance(output, (tuple, list)) else (output,)
        total = F.binary_cross_entropy_with_logits(main, labels)
        for head in aux:
            total = total + aux_weight * F.binary_cross_entropy_with_logits(head, labels)
        return total
    return loss


def _data_description() -> str | None:
    from .datasets.discovery import current_dataset

    info = current_dataset()
    if info is None:
        return None
    return "stand-in" if info.standin else "real PALM"


def _run_meta(model, name, input_size, data) -> dict:
    """The ``meta`` block of ``history.json``: what ran, where, at what cost
    (read back by :func:`~palm_utils.results.comparison_table`)."""
    return {"model": name or type(model).__name__, "device": paddle.get_device(),
            "params": count_params(model),
            "flops": count_flops(model, input_size), "data": data}


def _num_batches(loader):
    try:
        return len(loader)
    except TypeError:
        return getattr(loader, "num_batches", None)


class StepMonitor:
    """The ``after_step`` of :func:`train_one_epoch` that :func:`fit` uses:
    keeps the mean loss per sample, shows it on a progress bar, and raises
    :class:`TrainingDiverged` on a NaN or infinite loss. ``distributed=True``
    averages each step's loss over all processes first (one small
    all-reduce), so the mean is that of the whole training set and every
    process stops on the same NaN."""

    def __init__(self, desc="", total=None, progress=True, save_dir=None, distributed=False):
        self.desc, self.save_dir, self.distributed = desc, save_dir, distributed
        self.total_loss, self.count, self.step = 0.0, 0, 0
        self.bar = tqdm(total=total, file=sys.stdout, desc=desc, leave=False,
                        disable=not progress, dynamic_ncols=True, mininterval=1.0)

    def __call__(self, loss, labels):
        value, n = loss.item(), labels.shape[0]
        if self.distributed:
            from .distributed import global_mean_loss

            value, n = global_mean_loss(value, n)
        self.step += 1
        if not math.isfinite(value):
            self.close()
            where = f" in {self.save_dir}" if self.save_dir else ""
            raise TrainingDiverged(
                f"Loss is {value} at {self.desc or 'this epoch'}, batch {self.step}: training "
                "diverged. Lower the learning rate, check the input scaling, or resume from "
                f"the last good checkpoint{where}."
            )
        self.total_loss += value * n
        self.count += n
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{self.mean:.4f}", refresh=False)

    @property
    def mean(self) -> float:
        return self.total_loss / max(self.count, 1)

    def close(self):
        self.bar.close()


def fit(model, optimizer, train_loader, valid_loader, loss_fn, evaluate, epochs: int = 5,
        save_dir: str | Path = "checkpoints", resume: bool = False, amp: bool = False,
        name: str | None = None, progress: bool = True, prefix: str = "palm",
        input_size=(1, 3, 224, 224), data: str | None = None, report=None,
        distributed: bool = False, meta: dict | None = None) -> list[dict]:
    """The loop behind :func:`train_pm` and :func:`train_classifier`.

    Every epoch: :func:`train_one_epoch` over ``train_loader`` with
    ``loss_fn``, then ``evaluate(model, valid_loader)`` (a dict of ``val_*``
    values), one printed line (``report(row)``), and atomic saves in
    ``save_dir``: ``{prefix}.pdparams`` / ``{prefix}.pdopt`` (the latest
    epoch), ``{prefix}_best.pdparams`` (best ``val_acc``) and
    ``history.json``. ``resume=True`` continues from them. When ``evaluate``
    also returns ``predictions`` (per-image labels and probabilities), those
    of the best epoch are kept in ``history.json`` as ``best_predictions``,
    so that intervals can be computed again later. Returns the history.

    ``distributed=True``: one process of a data-parallel job (after
    ``paddle.distributed.init_parallel_env``). ``model`` is wrapped in
    ``paddle.DataParallel`` for training (unless it already is); the loaders
    hold this process's share; ``evaluate`` must combine all processes'
    shares (:func:`palm_utils.distributed.evaluate_gathered`); BatchNorm
    statistics are averaged after every epoch; only rank 0 prints and writes.
    """
    save_dir = Path(save_dir)
    net, main = model, True
    if distributed:
        from . import distributed as dp

        model, net, main = dp.unwrap(model), dp.wrap(model), dp.is_main()
        progress = progress and main
    say = print if main else (lambda *args, **kwargs: None)
    use_amp = bool(amp) and has_gpu()
    if amp and not use_amp:
        say("Mixed precision needs a GPU: training in float32 on the CPU.")
    scaler = paddle.amp.GradScaler() if use_amp else None

    history, start, best_predictions = [], 1, None
    meta = {**_run_meta(model, name, input_size, data), "amp": use_amp, **(meta or {})}
    if distributed:
        meta["world_size"] = dp.world_size()
    params_path, opt_path = save_dir / f"{prefix}.pdparams", save_dir / f"{prefix}.pdopt"
    if resume and params_path.is_file() and (save_dir / HISTORY_FILE).is_file():
        load_checkpoint(model, optimizer, params_path, opt_path)  # both checked before either is set
        saved = load_history(save_dir)
        history, best_predictions = saved["epochs"], saved.get("best_predictions")
        start = len(history) + 1
        say(f"Resuming after epoch {len(history)} from {params_path}")
    best_acc = max((h["val_acc"] for h in history), default=-1.0)

    for epoch in range(start, epochs + 1):
        t0 = time.perf_counter()
        monitor = StepMonitor(f"epoch {epoch}/{epochs}", _num_batches(train_loader), progress,
                              save_dir, distributed)
        try:
            train_one_epoch(net, optimizer, iterate(train_loader), loss_fn, scaler, monitor)
        finally:
            monitor.close()
        if distributed:
            dp.sync_state(model)  # BatchNorm running statistics: the same on every rank
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        row = {"epoch": epoch, "train_loss": monitor.mean, **evaluate(model, valid_loader),
               "seconds": seconds, "val_seconds": time.perf_counter() - t1}
        predictions = row.pop("predictions", None)  # kept for the best epoch only
        history.append(row)
        say(f"epoch {epoch}/{epochs}  train loss {monitor.mean:.4f}  {report(row)}  ({seconds:.1f} s)")

        improved = row["val_acc"] > best_acc
        if improved:
            best_acc = row["val_acc"]
            best_predictions = predictions and {"epoch": epoch, **predictions}
        if not main:
            continue
        save_state(model.state_dict(), params_path)
        save_optimizer(optimizer, model, opt_path)
        if improved:
            save_state(model.state_dict(), save_dir / f"{prefix}_best.pdparams")
        atomic_write_json(save_dir / HISTORY_FILE, {"meta": meta, "epochs": history,
                                                    "best_predictions": best_predictions})
    return history


def _plan(epochs: int, train_loader, distributed: bool = False) -> tuple[int, dict]:
    """How many epochs to run, and the run's ``quick`` flag for its history:
    where quick mode (:mod:`palm_utils.quick`) meets the number of epochs."""
    quiet = distributed and paddle.distributed.get_rank() != 0
    run = quick.epochs(epochs, _num_batches(train_loader), say=(lambda *a: None) if quiet else print)
    return run, {"quick": quick.LIMITS is not None}


def train_pm(model, optimizer, train_loader=None, valid_loader=None, epochs: int = 5,
             save_dir: str | Path = "checkpoints", resume: bool = False, amp: bool = False,
             aux_weight: float = 0.3, name: str | None = None, progress: bool = True,
             prefix: str = "palm", input_size=(1, 3, 224, 224),
             distributed: bool = False, label_smoothing: float = 0.0) -> list[dict]:
    """Train a one-logit ``model`` on PALM for ``epochs`` epochs, validating after each.

    ``train_loader`` / ``valid_loader`` may be course-style reader functions
    or ``paddle.io.DataLoader`` objects; by default they come from the dataset
    :func:`~palm_utils.find_dataset` found. The loss is
    ``binary_cross_entropy_with_logits`` (plus ``aux_weight`` times that of
    each auxiliary head); ``label_smoothing`` = eps trains against the targets
    ``y * (1 - eps) + eps / 2`` (validation always uses the true 0/1 labels).
    ``resume=True`` continues from the checkpoint and
    history in ``save_dir``. ``amp=True`` uses float16 mixed precision on a
    GPU (ignored, with a notice, on the CPU). Returns the history: one dict
    per epoch with ``epoch``, ``train_loss``, ``val_loss``, ``val_acc``,
    ``val_auc``, ``seconds`` (training time of the epoch) and ``val_seconds``.

    Raises :class:`TrainingDiverged` as soon as a loss is NaN or infinite.
    This is the loop chapter 1 writes out by hand, plus a progress bar, the
    NaN check, checkpoints, resume and mixed precision (see :func:`fit`).

    ``distributed=True`` in each process of ``paddle.distributed.launch``:
    pass this process's shares, :func:`palm_utils.distributed.train_loader`
    and :func:`~palm_utils.distributed.valid_loader`; the validation numbers
    cover the whole validation set and only rank 0 prints and writes.
    """
    metrics = evaluate_model
    if distributed:
        from .distributed import evaluate_gathered as metrics

        if train_loader is None or valid_loader is None:
            raise ValueError("distributed=True needs this process's train_loader and valid_loader "
                             "(palm_utils.distributed.train_loader / valid_loader).")
    train_loader = train_loader if train_loader is not None else default_train_loader()
    valid_loader = valid_loader if valid_loader is not None else default_valid_loader()
    epochs, meta = _plan(epochs, train_loader, distributed)
    if label_smoothing:
        meta["label_smoothing"] = label_smoothing

    def evaluate(model, loader):
        return validation_row(metrics(model, loader, keep_predictions=True))

    def report(row):
        return (f"val loss {row['val_loss']:.4f}  acc {row['val_acc']:.4f}  "
                f"auc {row['val_auc']:.4f}")

    return fit(model, optimizer, train_loader, valid_loader, _bce_loss(aux_weight, label_smoothing),
               evaluate, epochs=epochs, save_dir=save_dir, resume=resume, amp=amp, name=name,
               progress=progress, prefix=prefix, input_size=input_size,
               data=_data_description(), report=report, distributed=distributed, meta=meta)


@paddle.no_grad()
def _classification_eval(model, loader) -> dict:
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for images, labels in iterate(loader):
        logits = model(images)
        labels = labels.astype("int64").reshape([-1, 1])
        loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += int((logits.argmax(axis=1) == labels.reshape([-1])).sum().item())
        n += labels.shape[0]
    return {"val_loss": loss / n, "val_acc": correct / n}


def _cross_entropy(logits, labels):
    return F.cross_entropy(logits, labels.astype("int64").reshape([-1, 1]))


def train_classifier(model, optimizer, train_loader, valid_loader, epochs: int = 5,
                     save_dir: str | Path = "checkpoints/mnist", resume: bool = False,
                     amp: bool = False, name: str | None = None, progress: bool = True,
                     prefix: str = "model", input_size=(1, 1, 28, 28)) -> list[dict]:
    """Multi-class training with softmax cross-entropy (chapter 1's MNIST).

    The same loop and options as :func:`train_pm`; the loaders yield
    ``(images, int labels)`` (for example ``paddle.io.DataLoader`` over
    :func:`~palm_utils.load_mnist`). After every epoch it measures loss and
    accuracy on ``valid_loader`` (the test set; recorded as ``val_loss`` /
    ``val_acc``) and saves ``{prefix}.pdparams`` and ``history.json``.
    """
    source = getattr(getattr(train_loader, "dataset", None), "source", None)
    epochs, meta = _plan(epochs, train_loader)

    def report(row):
        return f"test loss {row['val_loss']:.4f}  test acc {row['val_acc']:.4f}"

    return fit(model, optimizer, train_loader, valid_loader, _cross_entropy, _classification_eval,
               epochs=epochs, save_dir=save_dir, resume=resume, amp=amp, name=name,
               progress=progress, prefix=prefix, input_size=input_size, data=source,
               report=report, meta=meta)
