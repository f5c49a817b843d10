"""Drawing one fundus-like picture: the image renderer of the stand-in.

:func:`render_fundus` paints a dark surround, an orange-red fundus with an
optic disc, branching vessels and a darker fovea. With ``positive=True`` it
adds the signs of pathologic myopia with random intensity: peripapillary
atrophy (a pale crescent or ring around the disc), tessellation (the
choroidal vessel pattern showing through a paler, yellower fundus) and
patches of chorioretinal atrophy; ``high_myopia=True`` may add mild
tessellation to a negative. :mod:`.standin` uses it to write the dataset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Images are drawn at 1.5 times the output size (anti-aliasing for small
# outputs), but at most this many pixels on the long side (speed for large).
_SUPERSAMPLE = 1.5
_MAX_WORK_SIDE = 1024


def normalize_size(size) -> tuple[int, int]:
    """``224`` or ``(width, height)`` -> ``(width, height)``."""
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be an int or a (width, height) pair, not {size!r}") from None
    if min(width, height) < 32:
        raise ValueError(f"size {width}x{height} is too small; use at least 32x32")
    return width, height




# --------------------------------------------------------------------------
# Drawing one fundus image
# --------------------------------------------------------------------------

@dataclass
class _Eye:
    """Geometry of one picture, in working-resolution pixels."""

    width: int
    height: int
    cx: float       # centre of the circular field of view
    cy: float
    radius: float   # radius of the field of view
    temporal: int   # +1: the fovea lies to the right of the disc, -1: left
    disc_x: float
    disc_y: float
    disc_r: float
    fovea_x: float
    fovea_y: float

    @property
    def disc_fovea(self) -> float:
        return math.hypot(self.fovea_x - self.disc_x, self.fovea_y - self.disc_y)


@dataclass
class _Signs:
    """Intensities (0 = absent, 1 = severe) of the myopic signs."""

    tessellation: float
    ppa: float          # peripapillary atrophy
    atrophy: float      # patchy chorioretinal atrophy
    patches: int


def _sample_eye(rng: np.random.Generator, width: int, height: int) -> _Eye:
    """Field of view, disc and fovea: left/right eye, sizes and positions vary.

    The fovea lies about 2.5 disc diameters temporal to the disc and a
    little lower, near the image centre.
    """
    radius = min(width, height) * rng.uniform(0.47, 0.54)
    cx = width / 2 + rng.normal(0, 0.015) * width
    cy = height / 2 + rng.normal(0, 0.015) * height
    temporal = 1 if rng.random() < 0.5 else -1
    disc_r = radius * rng.uniform(0.10, 0.135)
    dist = 2 * disc_r * 2.5 * rng.uniform(0.9, 1.1)
    fovea_x = cx + temporal * dist * rng.uniform(0.3, 0.45) + rng.normal(0, 0.03) * radius
    fovea_y = cy + rng.normal(0, 0.04) * radius
    disc_x = fovea_x - temporal * dist
    disc_y = fovea_y - dist * rng.uniform(0.0, 0.15)
    return _Eye(width, height, cx, cy, radius, temporal, disc_x, disc_y, disc_r, fovea_x, fovea_y)


def _sample_signs(rng: np.random.Generator, kind: str) -> _Signs:
    """How strongly the myopic signs show, by class.

    Positives range from weak to severe; high-myopia negatives often show
    mild tessellation and a thin crescent; a few normals a trace of either.
    """
    if kind == "P":
        s = rng.uniform(0.25, 1.0) ** 0.6
        tess = min(1.0, s * rng.uniform(0.5, 1.2)) if rng.random() < 0.9 else 0.0
        ppa = min(1.0, s * rng.uniform(0.4, 1.2)) if rng.random() < 0.85 else 0.0
        atrophy = rng.uniform(0.5, 1.0) if rng.random() < s - 0.15 else 0.0
        return _Signs(tess, ppa, atrophy, int(rng.integers(1, 4)))
    if kind == "H":
        tess = rng.uniform(0.1, 0.35) if rng.random() < 0.7 else 0.0
        ppa = rng.uniform(0.1, 0.4) if rng.random() < 0.6 else 0.0
        return _Signs(tess, ppa, 0.0, 0)
    tess = rng.uniform(0.0, 0.25) if rng.random() < 0.15 else 0.0
    ppa = rng.uniform(0.0, 0.2) if rng.random() < 0.15 else 0.0
    return _Signs(tess, ppa, 0.0, 0)


def _box(eye: _Eye, x: float, y: float, half: float) -> tuple[slice, slice]:
    """Region of the image within ``half`` pixels of (x, y), as index slices.

    Local features are drawn into such a region only, which is much faster
    than working on the whole image.
    """
    return (slice(max(0, math.floor(y - half)), min(eye.height, math.ceil(y + half))),
            slice(max(0, math.floor(x - half)), min(eye.width, math.ceil(x + half))))


def _whole(eye: _Eye) -> tuple[slice, slice]:
    """The whole image as a region."""
    return slice(0, eye.height), slice(0, eye.width)


def _distance(box: tuple[slice, slice], x: float, y: float) -> np.ndarray:
    """Distance of every pixel of ``box`` from (x, y) (float32)."""
    ys, xs = np.ogrid[box]
    return np.sqrt((xs - np.float32(x)) ** 2 + (ys - np.float32(y)) ** 2, dtype=np.float32)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    return cv2.GaussianBlur(img, (0, 0), max(sigma, 0.3))


def _smooth_noise(rng: np.random.Generator, eye: _Eye, cells: int) -> np.ndarray:
    """Zero-mean, unit-ish noise varying over about ``cells`` blobs per side."""
    small = rng.standard_normal((cells, cells), dtype=np.float32)
    return cv2.resize(small, (eye.width, eye.height), interpolation=cv2.INTER_CUBIC)


def _blend(img: np.ndarray, mask: np.ndarray, color) -> None:
    """In place: ``img = img * (1 - mask) + color * mask`` (mask HxW in [0,1])."""
    diff = np.asarray(color, np.float32) - img
    diff *= mask[..., None]
    img += diff


def _ellipse(box: tuple[slice, slice], x: float, y: float, axes, angle: float,
             sigma: float) -> np.ndarray:
    """Soft-edged filled ellipse mask of the size of ``box``."""
    shift = 4
    one = 1 << shift
    canvas = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), np.float32)
    center = (round((x - box[1].start) * one), round((y - box[0].start) * one))
    cv2.ellipse(canvas, center, (round(axes[0] * one), round(axes[1] * one)), angle, 0, 360,
                1.0, -1, cv2.LINE_AA, shift)
    return _blur(canvas, sigma)


def _walk(rng, eye: _Eye, x, y, heading, length, width, curvature, wobble, step, bend=math.inf):
    """Points (n x 2) and widths (n) of a curved, tapering path, such as a
    vessel's centre line.

    The curvature fades over the distance ``bend``; the path stops at the
    edge of the field of view.
    """
    n = max(2, int(length / step))
    turns = rng.normal(0, wobble, n - 1)
    if curvature:
        turns += curvature * step * np.exp(-np.arange(1, n) * (step / bend))
    headings = heading + np.cumsum(turns)
    xs = np.cumsum(np.cos(headings)) * step + x
    ys = np.cumsum(np.sin(headings)) * step + y
    inside = (xs - eye.cx) ** 2 + (ys - eye.cy) ** 2 <= (eye.radius * 1.02) ** 2
    end = n if inside.all() else int(np.argmin(inside)) + 1
    points = np.empty((end, 2))
    points[0] = x, y
    points[1:, 0], points[1:, 1] = xs[: end - 1], ys[: end - 1]
    return points, width * (1 - 0.6 / n * np.arange(end))


def _draw_path(canvas: np.ndarray, points: np.ndarray, widths: np.ndarray, color) -> None:
    """Anti-aliased polyline of stepwise decreasing width, sub-pixel precise."""
    if len(points) < 2:
        return
    shift = 4
    fixed = np.round(points * (1 << shift)).astype(np.int32)
    thickness = np.maximum(1, np.round(widths[:-1])).astype(int)
    bounds = [0, *(np.flatnonzero(thickness[1:] != thickness[:-1]) + 1), len(thickness)]
    for a, b in zip(bounds, bounds[1:]):  # one polyline per run of equal thickness
        cv2.polylines(canvas, [fixed[a:b + 1]], False, color, thickness=int(thickness[a]),
                      lineType=cv2.LINE_AA, shift=shift)


def _vessel_tree(rng, eye: _Eye, canvas, color, x, y, heading, length, width, curvature,
                 depth, bend=math.inf):
    """One vessel with side branches that are thinner, shorter and straighter."""
    step = eye.radius * 0.015
    points, widths = _walk(rng, eye, x, y, heading, length, width, curvature, 0.05, step, bend)
    _draw_path(canvas, points, widths, color)
    if depth == 0 or len(points) < 6:
        return
    for _ in range(int(rng.integers(depth, 2 * depth + 1))):
        i = int(rng.integers(2, len(points) - 2))
        dx, dy = points[i + 1] - points[i]
        side = 1 if rng.random() < 0.5 else -1
        _vessel_tree(rng, eye, canvas, color, points[i][0], points[i][1],
                     math.atan2(dy, dx) + side * rng.uniform(0.4, 1.1),
                     length * rng.uniform(0.25, 0.5), widths[i] * rng.uniform(0.55, 0.75),
                     rng.normal(0, 0.5) / eye.radius, depth - 1)


def _add_vessels(rng, img: np.ndarray, eye: _Eye) -> None:
    """Dark red vessels from the disc: two temporal arcades curving above and
    below the fovea, nasal vessels and small branches, thinner outward.

    Veins are wider and darker than arteries. The canvas holds, per
    channel, how much a vessel darkens the fundus.
    """
    canvas = np.zeros_like(img)
    dist = eye.disc_fovea
    base_width = eye.radius * rng.uniform(0.016, 0.024)
    for color, width in (((0.6, 0.7, 0.45), base_width), ((0.45, 0.55, 0.25), 0.7 * base_width)):
        for up in (-1, 1):
            # Temporal arcade: leaves the disc steeply, bends over the fovea,
            # then runs on temporally.
            start = math.radians(rng.uniform(55, 85))
            heading = math.atan2(up * math.sin(start), eye.temporal * math.cos(start))
            curvature = -up * eye.temporal / (dist * rng.uniform(0.6, 0.9))
            _vessel_tree(rng, eye, canvas, color, eye.disc_x, eye.disc_y, heading,
                         eye.radius * 2, width, curvature, depth=2,
                         bend=dist * rng.uniform(0.9, 1.3))
            # Nasal vessel: straighter, toward the far side.
            start = math.radians(rng.uniform(20, 70))
            heading = math.atan2(up * math.sin(start), -eye.temporal * math.cos(start))
            _vessel_tree(rng, eye, canvas, color, eye.disc_x, eye.disc_y, heading,
                         eye.radius * rng.uniform(0.8, 1.3), width * 0.8,
                         up * eye.temporal * rng.uniform(0.0, 0.6) / eye.radius, depth=2)
        # Small macular vessel aimed at, but stopping short of, the fovea.
        heading = math.atan2(eye.fovea_y - eye.disc_y, eye.fovea_x - eye.disc_x)
        _vessel_tree(rng, eye, canvas, color, eye.disc_x, eye.disc_y,
                     heading + rng.normal(0, 0.25), dist * 0.55, width * 0.4, 0.0, depth=1)
    img *= 1 - _blur(canvas, eye.radius * 0.002)


def _choroid(rng: np.random.Generator, eye: _Eye) -> np.ndarray:
    """Choroidal vessel mask: broad, wavy bands radiating from the posterior pole."""
    canvas = np.zeros((eye.height, eye.width), np.float32)
    step = eye.radius * 0.02
    for _ in range(int(rng.integers(70, 110))):
        angle = rng.uniform(0, 2 * math.pi)
        start = eye.radius * rng.uniform(0.05, 0.5)
        x = eye.fovea_x + start * math.cos(angle)
        y = eye.fovea_y + start * math.sin(angle)
        points, widths = _walk(rng, eye, x, y, angle + rng.normal(0, 0.4),
                               eye.radius * rng.uniform(0.4, 1.2),
                               eye.radius * rng.uniform(0.018, 0.039),
                               rng.normal(0, 1.0) / eye.radius, 0.12, step)
        _draw_path(canvas, points, widths, 1.0)
    return _blur(canvas, eye.radius * 0.01)


def _fundus_albedo(rng: np.random.Generator, eye: _Eye, signs: _Signs) -> np.ndarray:
    """Orange-red fundus colour (BGR floats) with mottled texture; paler and
    yellower with tessellation."""
    red = rng.uniform(0.72, 0.95)
    yellow = 0.15 * signs.tessellation
    color = np.array([red * rng.uniform(0.10, 0.22) + 0.10 * yellow,
                      red * (rng.uniform(0.30, 0.46) + yellow), red], np.float32)
    texture = 1 + 0.05 * _smooth_noise(rng, eye, 12) + 0.025 * _smooth_noise(rng, eye, 48)
    return texture[..., None] * color


def _add_tessellation(img: np.ndarray, eye: _Eye, choroid: np.ndarray, amount: float) -> None:
    """Darker pigmented spaces between brighter orange choroidal vessels."""
    near_fovea = np.exp(-_distance(_whole(eye), eye.fovea_x, eye.fovea_y) / (eye.radius * 0.2))
    spaces = (1 - choroid) * (1 - near_fovea)
    img *= 1 - amount * spaces[..., None] * np.array([0.45, 0.45, 0.38], np.float32)
    _blend(img, 0.1 * amount * choroid, (0.2, 0.5, 0.95))


def _add_patchy_atrophy(rng, img: np.ndarray, eye: _Eye, choroid: np.ndarray,
                        signs: _Signs) -> None:
    """Pale whitish-yellow irregular patches, mostly between the disc and the
    macula, with choroidal vessels showing through and pigment at the borders."""
    field = np.zeros((eye.height, eye.width), np.float32)
    dd = 2 * eye.disc_r
    for _ in range(signs.patches):
        t = rng.uniform(-0.2, 0.9)  # along the disc-fovea line, 1 = fovea
        px = eye.disc_x + t * (eye.fovea_x - eye.disc_x) + rng.normal(0, 0.5) * dd
        py = eye.disc_y + t * (eye.fovea_y - eye.disc_y) + rng.normal(0, 0.5) * dd
        for _ in range(int(rng.integers(3, 8))):
            center = (round(px + rng.normal(0, 0.35) * dd), round(py + rng.normal(0, 0.35) * dd))
            axes = tuple(max(1, round(dd * rng.uniform(0.15, 0.5) * (0.5 + signs.atrophy)))
                         for _ in range(2))
            cv2.ellipse(field, center, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    field = _blur(field, dd * 0.15) + 0.15 * _smooth_noise(rng, eye, 40)
    patch = _blur((field > 0.5).astype(np.float32), eye.radius * 0.004)
    border = np.clip(_blur(patch, dd * 0.06) - patch, 0, 1) * 3
    img *= (1 - 0.6 * signs.atrophy * border)[..., None]
    pale = (0.82 + 0.18 * choroid)[..., None] * np.array([0.66, 0.84, 0.94], np.float32)
    m = (signs.atrophy * patch)[..., None]
    img += m * (pale - img)


def _add_ppa(rng, img: np.ndarray, eye: _Eye, amount: float) -> None:
    """Pale crescent on the temporal side of the disc, a ring when severe,
    with a darker pigmented rim."""
    r = eye.disc_r
    grow = 1.15 + 0.9 * amount * rng.uniform(0.6, 1.2)
    x = eye.disc_x + eye.temporal * r * (grow - 1) * rng.uniform(0.3, 0.8)
    axes = (r * grow, r * grow * rng.uniform(1.0, 1.15))
    box = _box(eye, x, eye.disc_y, axes[1] + 0.6 * r)
    mask = _ellipse(box, x, eye.disc_y, axes, rng.uniform(-20, 20), r * 0.08)
    rim = np.clip(_blur(mask, r * 0.12) - mask, 0, 1) * 2
    img[box] *= (1 - 0.5 * amount * rim)[..., None]
    _blend(img[box], min(0.9, 0.35 + 0.6 * amount) * mask, (0.5, 0.7, 0.86))


def _add_fovea(rng, img: np.ndarray, eye: _Eye) -> None:
    """Darker macula with a darker foveal pit, sometimes a tiny light reflex."""
    dd = 2 * eye.disc_r
    box = _box(eye, eye.fovea_x, eye.fovea_y, 1.6 * dd)
    d = _distance(box, eye.fovea_x, eye.fovea_y)
    macula = rng.uniform(0.15, 0.3) * np.exp(-(d / (0.7 * dd)) ** 2)
    pit = rng.uniform(0.1, 0.25) * np.exp(-(d / (0.2 * dd)) ** 2)
    img[box] *= (1 - macula - pit)[..., None]
    if rng.random() < 0.5:
        _blend(img[box], 0.4 * np.exp(-(d / (0.03 * dd)) ** 2), (0.7, 0.8, 0.9))


def _add_disc(rng, img: np.ndarray, eye: _Eye) -> None:
    """Bright yellowish oval disc with a paler cup, offset temporally."""
    r = eye.disc_r
    box = _box(eye, eye.disc_x, eye.disc_y, 1.5 * r)
    axes = (r * rng.uniform(0.9, 1.0), r * rng.uniform(1.0, 1.12))
    disc = _ellipse(box, eye.disc_x, eye.disc_y, axes, rng.uniform(-15, 15), r * 0.1)
    color = (rng.uniform(0.40, 0.62), rng.uniform(0.74, 0.9), rng.uniform(0.95, 1.0))
    _blend(img[box], disc, color)
    cup_r = r * rng.uniform(0.3, 0.55)
    cup = _ellipse(box, eye.disc_x + eye.temporal * r * 0.2, eye.disc_y, (cup_r, cup_r), 0,
                   cup_r * 0.35)
    _blend(img[box], 0.8 * cup, (0.78, 0.93, 1.0))


def _illuminate(rng, img: np.ndarray, eye: _Eye) -> None:
    """Contrast jitter, then radial falloff and a slight tilt of the light
    inside a soft-edged circular field of view; black outside."""
    mean = np.array(cv2.mean(img)[:3], np.float32)
    img -= mean
    img *= rng.uniform(0.85, 1.15)
    img += mean
    d = _distance(_whole(eye), eye.cx, eye.cy) / eye.radius
    light = 1 - rng.uniform(0.3, 0.55) * np.minimum(d, 1) ** rng.uniform(1.5, 2.8)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.ogrid[_whole(eye)]
    tilt = ((xs - eye.cx) * math.cos(angle) + (ys - eye.cy) * math.sin(angle)) / eye.radius
    light *= 1 + rng.uniform(0, 0.15) * tilt
    light *= np.clip((1 - d) / 0.012, 0, 1)  # edge of the field of view
    img *= light[..., None]


def _camera(rng, img: np.ndarray) -> np.ndarray:
    """Global brightness, colour and gamma jitter plus sensor noise;
    float BGR in [0, 1] -> uint8."""
    img = img * (rng.uniform(0.8, 1.15) * rng.uniform(0.92, 1.08, 3)).astype(np.float32)
    gamma = (np.linspace(0, 1, 256) ** rng.uniform(0.85, 1.15) * 255).astype(np.float32)
    img = cv2.LUT(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), gamma)
    img += rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(1.5, 4.0)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def render_fundus(rng: np.random.Generator, positive: bool, size=(224, 224),
                  high_myopia: bool = False):
    """Draw one fundus-like image.

    ``positive`` adds signs of pathologic myopia of random intensity;
    ``high_myopia`` (negatives only) may add mild tessellation and a thin
    crescent. ``size`` is an int or ``(width, height)``.

    Returns ``(image, (fovea_x, fovea_y))``: a BGR uint8 array of shape
    ``(height, width, 3)`` and the fovea centre in its pixels.
    """
    width, height = normalize_size(size)
    scale = min(_SUPERSAMPLE, _MAX_WORK_SIDE / max(width, height))
    eye = _sample_eye(rng, round(width * scale), round(height * scale))
    signs = _sample_signs(rng, "P" if positive else "H" if high_myopia else "N")
    img = _fundus_albedo(rng, eye, signs)
    if signs.tessellation or signs.atrophy:
        choroid = _choroid(rng, eye)
        if signs.tessellation:
            _add_tessellation(img, eye, choroid, signs.tessellation)
        if signs.atrophy:
            _add_patchy_atrophy(rng, img, eye, choroid, signs)
    _add_fovea(rng, img, eye)
    if signs.ppa:
        _add_ppa(rng, img, eye, signs.ppa)
    _add_disc(rng, img, eye)
    _add_vessels(rng, img, eye)
    _illuminate(rng, img, eye)
    interpolation = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
    img = cv2.resize(img, (width, height), interpolation=interpolation)
    fovea = (round(eye.fovea_x / scale, 1), round(eye.fovea_y / scale, 1))
    return _camera(rng, img), fovea


