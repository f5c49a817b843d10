"""Data augmentation for fundus images (uint8 RGB HWC in, same out).

AlexNet's paper relied on augmentation to fight overfitting; the course
mentions it without code. These are the label-preserving changes that make
sense for a fundus photograph: a horizontal flip (a left eye looks like a
mirrored right eye), a small rotation about the centre, and a brightness
change (illumination varies between cameras and patients).
"""
from __future__ import annotations

import cv2
import numpy as np


def random_augment(
    img: np.ndarray,
    rng: np.random.Generator,
    flip: float = 0.5,
    max_rotate: float = 10.0,
    brightness: float = 0.15,
) -> np.ndarray:
    """Random flip (probability ``flip``), rotation in ``[-max_rotate,
    max_rotate]`` degrees and brightness factor in ``1 +- brightness``."""
    out = img
    if rng.random() < flip:
        out = out[:, ::-1]
    if max_rotate:
        h, w = out.shape[:2]
        angle = rng.uniform(-max_rotate, max_rotate)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(np.ascontiguousarray(out), m, (w, h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if brightness:
        factor = rng.uniform(1 - brightness, 1 + brightness)
        out = np.clip(out.astype(np.float32) * factor, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)
