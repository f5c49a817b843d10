import cv2
import numpy as np
import pytest

from palm_utils.reader import (CHANNEL_ORDER, ImageCache, ImageReadError, block_area_resize,
                               read_image, reduction_factor, transform_img)


def _smooth_fundus(w, h, seed=0):
    """A smooth, photo-like BGR test image (libjpeg's reduced decode is
    exact only for smooth content, like a real downsized photograph)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.circle(img, (w // 2, h // 2), min(w, h) // 3, (20, 90, 200), -1)
    return cv2.GaussianBlur(img, (0, 0), 4)


def test_read_image_is_rgb_224(tmp_path):
    img = np.zeros((300, 300, 3), np.uint8)
    img[..., 0] = 255  # blue in OpenCV's BGR
    path = tmp_path / "blue.png"
    cv2.imwrite(str(path), img)
    out = read_image(path)
    assert CHANNEL_ORDER == "RGB"
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    assert out[..., 2].min() == 255 and out[..., 0].max() == 0  # blue is channel 2 in RGB


def test_reduced_decode_matches_full_decode(tmp_path):
    src = _smooth_fundus(2124, 2056)
    path = tmp_path / "P0001.jpg"
    cv2.imwrite(str(path), src, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert reduction_factor(2124, 2056) == 8
    full = cv2.imread(str(path))
    ref = cv2.cvtColor(cv2.resize(full, (224, 224), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    diff = np.abs(read_image(path).astype(int) - ref.astype(int))
    assert diff.mean() < 1.0, diff.mean()


@pytest.mark.parametrize("w,h,factor", [(224, 224, 1), (446, 1000, 1), (447, 447, 2), (892, 1000, 2),
                                        (893, 893, 4), (1444, 1444, 4), (1785, 1800, 8),
                                        (2124, 2056, 8), (3584, 3584, 8)])
def test_reduction_factor(w, h, factor):
    assert reduction_factor(w, h) == factor


def _coverage(full, factor, size):
    """Weights of an area resize from ``full`` original pixels to ``size``,
    expressed on the 1/``factor`` blocks (the last block may be partial)."""
    edges = np.minimum(np.arange(-(-full // factor) + 1) * factor, full)
    step = full / size
    lo, hi = np.arange(size)[:, None] * step, (np.arange(size)[:, None] + 1) * step
    overlap = np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1])
    return np.clip(overlap, 0, None) / step


@pytest.mark.parametrize("w,h,factor", [(2124, 2056, 8), (1444, 1444, 4), (1785, 1803, 8), (901, 905, 2)])
def test_block_area_resize_weights_partial_blocks(w, h, factor):
    """Every reduced pixel is weighted by the share of the original it covers,
    partial last blocks included (a plain area resize would stretch them)."""
    rng = np.random.default_rng(1)
    reduced = rng.integers(0, 256, (-(-h // factor), -(-w // factor), 3), dtype=np.uint8)
    rows = np.tensordot(_coverage(h, factor, 224), reduced.astype(np.float64), axes=(1, 0))
    expected = np.einsum("lk,ikc->ilc", _coverage(w, factor, 224), rows)
    out = block_area_resize(reduced, w, h, factor)
    assert out.shape == (224, 224, 3)
    assert np.abs(out - expected).max() <= 1.0


def test_reduced_decode_of_noisy_stand_in_matches_full_decode(tmp_path):
    """The benchmark's stand-in (sensor noise, sharp field-of-view edge) at the
    original size: the 1/8 decode stays within a mean grey level of the reference."""
    from palm_utils.datasets.fundus import render_fundus

    img, _ = render_fundus(np.random.default_rng(3), True, size=(2124, 2056))
    path = tmp_path / "P0003.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    ref = cv2.cvtColor(cv2.resize(cv2.imread(str(path)), (224, 224), interpolation=cv2.INTER_AREA),
                       cv2.COLOR_BGR2RGB)
    assert np.abs(read_image(path).astype(int) - ref.astype(int)).mean() < 1.0


def test_grayscale_becomes_three_channels(tmp_path):
    path = tmp_path / "N0001.jpg"
    cv2.imwrite(str(path), np.full((100, 120), 77, np.uint8))
    out = read_image(path)
    assert out.shape == (224, 224, 3)
    assert np.all(np.abs(out.astype(int) - 77) <= 2)


def test_corrupt_file_names_it(tmp_path):
    path = tmp_path / "P0002.jpg"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ImageReadError, match="P0002.jpg: not a readable image"):
        read_image(path)


def test_empty_file_names_it(tmp_path):
    path = tmp_path / "P0003.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match="P0003.jpg"):
        read_image(path)


def test_truncated_jpeg_names_it(tmp_path):
    ok, buf = cv2.imencode(".jpg", _smooth_fundus(400, 400))
    path = tmp_path / "P0004.jpg"
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    with pytest.raises(ImageReadError, match="P0004.jpg: truncated JPEG"):
        read_image(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ImageReadError, match="P0005.jpg: cannot read"):
        read_image(tmp_path / "P0005.jpg")


def test_transform_img_shape_dtype_range():
    img = np.zeros((50, 60, 3), np.uint8)
    img[0, 0] = 255
    out = transform_img(img)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    assert out.min() == -1.0 and out.max() <= 1.0
    full = transform_img(np.full((224, 224, 3), 255, np.uint8))
    assert np.allclose(full, 1.0)


def test_cache_decodes_once_and_notices_changes(tmp_path):
    path = tmp_path / "P0006.jpg"
    cv2.imwrite(str(path), _smooth_fundus(300, 300))
    cache = ImageCache()
    first = cache.get(path)
    assert cache.get(path) is first and cache.decodes == 1
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1  # cached arrays are read-only: no accidental edits
    import os
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    cache.get(path)
    assert cache.decodes == 2


def test_preload_in_threads(tmp_path):
    paths = []
    for i in range(6):
        p = tmp_path / f"P{i:04d}.jpg"
        cv2.imwrite(str(p), _smooth_fundus(256, 256, seed=i))
        paths.append(p)
    cache = ImageCache()
    cache.preload(paths, workers=2)
    assert cache.decodes == 6 and len(cache) == 6
    cache.preload(paths)
    assert cache.decodes == 6
