"""Data loaders, in the two forms the course and Paddle use.

1. The course's generator API: :func:`data_loader` and
   :func:`valid_data_loader` return a *reader* function; each call of the
   reader is one epoch and yields ``(images, labels)`` batches as NumPy arrays,
   float32 ``[N, 3, 224, 224]`` and float32 ``[N, 1]``.
2. :class:`PalmDataset`, a ``paddle.io.Dataset`` for ``paddle.io.DataLoader``
   (workers, ``paddle.Model.fit``).

Every loader lists its images through :func:`_train_samples` or
:func:`_valid_samples`, the one place where quick mode applies. Both forms
decode through the shared :data:`~palm_utils.reader.IMAGE_CACHE`, so a
second epoch decodes nothing. Training order is reshuffled every epoch.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np

from . import quick
from .augment import random_augment
from .labels import training_samples, validation_samples
from .reader import IMAGE_CACHE, ImageCache, transform_img
from .runtime import paddle


def make_augmenter(augment, seed=None):
    """``None`` when ``augment`` is falsy; otherwise a function applying
    :func:`~palm_utils.augment.random_augment` with a seeded generator.
    ``augment`` is ``True`` (defaults) or a dict of its options, e.g.
    ``dict(max_rotate=0, brightness=0)`` for flips only. Without ``seed`` the
    generator is seeded from NumPy's global state, which
    :func:`~palm_utils.runtime.set_seed` fixes, so runs still repeat."""
    if not augment:
        return None
    options = augment if isinstance(augment, dict) else {}
    rng = np.random.default_rng(seed if seed is not None else np.random.randint(2**31 - 1))
    return lambda img: random_augment(img, rng, **options)


def _train_samples(datadir, batch_size):
    """The ``(path, label)`` pairs a training loader reads: every loader
    lists its images here, where quick mode (:mod:`palm_utils.quick`) is
    applied."""
    return quick.train_subset(training_samples(datadir), batch_size)


def _valid_samples(datadir, label_file):
    """The ``(path, label)`` pairs a validation loader reads (see
    :func:`_train_samples`)."""
    return quick.valid_subset(validation_samples(datadir, label_file))


def _batches(samples, batch_size, cache, augmenter=None):
    """Decode (through the cache), transform and stack ``samples``."""
    cache.preload([p for p, _ in samples])
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        imgs = []
        for path, _ in chunk:
            img = cache.get(path)
            if augmenter is not None:
                img = augmenter(img)
            imgs.append(transform_img(img))
        labels = np.array([lab for _, lab in chunk], dtype="float32").reshape(-1, 1)
        yield np.stack(imgs).astype("float32"), labels


def data_loader(datadir, batch_size=10, mode="train", augment=False, seed=None,
                cache: ImageCache = IMAGE_CACHE):
    """Reader over the training folder; labels from file names.

    ``mode='train'`` shuffles anew each epoch (each call of the reader);
    ``seed`` makes that order repeatable, otherwise Python's ``random`` (seeded
    by :func:`~palm_utils.runtime.set_seed`) decides. ``augment=True`` applies
    :func:`~palm_utils.augment.random_augment` to every training image; a dict
    passes its options (see :func:`make_augmenter`).
    """
    samples = _train_samples(datadir, batch_size)
    rng = random.Random(seed) if seed is not None else random
    augmenter = make_augmenter(augment, seed)

    def reader():
        order = list(samples)
        if mode == "train":
            rng.shuffle(order)
        yield from _batches(order, batch_size, cache, augmenter)

    return _described(reader, samples, batch_size)


def valid_data_loader(datadir, csvfile, batch_size=10, mode="valid",
                      cache: ImageCache = IMAGE_CACHE):
    """Reader over the validation folder with labels from ``csvfile`` (the
    original ``PM_Label_and_Fovea_Location.xlsx`` or an equivalent CSV)."""
    samples = _valid_samples(datadir, csvfile)

    def reader():
        yield from _batches(samples, batch_size, cache)

    return _described(reader, samples, batch_size)


def _described(reader, samples, batch_size):
    """A reader with ``num_samples``, ``num_batches`` and ``labels`` (what
    :func:`~palm_utils.metrics.majority_baseline` and progress bars read)."""
    reader.num_samples = len(samples)
    reader.num_batches = math.ceil(len(samples) / batch_size)
    reader.labels = np.array([lab for _, lab in samples])
    return reader


def default_train_loader(batch_size: int = 10):
    """:func:`data_loader` over the training images of the dataset
    :func:`~palm_utils.find_dataset` found (what ``train_pm`` uses by default)."""
    from .datasets.discovery import default_dataset

    return data_loader(default_dataset().train_dir, batch_size=batch_size, mode="train")


def default_valid_loader(batch_size: int = 10):
    """:func:`valid_data_loader` over the validation images of the dataset
    :func:`~palm_utils.find_dataset` found (what ``train_pm`` and
    ``evaluation`` use by default)."""
    from .datasets.discovery import default_dataset

    info = default_dataset()
    return valid_data_loader(info.valid_dir, info.label_file, batch_size=batch_size)


class PalmDataset(paddle.io.Dataset):
    """``paddle.io.Dataset`` of ``(image [3,224,224] float32, label [1] float32)``.

    Build one with :meth:`train` or :meth:`valid`, or from a list of
    ``(path, label)`` pairs. Works with ``paddle.io.DataLoader`` (including
    ``num_workers``; images decoded before the workers start are shared with
    them) and with ``paddle.Model.fit``.
    """

    def __init__(self, samples, augment=False, seed=None, cache: ImageCache = IMAGE_CACHE):
        super().__init__()
        self.samples = [(Path(p), int(lab)) for p, lab in samples]
        self.cache = cache
        self._augmenter = make_augmenter(augment, seed)

    @classmethod
    def train(cls, datadir, **kwargs):
        """The training images of ``datadir`` (labels from file names)."""
        return cls(_train_samples(datadir, batch_size=10), **kwargs)

    @classmethod
    def valid(cls, datadir, label_file, **kwargs):
        """The validation images of ``datadir``, labels from ``label_file``."""
        return cls(_valid_samples(datadir, label_file), **kwargs)

    def preload(self, workers=None):
        """Decode all images now, in parallel threads."""
        self.cache.preload([p for p, _ in self.samples], workers)
        return self

    def __getitem__(self, idx):
        path, label = self.samples[idx]
        img = self.cache.get(path)
        if self._augmenter is not None:
            img = self._augmenter(img)
        return transform_img(img), np.array([label], dtype="float32")

    def __len__(self):
        return len(self.samples)

    @property
    def labels(self):
        return np.array([lab for _, lab in self.samples])
