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


#: The share of the training images held out to choose the epoch (and, in
#: the comparisons, the recipe), and the seed of that split. Fixed, so that
#: every run of the series holds out the same images.
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0
PARTS = ("all", "fit", "holdout")


def split_holdout(samples, fraction: float = HOLDOUT_FRACTION, seed: int = HOLDOUT_SEED):
    """Split training ``(path, label)`` pairs into ``(fit, holdout)``:
    ``fraction`` of each group of file-name letters (H, N, P) held out,
    drawn with Python's ``random`` (the same on every platform and NumPy).
    The 400 validation images are the test set and take no part in this."""
    groups: dict[str, list] = {}
    for item in sorted(samples, key=lambda s: Path(s[0]).name):
        groups.setdefault(Path(item[0]).name[:1].upper(), []).append(item)
    rng = random.Random(seed)
    held = set()
    for letter in sorted(groups):
        members = list(groups[letter])
        rng.shuffle(members)
        held.update(Path(p).name for p, _ in members[:round(fraction * len(members))])
    fit = [s for s in samples if Path(s[0]).name not in held]
    return fit, [s for s in samples if Path(s[0]).name in held]


def _train_samples(datadir, batch_size, part="all"):
    """The ``(path, label)`` pairs a training loader reads: every loader
    lists its images here, where the held-out split (``part``: ``"all"``,
    ``"fit"`` or ``"holdout"``) and quick mode (:mod:`palm_utils.quick`) are
    applied."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    samples = training_samples(datadir)
    if part != "all":
        samples = split_holdout(samples)[part == "holdout"]
    if part == "holdout":
        return quick.valid_subset(samples)
    return quick.train_subset(samples, batch_size)


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
                cache: ImageCache = IMAGE_CACHE, part: str = "all"):
    """Reader over the training folder; labels from file names.

    ``part``: ``"all"`` the whole folder (the course's reader), ``"fit"``
    without the held-out images (:func:`split_holdout`), ``"holdout"`` only
    those (what ``train_pm`` chooses the epoch on).

    ``mode='train'`` shuffles anew each epoch (each call of the reader);
    ``seed`` makes that order repeatable, otherwise Python's ``random`` (seeded
    by :func:`~palm_utils.runtime.set_seed`) decides. ``augment=True`` applies
    :func:`~palm_utils.augment.random_augment` to every training image; a dict
    passes its options (see :func:`make_augmenter`).
    """
    samples = _train_samples(datadir, batch_size, part)
    rng = random.Random(seed) if seed is not None else random
    augmenter = make_augmenter(augment, seed)

    def reader():
        order = list(samples)
        if mode == "train":
            rng.shuffle(order)
        yield from _batches(order, batch_size, cache, augmenter)

    return _described(reader, samples, batch_size, part)


def valid_data_loader(datadir, csvfile, batch_size=10, mode="valid",
                      cache: ImageCache = IMAGE_CACHE):
    """Reader over the validation folder with labels from ``csvfile`` (the
    original ``PM_Label_and_Fovea_Location.xlsx`` or an equivalent CSV)."""
    samples = _valid_samples(datadir, csvfile)

    def reader():
        yield from _batches(samples, batch_size, cache)

    return _described(reader, samples, batch_size, "test")


def _described(reader, samples, batch_size, part):
    """A reader with ``num_samples``, ``num_batches``, ``labels`` (what
    :func:`~palm_utils.metrics.majority_baseline` and progress bars read) and
    ``part`` (which images: ``all``, ``fit``, ``holdout`` or ``test``)."""
    reader.part = part
    reader.num_samples = len(samples)
    reader.num_batches = math.ceil(len(samples) / batch_size)
    reader.labels = np.array([lab for _, lab in samples])
    return reader


def default_train_loader(batch_size: int = 10, part: str = "fit"):
    """:func:`data_loader` over the training images of the dataset
    :func:`~palm_utils.find_dataset` found: by default without the held-out
    ones (what ``train_pm`` trains on); ``part="holdout"`` gives those, in
    order (what it chooses the epoch on)."""
    from .datasets.discovery import default_dataset

    mode = "valid" if part == "holdout" else "train"
    return data_loader(default_dataset().train_dir, batch_size=batch_size, mode=mode, part=part)


def default_valid_loader(batch_size: int = 10):
    """:func:`valid_data_loader` over the 400 validation images of the
    dataset :func:`~palm_utils.find_dataset` found: the series' test set
    (what ``train_pm`` reports once, at the end, and ``evaluation`` uses)."""
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

    def __init__(self, samples, augment=False, seed=None, cache: ImageCache = IMAGE_CACHE,
                 part: str | None = None):
        super().__init__()
        self.part = part
        self.samples = [(Path(p), int(lab)) for p, lab in samples]
        self.cache = cache
        self._augmenter = make_augmenter(augment, seed)

    @classmethod
    def train(cls, datadir, part: str = "all", **kwargs):
        """The training images of ``datadir`` (labels from file names);
        ``part`` as in :func:`data_loader`."""
        return cls(_train_samples(datadir, batch_size=10, part=part), part=part, **kwargs)

    @classmethod
    def valid(cls, datadir, label_file, **kwargs):
        """The validation images of ``datadir``, labels from ``label_file``
        (the series' test set)."""
        return cls(_valid_samples(datadir, label_file), part="test", **kwargs)

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
