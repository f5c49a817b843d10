"""The training loop: :func:`train_pm`, shared by every chapter.

Any network that outputs one logit per image trains here with
``binary_cross_entropy_with_logits``. A network may also return a tuple
``(main, aux1, aux2, ...)`` in training mode (GoogLeNet's auxiliary
classifiers); their losses are added with weight ``aux_weight``.

After every epoch the loop validates, prints one line, appends to the
history, and saves atomically to ``save_dir``:

- ``palm.pdparams`` / ``palm.pdopt``  the latest epoch (resume from here);
- ``palm_best.pdparams``              the epoch with the best accuracy;
- ``history.json``                    the history so far, with run metadata.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from tqdm import tqdm

from . import quick
from .checkpoint import atomic_write_json, load_optimizer, load_state, save_optimizer, save_state
from .evaluation import default_valid_loader, evaluate_model, iterate
from .runtime import has_gpu, paddle

F = paddle.nn.functional

HISTORY_FILE = "history.json"


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


def default_train_loader(batch_size: int = 10):
    from .discovery import default_dataset
    from .loaders import data_loader

    return data_loader(default_dataset().train_dir, batch_size=batch_size, mode="train")


def _loss(output, labels, aux_weight):
    if isinstance(output, (tuple, list)):
        main, *aux = output
        loss = F.binary_cross_entropy_with_logits(main, labels)
        for a in aux:
            loss = loss + aux_weight * F.binary_cross_entropy_with_logits(a, labels)
        return loss
    return F.binary_cross_entropy_with_logits(output, labels)


def _data_description() -> str | None:
    from . import discovery

    info = discovery._DEFAULT
    if info is None:
        return None
    return "stand-in" if info.standin else "real PALM"


def _num_batches(loader):
    try:
        return len(loader)
    except TypeError:
        return getattr(loader, "num_batches", None)


def train_pm(model, optimizer, train_loader=None, valid_loader=None, epochs: int = 5,
             save_dir: str | Path = "checkpoints", resume: bool = False, amp: bool = False,
             aux_weight: float = 0.3, name: str | None = None, progress: bool = True,
             prefix: str = "palm") -> list[dict]:
    """Train ``model`` for ``epochs`` epochs, validating after each.

    ``train_loader`` / ``valid_loader`` may be course-style reader functions
    or ``paddle.io.DataLoader`` objects; by default they come from the dataset
    :func:`~palm_utils.discovery.find_dataset` found. ``resume=True``
    continues from the checkpoint and history in ``save_dir``. ``amp=True``
    uses float16 mixed precision on a GPU (ignored, with a notice, on the
    CPU). Returns the history: one dict per epoch with ``epoch``,
    ``train_loss``, ``val_loss``, ``val_acc``, ``val_auc``, ``seconds``
    (training time of the epoch) and ``val_seconds``.

    Raises :class:`TrainingDiverged` as soon as a loss is NaN or infinite.
    """
    save_dir = Path(save_dir)
    train_loader = train_loader if train_loader is not None else default_train_loader()
    valid_loader = valid_loader if valid_loader is not None else default_valid_loader()
    epochs = quick.cap_epochs(epochs)
    use_amp = bool(amp) and has_gpu()
    if amp and not use_amp:
        print("Mixed precision needs a GPU: training in float32 on the CPU.")
    scaler = paddle.amp.GradScaler() if use_amp else None

    history, start = [], 1
    meta = {"model": name or type(model).__name__, "device": paddle.get_device(),
            "quick": quick.is_quick(announce=False), "amp": use_amp,
            "params": int(sum(p.size for p in model.parameters())),
            "data": _data_description()}
    params_path, opt_path = save_dir / f"{prefix}.pdparams", save_dir / f"{prefix}.pdopt"
    if resume and params_path.is_file() and (save_dir / HISTORY_FILE).is_file():
        model.set_state_dict(load_state(params_path))
        load_optimizer(optimizer, model, opt_path)
        history = load_history(save_dir)["epochs"]
        start = len(history) + 1
        print(f"Resuming after epoch {len(history)} from {save_dir}/{prefix}.pdparams")
    best_acc = max((h["val_acc"] for h in history), default=-1.0)

    for epoch in range(start, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, count = 0.0, 0
        bar = tqdm(iterate(train_loader), total=_num_batches(train_loader), file=sys.stdout,
                   desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress,
                   dynamic_ncols=True, mininterval=1.0)
        for step, (images, labels) in enumerate(bar, 1):
            with paddle.amp.auto_cast(enable=use_amp):
                loss = _loss(model(images), labels, aux_weight)
            value = loss.item()
            if not math.isfinite(value):
                bar.close()
                raise TrainingDiverged(
                    f"Loss is {value} at epoch {epoch}, batch {step}: training diverged. "
                    "Lower the learning rate, check the input scaling, or resume from "
                    f"the last good checkpoint in {save_dir}."
                )
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.minimize(optimizer, loss)
            else:
                loss.backward()
                optimizer.step()
            optimizer.clear_grad()
            total += value * labels.shape[0]
            count += labels.shape[0]
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        bar.close()
        seconds = time.perf_counter() - t0

        t1 = time.perf_counter()
        result = evaluate_model(model, valid_loader)
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "val_loss": result["loss"],
               "val_acc": result["accuracy"], "val_auc": result["auc"],
               "seconds": seconds, "val_seconds": time.perf_counter() - t1}
        history.append(row)
        print(f"epoch {epoch}/{epochs}  train loss {row['train_loss']:.4f}  "
              f"val loss {row['val_loss']:.4f}  acc {row['val_acc']:.4f}  "
              f"auc {row['val_auc']:.4f}  ({seconds:.1f} s)")

        save_state(model.state_dict(), params_path)
        save_optimizer(optimizer, model, opt_path)
        if row["val_acc"] > best_acc:
            best_acc = row["val_acc"]
            save_state(model.state_dict(), save_dir / f"{prefix}_best.pdparams")
        atomic_write_json(save_dir / HISTORY_FILE, {"meta": meta, "epochs": history})
    return history
