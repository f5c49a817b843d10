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
from .checkpoint import atomic_write_json, load_checkpoint, load_params, save_optimizer, save_state
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


class History(list):
    """What :func:`train_pm` returns: the list of epoch rows, plus ``test``
    (the test-set result of the chosen epoch, or ``None``) and ``meta``
    (what ran, and how the epoch was chosen), as in ``history.json``."""

    def __init__(self, rows=(), test=None, meta=None):
        super().__init__(rows)
        self.test, self.meta = test, meta or {}


SELECTIONS = ("best", "last")


def _better(row, best) -> bool:
    """The selection rule of ``select="best"``: higher accuracy on the
    held-out images, ties broken by lower loss there."""
    return best is None or (row["val_acc"], -row["val_loss"]) > (best["val_acc"], -best["val_loss"])


def fit(model, optimizer, train_loader, valid_loader, loss_fn, evaluate, epochs: int = 5,
        save_dir: str | Path = "checkpoints", resume: bool = False, amp: bool = False,
        name: str | None = None, progress: bool = True, prefix: str = "palm",
        input_size=(1, 3, 224, 224), data: str | None = None, report=None,
        distributed: bool = False, meta: dict | None = None, select: str = "best",
        test=None) -> History:
    """The loop behind :func:`train_pm` and :func:`train_classifier`.

    Every epoch: :func:`train_one_epoch` over ``train_loader`` with
    ``loss_fn``, then ``evaluate(model, valid_loader)`` (a dict of ``val_*``
    values), one printed line (``report(row)``), and atomic saves in
    ``save_dir``: ``{prefix}.pdparams`` / ``{prefix}.pdopt`` (the latest
    epoch), ``{prefix}_best.pdparams`` (the chosen epoch so far) and
    ``history.json``. ``resume=True`` continues from them.

    ``select``: ``"best"`` chooses the epoch with the best ``val_*`` numbers
    (:func:`_better`), ``"last"`` the last epoch. After the last epoch,
    ``test(model)`` (when given) measures the chosen epoch's parameters once
    on the test set; its dict is kept as ``test`` in ``history.json`` with
    the chosen ``epoch``. The model ends holding the chosen epoch's
    parameters when ``test`` is given, else the last epoch's.

    ``distributed=True``: one process of a data-parallel job (after
    ``paddle.distributed.init_parallel_env``). ``model`` is wrapped in
    ``paddle.DataParallel`` for training (unless it already is); the loaders
    hold this process's share; ``evaluate`` and ``test`` must combine all
    processes' shares (:func:`palm_utils.distributed.evaluate_gathered`);
    BatchNorm statistics are averaged after every epoch; only rank 0 prints
    and writes.
    """
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, not {select!r}")
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

    meta = {**_run_meta(model, name, input_size, data), "amp": use_amp, "epochs": epochs,
            **(meta or {})}
    if distributed:
        meta["world_size"] = dp.world_size()
    params_path, opt_path = save_dir / f"{prefix}.pdparams", save_dir / f"{prefix}.pdopt"
    best_path = save_dir / f"{prefix}_best.pdparams"
    history, result = History(meta=meta), None
    if resume and params_path.is_file() and (save_dir / HISTORY_FILE).is_file():
        saved = load_history(save_dir)
        load_checkpoint(model, optimizer, params_path, opt_path)  # both checked before either is set
        history.extend(saved["epochs"])
        result = saved.get("test")
        say(f"Resuming after epoch {len(history)} from {params_path}")
    chosen = None
    for row in history:
        chosen = row if select == "last" or _better(row, chosen) else chosen

    def save(with_test=None):
        if main:
            atomic_write_json(save_dir / HISTORY_FILE, {"meta": meta, "epochs": list(history),
                                                        "test": with_test})

    for epoch in range(len(history) + 1, epochs + 1):
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
        history.append(row)
        say(f"epoch {epoch}/{epochs}  train loss {monitor.mean:.4f}  {report(row)}  ({seconds:.1f} s)")
        improved = select == "last" or _better(row, chosen)
        chosen = row if improved else chosen
        if main:
            save_state(model.state_dict(), params_path)
            save_optimizer(optimizer, model, opt_path)
            if improved:
                save_state(model.state_dict(), best_path)
        result = None
        save()

    if test is not None and history:
        if chosen["epoch"] != history[-1]["epoch"]:
            load_params(model, best_path)  # the model ends holding the chosen epoch
        if result is None or result.get("epoch") != chosen["epoch"]:
            t0 = time.perf_counter()
            result = {"epoch": chosen["epoch"], **test(model), "seconds": time.perf_counter() - t0}
            save(result)
    history.test = result
    if result is not None:
        say(f"test ({result.get('n', '?')} images), epoch {result['epoch']} "
            f"({meta.get('selection', select)}): {report(result, test=True)}")
    return history


def _plan(epochs: int, train_loader, distributed: bool = False) -> tuple[int, dict]:
    """How many epochs to run, and the run's ``quick`` flag for its history:
    where quick mode (:mod:`palm_utils.quick`) meets the number of epochs."""
    quiet = distributed and paddle.distributed.get_rank() != 0
    run = quick.epochs(epochs, _num_batches(train_loader), say=(lambda *a: None) if quiet else print)
    return run, {"quick": quick.LIMITS is not None}


def _part(loader) -> str | None:
    """Which images a loader reads (``all``, ``fit``, ``holdout``, ``test``),
    when it says (palm_utils' readers and datasets do)."""
    return getattr(loader, "part", None) or getattr(getattr(loader, "dataset", None), "part", None)


def _json_ready(value):
    """Tuples as lists and NumPy scalars as Python numbers, for history.json."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _selection(select: str, valid_loader, epochs: int) -> str:
    """How the reported epoch is chosen, in words (kept in the history)."""
    if select == "last":
        return f"the last of {epochs} epochs (nothing chosen)"
    where = {"holdout": f"the {getattr(valid_loader, 'num_samples', None) or len(getattr(valid_loader, 'dataset', []))} "
                        "held-out training images",
             "test": "the test set itself (biased: the course's way, not to be reported)"}
    return (f"the best of {epochs} epochs by accuracy (ties: loss) on "
            f"{where.get(_part(valid_loader), 'the validation loader given')}")


def train_pm(model, optimizer, train_loader=None, valid_loader=None, epochs: int = 5,
             save_dir: str | Path = "checkpoints", resume: bool = False, amp: bool = False,
             aux_weight: float = 0.3, name: str | None = None, progress: bool = True,
             prefix: str = "palm", input_size=(1, 3, 224, 224),
             distributed: bool = False, label_smoothing: float = 0.0, test_loader=None,
             select: str = "best") -> History:
    """Train a one-logit ``model`` on PALM for ``epochs`` epochs, choose an
    epoch without looking at the test set, and measure that epoch once on it.

    By default (loaders from the dataset :func:`~palm_utils.find_dataset`
    found) the model trains on the training images minus a fixed held-out
    fifth (:func:`~palm_utils.loaders.split_holdout`), is validated on those
    held-out images after every epoch, and the epoch with the best held-out
    accuracy (``select="best"``; ``"last"`` keeps the last epoch) is measured
    once on the 400 PALM validation images, the series' test set.
    ``train_loader`` / ``valid_loader`` / ``test_loader`` may be
    course-style reader functions or ``paddle.io.DataLoader`` objects. A
    ``valid_loader`` of your own comes with the ``test_loader`` of your own:
    without one, nothing is measured on a test set (``.test`` is ``None``).

    The loss is ``binary_cross_entropy_with_logits`` (plus ``aux_weight``
    times that of each auxiliary head); ``label_smoothing`` = eps trains
    against the targets ``y * (1 - eps) + eps / 2`` (evaluation always uses
    the true 0/1 labels). ``resume=True`` continues from the checkpoint and
    history in ``save_dir``. ``amp=True`` uses float16 mixed precision on a
    GPU (ignored, with a notice, on the CPU).

    Returns a :class:`History`: one dict per epoch with ``epoch``,
    ``train_loss``, ``val_loss``, ``val_acc``, ``val_auc`` (held-out images),
    ``seconds`` (training time of the epoch) and ``val_seconds``; ``.test``
    holds the chosen epoch's test-set metrics (``accuracy``, ``auc``, their
    intervals, the confusion matrix, per-image ``predictions``).
    Raises :class:`TrainingDiverged` as soon as a loss is NaN or infinite.
    This is the loop chapter 1 writes out by hand, plus a progress bar, the
    NaN check, checkpoints, resume and mixed precision (see :func:`fit`).

    ``distributed=True`` in each process of ``paddle.distributed.launch``:
    pass this process's shares of all three loaders
    (:func:`palm_utils.distributed.train_loader` / ``valid_loader``); the
    numbers cover the whole sets and only rank 0 prints and writes.
    """
    metrics = evaluate_model
    if distributed:
        from .distributed import evaluate_gathered as metrics

        if train_loader is None or valid_loader is None or test_loader is None:
            raise ValueError("distributed=True needs this process's train_loader, valid_loader "
                             "and test_loader (palm_utils.distributed.train_loader / valid_loader).")
    if valid_loader is None:   # the found dataset's held-out images, and its test set
        valid_loader = default_train_loader(part="holdout")
        test_loader = test_loader if test_loader is not None else default_valid_loader()
    if train_loader is None:
        train_loader = default_train_loader()
    if _part(train_loader) == "all" and _part(valid_loader) == "holdout":
        raise ValueError("train_loader reads every training image, the held-out ones that choose "
                         "the epoch included: build it with part='fit', e.g. "
                         "pu.data_loader(train_dir, part='fit').")
    if _part(valid_loader) == "test" and select == "best":
        print("Note: choosing the epoch on the test set biases its numbers upward (the "
              "course's way); the series chooses on held-out training images.")
    epochs, meta = _plan(epochs, train_loader, distributed)
    meta["selection"] = _selection(select, valid_loader, epochs)
    if label_smoothing:
        meta["label_smoothing"] = label_smoothing

    def evaluate(model, loader):
        return validation_row(metrics(model, loader))

    def test(model):
        return _json_ready(metrics(model, test_loader, keep_predictions=True))

    if test_loader is None:
        test = None

    def report(row, test=False):
        if test:
            return f"loss {row['loss']:.4f}  acc {row['accuracy']:.4f}  auc {row['auc']:.4f}"
        return (f"val loss {row['val_loss']:.4f}  acc {row['val_acc']:.4f}  "
                f"auc {row['val_auc']:.4f}")

    return fit(model, optimizer, train_loader, valid_loader, _bce_loss(aux_weight, label_smoothing),
               evaluate, epochs=epochs, save_dir=save_dir, resume=resume, amp=amp, name=name,
               progress=progress, prefix=prefix, input_size=input_size,
               data=_data_description(), report=report, distributed=distributed, meta=meta,
               select=select, test=test)


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
                     prefix: str = "model", input_size=(1, 1, 28, 28)) -> History:
    """Multi-class training with softmax cross-entropy (chapter 1's MNIST).

    The same loop and options as :func:`train_pm`; the loaders yield
    ``(images, int labels)`` (for example ``paddle.io.DataLoader`` over
    :func:`~palm_utils.load_mnist`). After every epoch it measures loss and
    accuracy on ``valid_loader`` (the test set; recorded as ``val_loss`` /
    ``val_acc``) and saves ``{prefix}.pdparams`` and ``history.json``.
    Nothing is chosen on those numbers: the run's result is its last epoch.
    """
    source = getattr(getattr(train_loader, "dataset", None), "source", None)
    epochs, meta = _plan(epochs, train_loader)

    def report(row, test=False):
        return f"test loss {row['val_loss']:.4f}  test acc {row['val_acc']:.4f}"

    return fit(model, optimizer, train_loader, valid_loader, _cross_entropy, _classification_eval,
               epochs=epochs, save_dir=save_dir, resume=resume, amp=amp, name=name,
               progress=progress, prefix=prefix, input_size=input_size, data=source,
               report=report, meta={**meta, "selection": _selection("last", None, epochs)},
               select="last")
