"""Quick mode: ``PALM_QUICK=1`` caps the work so notebooks execute in
seconds (CI, nbval) without editing them.

Under quick mode the loaders yield at most :data:`TRAIN_BATCHES` training
batches per epoch and a :data:`VALID_IMAGES`-image validation subset, and
``train_pm`` runs at most :data:`EPOCHS` epochs. The first check prints one
line saying so.
"""
from __future__ import annotations

from .datasets import config

EPOCHS = 1
TRAIN_BATCHES = 1
VALID_IMAGES = 10
MNIST_TRAIN = 200
MNIST_TEST = 100

_announced = False


def is_quick(announce: bool = True) -> bool:
    """True under ``PALM_QUICK=1``; announces it once per process."""
    global _announced
    on = config.flag(config.ENV_QUICK)
    if on and announce and not _announced:
        _announced = True
        print(
            f"Quick mode (PALM_QUICK=1): at most {EPOCHS} epoch(s), "
            f"{batches(TRAIN_BATCHES, 'training ')} per epoch, {VALID_IMAGES} validation images."
        )
    return on


def batches(n: int, kind: str = "") -> str:
    """``"1 batch"``, ``"3 batches"`` (``kind`` goes before the noun)."""
    return f"{n} {kind}batch" + ("" if n == 1 else "es")


def cap_epochs(epochs: int) -> int:
    return min(epochs, EPOCHS) if is_quick() else epochs


def subsample(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items`` (keeps both classes present)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
