"""The image reader: OpenCV decode at reduced size, resize, and a cache.

Channel order: **RGB**. OpenCV decodes to BGR; the course feeds BGR to the
network unchanged. This series converts to RGB once, right after decoding,
so that the arrays a student plots with matplotlib show the true colours and
the same arrays go to the network. Every loader, plot and checkpoint in the
series uses this order.

Speed: a 2124x2056 fundus JPEG is ~85 times more pixels than the 224x224 the
network sees. libjpeg can decode at 1/2, 1/4 or 1/8 scale directly from the
DCT coefficients (``cv2.IMREAD_REDUCED_COLOR_*``), which skips most of the
work: at 1/8 every output pixel is the mean of an 8x8 block (the block's DC
coefficient), which is exactly what an area resize computes first. The
reader takes the smallest scale that still has at least 224 pixels per side
and finishes with an area resize that knows where the blocks lie in the
original (the last block of a 2124-pixel row covers only 4 pixels), so the
result matches a full decode followed by ``cv2.INTER_AREA``: on the
benchmark's 2124x2056 stand-ins, within 0.7 grey levels on average (docs/benchmarks.md).
What is left of the cost is Huffman decoding, which no scale skips.
"""
from __future__ import annotations

import io
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

IMAGE_SIZE = 224
CHANNEL_ORDER = "RGB"

_REDUCED_FLAGS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


class ImageReadError(OSError):
    """An image file that cannot be decoded."""


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG header, without decoding pixels."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None


def reduction_factor(width: int, height: int, size: int = IMAGE_SIZE) -> int:
    """Largest libjpeg scale (8, 4, 2) whose reduced image still has at least
    ``size`` pixels on both sides; 1 when none has."""
    for factor, _ in _REDUCED_FLAGS:
        if math.ceil(min(width, height) / factor) >= size:
            return factor
    return 1


def block_area_resize(img: np.ndarray, width: int, height: int, factor: int,
                      size: int = IMAGE_SIZE) -> np.ndarray:
    """Area-resize a JPEG decoded at ``1/factor`` scale to ``size`` x ``size``
    as if the full ``width`` x ``height`` image had been area-resized.

    Reduced pixel ``j`` stands for original pixels ``[factor*j, factor*j + factor)``,
    except the last one in a row or column, which covers only what is left
    (``width % factor``). Repeating every reduced pixel ``u`` times, with
    ``u = factor / gcd(factor, width % factor)``, and dropping the surplus makes
    all pixels stand for the same span, so ``cv2.INTER_AREA`` weights them right.
    """
    reps, keep = [], []  # per axis: (width, height)
    for axis, side in ((1, width), (0, height)):
        rest = side % factor
        exact = not rest or img.shape[axis] != math.ceil(side / factor)
        u = 1 if exact else factor // math.gcd(factor, rest)
        reps.append(u)
        keep.append(side * u // factor if u > 1 else img.shape[axis])
    if reps != [1, 1]:  # cv2's exact nearest-neighbour upscale is np.repeat, only faster
        img = cv2.resize(img, (img.shape[1] * reps[0], img.shape[0] * reps[1]),
                         interpolation=cv2.INTER_NEAREST_EXACT)[: keep[1], : keep[0]]
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def read_image(path: str | Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Decode ``path`` to a ``size`` x ``size`` RGB uint8 array (HWC).

    Large JPEGs are decoded at reduced scale, then resized with
    ``cv2.INTER_AREA``. Grayscale files become three equal channels.
    Raises :class:`ImageReadError` naming the file when it is empty,
    truncated or not an image.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the file ({exc.strerror}).") from exc
    if not data:
        raise ImageReadError(f"{path}: empty file; re-copy it or delete it.")
    flag = cv2.IMREAD_COLOR
    if data[:2] == _JPEG_SOI:
        # Entropy-coded data never contains FF D9, so a missing end-of-image
        # marker means the file was cut short (libjpeg would only warn).
        if _JPEG_EOI not in data[-4096:]:
            raise ImageReadError(
                f"{path}: truncated JPEG (no end-of-image marker); re-copy or "
                "re-download this file."
            )
        dims = _jpeg_size(data)
        if dims:
            factor = reduction_factor(*dims, size=size)
            flag = dict(_REDUCED_FLAGS).get(factor, cv2.IMREAD_COLOR)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise ImageReadError(
            f"{path}: not a readable image (empty or corrupt); replace or delete it."
        )
    if flag != cv2.IMREAD_COLOR:
        img = block_area_resize(img, *dims, factor, size)
    elif img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def transform_img(img: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The course's preprocessing: resize to ``size``x``size``, HWC -> CHW,
    float32, scaled from [0, 255] to [-1, 1]."""
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    img = np.transpose(img, (2, 0, 1)).astype("float32")
    return img / 255.0 * 2.0 - 1.0


class ImageCache:
    """Decoded 224x224 images kept in memory, keyed by path and mtime.

    A training run reads the same 400 files every epoch; after the first
    epoch nothing is decoded again. 800 images take about 120 MB.
    ``decodes`` counts actual decodes (tests and benchmarks read it).
    """

    def __init__(self, size: int = IMAGE_SIZE):
        self.size = size
        self.decodes = 0
        self._images: dict[tuple[str, int], np.ndarray] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[str, int]:
        return (str(Path(path).resolve()), os.stat(path).st_mtime_ns)

    def get(self, path: str | Path) -> np.ndarray:
        key = self._key(Path(path))
        img = self._images.get(key)
        if img is None:
            img = read_image(path, self.size)
            img.setflags(write=False)
            with self._lock:
                self.decodes += 1
                self._images[key] = img
        return img

    def preload(self, paths, workers: int | None = None) -> None:
        """Decode every path not yet cached, in parallel threads (OpenCV
        releases the GIL while decoding)."""
        todo = [p for p in paths if self._key(Path(p)) not in self._images]
        if not todo:
            return
        workers = workers or min(8, os.cpu_count() or 1)
        if workers == 1:
            for p in todo:
                self.get(p)
            return
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(self.get, todo))

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self.decodes = 0

    def __len__(self) -> int:
        return len(self._images)


#: The process-wide cache used by every loader unless told otherwise.
IMAGE_CACHE = ImageCache()
