"""Plots with matplotlib: sample images, training curves (one run, several
side by side, or a controlled experiment's seeds), confusion matrix.

Each function draws into a new figure and returns it, so a notebook shows it
and a script can ``fig.savefig(...)``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from .metrics import majority_baseline
from .reader import IMAGE_CACHE

CLASS_NAMES = ("non-PM (0)", "PM (1)")


def show_samples(samples, n: int = 6, cols: int = 6, title: str | None = None):
    """Images side by side with their labels; ``samples`` are ``(path, label)``
    pairs (for example ``training_samples(folder)``)."""
    samples = list(samples)[:n]
    rows = max(1, int(np.ceil(len(samples) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (path, label) in zip(axes.ravel(), samples):
        ax.imshow(IMAGE_CACHE.get(path))
        ax.set_title(f"{path.name}\nlabel {label}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _rows(history) -> list[dict]:
    return history["epochs"] if isinstance(history, dict) else list(history)


def _baseline_value(baseline) -> float | None:
    """A number, or anything :func:`~palm_utils.metrics.majority_baseline`
    takes (``session.data``, labels, a dataset)."""
    if baseline is None or isinstance(baseline, (int, float, np.number)):
        return baseline
    return majority_baseline(baseline)


def _draw_baseline(ax, baseline) -> None:
    baseline = _baseline_value(baseline)
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", label=f"majority baseline {baseline:.4f}")


def _band(ax, rows, key, color, label=None) -> None:
    """The 95 % interval ``key`` (``val_acc_ci``) as a shaded band, when
    every row has one."""
    if rows and all(r.get(key) for r in rows):
        low, high = zip(*(r[key] for r in rows))
        ax.fill_between([r["epoch"] for r in rows], low, high, color=color, alpha=0.15,
                        lw=0, label=label)


def _test_of(history):
    """The test-set result a history keeps for its chosen epoch, if any."""
    return history.get("test") if isinstance(history, dict) else getattr(history, "test", None)


def plot_history(history, title: str | None = None, baseline=None):
    """Loss (train and validation) and validation accuracy/AUC per epoch,
    and the chosen epoch's test-set accuracy as a star.

    ``history`` is what ``train_pm`` returns, or ``load_history(...)``. Its
    validation rows are those of the held-out training images when the run
    kept a test result (``train_pm`` today), and are labelled so.
    ``baseline`` draws the majority-class accuracy as a dashed line: a number,
    or what :func:`~palm_utils.metrics.majority_baseline` takes
    (``session.data``). When the rows hold 95 % intervals (``val_acc_ci``,
    ``val_auc_ci``), they are drawn as shaded bands.
    """
    rows, test = _rows(history), _test_of(history)
    where = "held-out" if test else "validation"
    epochs = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train loss")
    ax1.plot(epochs, [r["val_loss"] for r in rows], "s-", label=f"{where} loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("BCE loss")
    ax1.legend()
    ax2.plot(epochs, [r["val_acc"] for r in rows], "o-", color="C0", label=f"{where} accuracy")
    _band(ax2, rows, "val_acc_ci", "C0", "95 % CI")
    if all("val_auc" in r for r in rows):
        ax2.plot(epochs, [r["val_auc"] for r in rows], "s-", color="C1", label=f"{where} AUC")
        _band(ax2, rows, "val_auc_ci", "C1")
    if test:
        ax2.plot([test["epoch"]], [test["accuracy"]], "*", ms=14, color="C3",
                 label=f"test accuracy, epoch {test['epoch']}: {test['accuracy']:.4f}")
    _draw_baseline(ax2, baseline)
    ax2.set_xlabel("epoch")
    ax2.set_ylim(0, 1.02)
    ax2.legend(loc="lower right")
    for ax in (ax1, ax2):
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_runs(runs: dict, title: str | None = None, baseline=None, log_loss: bool = False,
              metric: str = "val_acc"):
    """Several runs on one pair of axes: train (solid) and validation
    (dashed) loss per epoch on the left, validation accuracy on the right,
    one colour per run. The validation rows are the held-out training
    images' when every run kept a test result, and are labelled so.

    ``runs``: ``{name: history}`` (what ``train_pm`` returns, or
    ``load_history(...)``). ``baseline`` as in :func:`plot_history`;
    ``log_loss=True`` puts the loss on a log scale; ``metric="val_auc"``
    plots the AUC instead of the accuracy.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ticks = set()
    for i, (name, history) in enumerate(runs.items()):
        rows, color = _rows(history), f"C{i}"
        epochs = [r["epoch"] for r in rows]
        ticks.update(epochs)
        ax1.plot(epochs, [r["train_loss"] for r in rows], "o-", color=color, label=f"train, {name}")
        where = "held-out" if _test_of(history) else "validation"
        ax1.plot(epochs, [r["val_loss"] for r in rows], "s--", color=color,
                 label=f"{where}, {name}")
        ax2.plot(epochs, [r[metric] for r in rows], "o-", color=color, label=name)
        _band(ax2, rows, f"{metric}_ci", color)
    _draw_baseline(ax2, baseline)
    ax1.set_ylabel("BCE loss (log scale)" if log_loss else "BCE loss")
    if log_loss:
        ax1.set_yscale("log")
    where = "held-out" if runs and all(_test_of(h) for h in runs.values()) else "validation"
    ax2.set_ylabel({"val_acc": f"{where} accuracy", "val_auc": f"{where} AUC"}.get(metric, metric))
    ax2.set_ylim(0, 1.02)
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.set_xticks(sorted(ticks))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_seed_losses(arms: dict, title: str | None = None, log_loss: bool = False):
    """The training loss per epoch of a controlled experiment's two arms,
    every seed of each: one colour per arm, one marker per seed, so that a
    seed's pair is easy to find. ``arms``: ``{name: {seed: history}}``
    (:func:`palm_utils.results.ablation`'s ``histories``)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    markers = "osD^v<>"
    ticks = set()
    for i, (name, seeds) in enumerate(arms.items()):
        for j, (seed, history) in enumerate(sorted(seeds.items())):
            rows = _rows(history)
            epochs = [r["epoch"] for r in rows]
            ticks.update(epochs)
            ax.plot(epochs, [r["train_loss"] for r in rows], marker=markers[j % len(markers)],
                    ls="-" if i == 0 else "--", color=f"C{i}", label=f"{name}, seed {seed}")
    ax.set_xlabel("epoch")
    ax.set_xticks(sorted(ticks))
    ax.set_ylabel("training loss (BCE, log scale)" if log_loss else "training loss (BCE)")
    if log_loss:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_confusion(result: dict, title: str | None = None):
    """The confusion matrix of an ``evaluation`` result."""
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ConfusionMatrixDisplay(np.array(result["confusion_matrix"]),
                           display_labels=CLASS_NAMES).plot(ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title or f"accuracy {result['accuracy']:.3f}, AUC {result['auc']:.3f}")
    fig.tight_layout()
    return fig


def show_digits(dataset, n: int = 10, cols: int = 10):
    """The first ``n`` digits of an MNIST dataset with their labels."""
    rows = max(1, int(np.ceil(n / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.45 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, ax in zip(range(n), axes.ravel()):
        ax.imshow(dataset.images[i], cmap="gray")
        ax.set_title(str(int(dataset.labels[i])), fontsize=10)
    fig.tight_layout()
    return fig
