"""Data-pipeline benchmark: the course's reader against palm_utils' loader,
on stand-in JPEGs at the original PALM size (2124x2056, quality 95).

The baseline is kept here, in the benchmark, as a faithful re-implementation
of the course's reader: ``cv2.imread`` at full size, ``cv2.resize`` to
224x224 (bilinear, OpenCV's default), HWC -> CHW, scale to [-1, 1], one image
after another, every epoch.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from palm_utils.labels import training_samples
from palm_utils.loaders import data_loader
from palm_utils.reader import ImageCache

ORIGINAL_SIZE = (2124, 2056)


def course_transform_img(img):
    """The course's ``transform_img``: resize, HWC->CHW, [0,255] -> [-1,1]."""
    img = cv2.resize(img, (224, 224))
    img = np.transpose(img, (2, 0, 1)).astype("float32")
    return img / 255.0 * 2.0 - 1.0


def course_reader(datadir, batch_size=10):
    """The course's ``data_loader`` reader (without its shuffle, which costs
    nothing): decode every file at full size, every epoch."""
    names = sorted(p.name for p in Path(datadir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))

    def reader():
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)  # the course's reader: one thread, OpenCV's own pool included
        try:
            yield from _course_batches()
        finally:
            cv2.setNumThreads(threads)

    def _course_batches():
        imgs, labels = [], []
        for name in names:
            img = course_transform_img(cv2.imread(str(Path(datadir) / name)))
            imgs.append(img)
            labels.append(0 if name[0] in "HN" else 1)
            if len(imgs) == batch_size:
                yield np.array(imgs).astype("float32"), np.array(labels, "float32").reshape(-1, 1)
                imgs, labels = [], []
        if imgs:
            yield np.array(imgs).astype("float32"), np.array(labels, "float32").reshape(-1, 1)
    return reader


def reference_image(path) -> np.ndarray:
    """The pixel reference: full decode, area resize to 224, RGB."""
    img = cv2.imread(str(path))
    img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def make_images(dest: Path, count: int, seed: int = 0) -> Path:
    """Write ``count`` stand-in fundus JPEGs at the original PALM size
    (quality 95, alternately pathologic ``P*`` and normal ``N*``) to ``dest``."""
    from concurrent.futures import ThreadPoolExecutor

    from palm_utils.datasets.fundus import render_fundus

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    def one(i):
        positive = i % 2 == 0
        img, _ = render_fundus(np.random.default_rng([seed, i]), positive, size=ORIGINAL_SIZE)
        ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        name = f"{'P' if positive else 'N'}{i:04d}.jpg"
        (dest / name).write_bytes(data.tobytes())

    with ThreadPoolExecutor() as pool:
        list(pool.map(one, range(count)))
    return dest


def _epoch(reader) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = sum(len(x) for x, _ in reader())
    return time.perf_counter() - t0, n


def run(datadir: Path, repeats: int = 5, log=print) -> dict:
    """Time the course reader and palm_utils' loader (fresh cache each
    repetition) over two epochs each, interleaved, ``repeats`` times; report
    the median of each, then compare pixels. Returns a dict of results."""
    datadir = Path(datadir)
    repeats = max(1, repeats)
    samples = training_samples(datadir)
    paths = [p for p, _ in samples]
    course = course_reader(datadir)
    runs: dict[str, list] = {}
    for _ in range(repeats):
        cache = ImageCache()
        ours = data_loader(datadir, batch_size=10, mode="train", seed=0, cache=cache)
        # interleaved, so that drift of the machine's speed hits both alike
        for label, reader in (("course, epoch 1", course), ("palm_utils, epoch 1", ours),
                              ("course, epoch 2", course), ("palm_utils, epoch 2", ours)):
            before = cache.decodes
            seconds, n = _epoch(reader)
            runs.setdefault(label, []).append({"seconds": seconds, "images": n, "decodes": cache.decodes - before})
    results = {"repeats": repeats}
    for label, entries in runs.items():
        seconds = statistics.median(e["seconds"] for e in entries)
        results[label] = {"seconds": seconds, "images": entries[0]["images"],
                          "decodes": max(e["decodes"] for e in entries)}
        log(f"  {label}: {entries[0]['images']} images in {seconds:.2f} s (median of {len(entries)}; "
            f"{entries[0]['images'] / seconds:.1f} img/s)")
    diffs_ours, diffs_course = [], []
    for p in paths:
        ref = reference_image(p).astype(np.int16)
        diffs_ours.append(np.abs(cache.get(p).astype(np.int16) - ref))  # decoded by the loader
        course_img = cv2.cvtColor(cv2.resize(cv2.imread(str(p)), (224, 224)), cv2.COLOR_BGR2RGB)
        diffs_course.append(np.abs(course_img.astype(np.int16) - ref))
    results["pixels"] = {
        "palm_utils": {"mean": float(np.mean(diffs_ours)), "max": int(np.max(diffs_ours))},
        "course": {"mean": float(np.mean(diffs_course)), "max": int(np.max(diffs_course))},
    }
    return results
