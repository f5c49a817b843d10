"""Data-parallel training over several processes (CPU with gloo, or GPUs).

Start every process with Paddle's launcher; each one runs the same command::

    python -m paddle.distributed.launch --nproc_per_node 2 --log_dir logs/launch \\
        "$(command -v python)" -m palm_utils train --net ... [options]

On a machine without CUDA the launcher gives each process
``PADDLE_DISTRI_BACKEND=gloo`` itself (nothing to set). Process ``r`` of
``n`` trains on every ``n``-th batch (:func:`train_loader`, a
``paddle.io.DistributedBatchSampler``); ``paddle.DataParallel`` averages the
gradients, so all ranks take the same step and keep the same weights. The
validation set is split the same way and the predictions are gathered
(:func:`evaluate_gathered`): the metrics cover every validation image, once.
Only rank 0 prints the epoch lines and writes checkpoints and histories.

Helpers here are no-ops in a single process (``rank() == 0``,
``world_size() == 1``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from .evaluation import Predictions, collect_predictions, metrics_from
from .runtime import has_gpu, paddle

dist = paddle.distributed


# --------------------------------------------------------------------------
# Who am I
# --------------------------------------------------------------------------

def launched_world_size() -> int:
    """Processes the launcher started (``PADDLE_TRAINERS_NUM``), 1 without it."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1)


def is_initialized() -> bool:
    try:
        return bool(dist.is_initialized())
    except Exception:
        return False


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def local_world_size() -> int:
    return int(os.environ.get("PADDLE_LOCAL_SIZE", world_size()) or 1)


def init() -> tuple[int, int]:
    """Join the process group when started by ``paddle.distributed.launch``
    with more than one process; returns ``(rank, world_size)``. Picks this
    rank's GPU, or on the CPU shares the cores among the local processes."""
    if launched_world_size() > 1 and not is_initialized():
        if has_gpu():
            paddle.set_device(f"gpu:{int(os.environ.get('FLAGS_selected_gpus', '0').split(',')[0])}")
        dist.init_parallel_env()
    return rank(), world_size()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


# --------------------------------------------------------------------------
# Models and tensors
# --------------------------------------------------------------------------

def unwrap(model):
    """The network inside a ``paddle.DataParallel`` (else ``model``)."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def wrap(model):
    """``paddle.DataParallel(model)`` when several processes run (it copies
    rank 0's weights to every rank); ``model`` itself otherwise."""
    if world_size() > 1 and not isinstance(model, paddle.DataParallel):
        return paddle.DataParallel(model)
    return model


def sync_state(model) -> None:
    """Average the floating-point state that gradients do not keep in step
    (BatchNorm's running mean and variance: non-trainable parameters and
    buffers), so that every rank holds the same network."""
    n = world_size()
    if n == 1:
        return
    core = unwrap(model)
    tensors = [p for p in core.parameters() if not p.trainable] + list(core.buffers())
    with paddle.no_grad():
        for t in tensors:
            if t.dtype in (paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64):
                total = t.detach().clone()
                dist.all_reduce(total)
                t.set_value(total / n)


def global_sums(*values: float) -> list[float]:
    """``values`` summed over all ranks (float64)."""
    if world_size() == 1:
        return [float(v) for v in values]
    t = paddle.to_tensor(np.asarray(values, dtype="float64"))
    dist.all_reduce(t)
    return [float(v) for v in t.numpy()]


def global_mean_loss(value: float, n: int) -> tuple[float, int]:
    """The per-sample mean loss of this step over all ranks and the number
    of samples it covers. NaN on every rank as soon as one rank's loss is
    not finite, so that all of them stop together (no rank is left waiting
    in a collective)."""
    bad = 0.0 if math.isfinite(value) else 1.0
    total, count, bad = global_sums(value * n if not bad else 0.0, n, bad)
    if bad:
        return (value if not math.isfinite(value) else float("nan")), int(count)
    return total / max(count, 1), int(count)


def fingerprint(model) -> str:
    """SHA-256 of the network's parameters and buffers (names sorted), to
    check that every rank ended with the same network."""
    import hashlib

    h = hashlib.sha256()
    state = unwrap(model).state_dict()
    for key in sorted(state):
        h.update(key.encode())
        h.update(np.ascontiguousarray(state[key].numpy()).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def shard(items, rank_: int | None = None, world: int | None = None) -> list:
    """This rank's share of ``items``: every ``world``-th one from ``rank``
    (shares differ by at most one item; together they hold each item once)."""
    r = rank() if rank_ is None else rank_
    n = world_size() if world is None else world
    return list(items)[r::n]


class _EpochLoader:
    """A ``DataLoader`` over a ``DistributedBatchSampler`` that reshuffles
    every epoch (``set_epoch``), with ``len`` = batches per epoch."""

    def __init__(self, loader, sampler, first_epoch=0):
        self.loader, self.sampler, self.epoch = loader, sampler, first_epoch

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def train_loader(dataset, batch_size: int = 10, seed: int = 0, first_epoch: int = 0,
                 num_workers: int = 0):
    """Batches of this rank's share of ``dataset`` (a
    :class:`~palm_utils.PalmDataset`), reshuffled every epoch; the same
    shuffle on every rank (seeded by ``seed`` and the epoch)."""
    sampler = paddle.io.DistributedBatchSampler(
        dataset, batch_size=batch_size, shuffle=True, drop_last=False,
        num_replicas=world_size(), rank=rank())
    loader = paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers)
    return _EpochLoader(loader, sampler, first_epoch=seed * 10_000 + first_epoch)


def valid_loader(dataset, batch_size: int = 10):
    """Batches of this rank's :func:`shard` of ``dataset``, in order
    (an empty list for a rank whose share is empty)."""
    from .loaders import PalmDataset

    part = PalmDataset(shard(dataset.samples), cache=dataset.cache)
    if len(part) == 0:
        return []
    return paddle.io.DataLoader(part, batch_size=batch_size, shuffle=False)


# --------------------------------------------------------------------------
# Evaluation over all ranks
# --------------------------------------------------------------------------

def _in_validation_order(parts: list[np.ndarray]) -> np.ndarray:
    """Rank ``r``'s j-th value is item ``r + j * world`` of the validation
    set (:func:`shard`): interleave the ranks' arrays back into that order."""
    world, total = len(parts), sum(len(p) for p in parts)
    if any(len(p) != len(range(r, total, world)) for r, p in enumerate(parts)):
        return np.concatenate(parts)
    out = np.empty(total, dtype=np.result_type(*parts) if parts else "float32")
    for r, part in enumerate(parts):
        out[r::world] = part
    return out


def evaluate_gathered(model, loader, keep_predictions: bool = False, ci: bool = True) -> dict:
    """:func:`~palm_utils.evaluate_model` over the union of every rank's
    ``loader`` (each rank passes its :func:`valid_loader` share): the
    predictions are gathered with ``all_gather_object`` and put back in
    validation-set order, so every rank gets the metrics of the whole
    validation set, each image counted once (``n`` says how many)."""
    local = collect_predictions(unwrap(model), loader)
    parts = [local]
    if world_size() > 1:
        parts = []
        dist.all_gather_object(parts, (local.probs, local.labels, local.loss_sum))
        parts = [Predictions(*p) for p in parts]
    gathered = Predictions(_in_validation_order([p.probs for p in parts]),
                           _in_validation_order([p.labels for p in parts]),
                           sum(p.loss_sum for p in parts))
    result = metrics_from(gathered, keep_predictions, ci)
    result["n"] = int(len(gathered.labels))
    return result
