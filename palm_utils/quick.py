"""Quick mode: one setting, ``PALM_QUICK=1``, that makes every chapter run
in seconds (CI, nbval) without editing it.

The environment variable is read here and nowhere else, once, into
:data:`LIMITS` (``None`` for a full run). It is applied where a run chooses
its data and its length, and nowhere else:

- the loaders (:mod:`palm_utils.loaders`) take :func:`train_subset` and
  :func:`valid_subset` of the images when they list them;
- :func:`palm_utils.load_mnist` takes :func:`mnist_subset` of the digits;
- ``train_pm`` and ``train_classifier`` run :func:`epochs` epochs.

The training loop, the metrics and the plots never ask: they work on what
they are given. :func:`palm_utils.setup` prints :func:`announcement` once.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import config


@dataclass(frozen=True)
class Limits:
    """How much of a run quick mode keeps."""

    epochs: int = 1
    train_batches: int = 1
    valid_images: int = 10
    mnist_train: int = 200
    mnist_test: int = 100


#: The limits in force: :class:`Limits` under ``PALM_QUICK=1``, else ``None``.
LIMITS: Limits | None = Limits() if config.flag(config.ENV_QUICK) else None


def batches(n: int, kind: str = "") -> str:
    """``"1 batch"``, ``"3 batches"`` (``kind`` goes before the noun)."""
    return f"{n} {kind}batch" + ("" if n == 1 else "es")


def announcement() -> str:
    """One line saying whether quick mode is on and what it keeps."""
    if LIMITS is None:
        return f"Full run (set {config.ENV_QUICK}=1 for a quick check)."
    return (f"Quick mode ({config.ENV_QUICK}=1): at most {LIMITS.epochs} epoch(s), "
            f"{batches(LIMITS.train_batches, 'training ')} per epoch, "
            f"{LIMITS.valid_images} validation images.")


def spread(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items`` (keeps both classes present)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def train_subset(samples: list, batch_size: int) -> list:
    """The training images a run uses: all of them, or under quick mode
    enough for :attr:`Limits.train_batches` batches, evenly spread."""
    return samples if LIMITS is None else spread(samples, LIMITS.train_batches * batch_size)


def valid_subset(samples: list) -> list:
    """The validation images a run uses: all, or :attr:`Limits.valid_images`
    evenly spread over them."""
    return samples if LIMITS is None else spread(samples, LIMITS.valid_images)


def mnist_subset(count: int, mode: str):
    """Indices of the MNIST digits a run uses (``slice(None)`` for all), a
    fixed random draw under quick mode."""
    if LIMITS is None:
        return slice(None)
    import numpy as np

    cap = LIMITS.mnist_train if mode == "train" else LIMITS.mnist_test
    return np.random.default_rng(0).permutation(count)[:cap]


def epochs(requested: int, batches_per_epoch: int | None = None, say=print) -> int:
    """The number of epochs a run trains: ``requested``, or at most
    :attr:`Limits.epochs` under quick mode, which ``say`` announces (with
    ``batches_per_epoch``, what the loaders kept)."""
    if LIMITS is None:
        return requested
    run = min(requested, LIMITS.epochs)
    per_epoch = "" if batches_per_epoch is None else f", {batches(batches_per_epoch)} per epoch"
    say(f"quick mode: {run} of {requested} epochs{per_epoch} (unset {config.ENV_QUICK} for the full run)")
    return run
