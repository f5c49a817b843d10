"""Plots with matplotlib: sample images, training curves, confusion matrix.

Each function draws into a new figure and returns it, so a notebook shows it
and a script can ``fig.savefig(...)``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

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


def plot_history(history, title: str | None = None, baseline: float | None = None):
    """Loss (train and validation) and validation accuracy/AUC per epoch.

    ``history`` is what ``train_pm`` returns, or ``load_history(...)``.
    ``baseline`` draws the majority-class accuracy as a dashed line.
    """
    rows = history["epochs"] if isinstance(history, dict) else history
    epochs = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train loss")
    ax1.plot(epochs, [r["val_loss"] for r in rows], "s-", label="validation loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("BCE loss")
    ax1.legend()
    ax2.plot(epochs, [r["val_acc"] for r in rows], "o-", label="validation accuracy")
    if all("val_auc" in r for r in rows):
        ax2.plot(epochs, [r["val_auc"] for r in rows], "s-", label="validation AUC")
    if baseline is not None:
        ax2.axhline(baseline, color="gray", ls="--", label=f"majority baseline {baseline:.4f}")
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
