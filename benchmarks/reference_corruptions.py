"""The benchmark generator's code path, one image at a time: the specification the batched torch
suite is checked against (tests, `python -m benchmarks.fidelity`) and timed against
(`python -m benchmarks.corruptions`).

`make_cifar_c.py` (hendrycks/robustness) corrupts each 32x32 image with scikit-image, OpenCV,
scipy, PIL and ImageMagick calls in numpy's global random state. This module makes the same
library calls, in the same order and dtypes, with a numpy Generator passed in, including the
generator's accidents: glass blur's "swap" that copies, spatter's uint8 cast that wraps, frost's
choice among only five of its six photographs. Two calls are not available here and are
reimplemented: ImageMagick's MotionBlurImage (motion blur, snow; Wand needs ImageMagick's C
library) and the skimage `multichannel=True` flag (now `channel_axis=-1`). The parameters come
from the torch registry, so the two can never disagree on them.

Each function takes one HxWx3 float64 image in [0, 1] and a numpy Generator and returns what
the generator's function returns: values on the 0..255 scale (float, or uint8 where the last
step was a PIL or OpenCV image), to which `corrupt` applies the generator's `np.uint8(...)`.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
import skimage as sk
from PIL import Image
from scipy import ndimage
from skimage.filters import gaussian

from compute.corruptions import CORRUPTIONS, Corruption, suite
from compute.corruptions.registry import CIFAR_C
from compute.corruptions.weather import frost_photo_paths

P = {name: c.params for name, c in CORRUPTIONS.items()}


def _gaussian(x: np.ndarray, sigma: float, **kwargs: object) -> np.ndarray:
    return gaussian(x, sigma=sigma, channel_axis=-1 if x.ndim == 3 else None, **kwargs)


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Zoom the centre crop of side ceil(h / factor) back to about h (order-1 spline), trim."""
    h = x.shape[0]
    side = math.ceil(h / factor)
    top = (h - side) // 2
    zoom = (factor, factor) + (1,) * (x.ndim - 2)
    out = ndimage.zoom(x[top : top + side, top : top + side], zoom, order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim : trim + h, trim : trim + h]


def magick_motion_blur(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's MotionBlurImage: 2 ceil(radius) + 1 taps of a one-sided Gaussian along
    `angle` (degrees), offsets rounded as ImageMagick rounds, edge pixels extended."""
    width = 2 * math.ceil(radius) + 1
    i = np.arange(width)
    weights = np.exp(-(i * i) / (2 * sigma * sigma))
    weights /= weights.sum()
    a = np.deg2rad(angle)
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    for t in range(width):
        dx, dy = math.ceil(t * math.cos(a) - 0.5), math.ceil(t * math.sin(a) - 0.5)
        rows = np.clip(np.arange(h) + dy, 0, h - 1)
        cols = np.clip(np.arange(w) + dx, 0, w - 1)
        out += weights[t] * x[rows][:, cols]
    return out


def plasma_fractal(rng: np.random.Generator, size: int, decay: float) -> np.ndarray:
    """Diamond-square height map in [0, 1], the generator's wibble and decay."""
    m = np.zeros((size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        corners = m[0::step, 0::step]
        sq = corners + np.roll(corners, -1, 0)
        sq = sq + np.roll(sq, -1, 1)
        m[half::step, half::step] = sq / 4 + wibble * rng.uniform(-wibble, wibble, sq.shape)
        dr, ul = m[half::step, half::step], m[0::step, 0::step]
        total = dr + np.roll(dr, 1, 0) + ul + np.roll(ul, -1, 1)
        m[0::step, half::step] = total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)
        total = dr + np.roll(dr, 1, 1) + ul + np.roll(ul, -1, 0)
        m[half::step, 0::step] = total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)
        step //= 2
        wibble /= decay
    m -= m.min()
    return m / m.max()


def disk(radius: float, alias_blur: float) -> np.ndarray:
    """The generator's anti-aliased disk: a float32 17x17 binary disk, normalised, blurred by
    OpenCV's 3x3 Gaussian."""
    grid = np.arange(-8, 9)
    xx, yy = np.meshgrid(grid, grid)
    d = np.array(xx**2 + yy**2 <= radius**2, dtype=np.float32)
    d /= d.sum()
    return cv2.GaussianBlur(d, ksize=(3, 3), sigmaX=alias_blur)


def _pil(x: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(x * 255).astype(np.uint8))


def _scaled(x: np.ndarray) -> np.ndarray:
    """The generator's usual last step: clip to [0, 1], scale to 0..255 (not yet truncated)."""
    return np.clip(x, 0, 1) * 255


# --- the corruptions, one image at a time ----------------------------------------------------


def gaussian_noise(x, c, rng):
    return _scaled(x + rng.normal(size=x.shape, scale=c))


def shot_noise(x, c, rng):
    return _scaled(rng.poisson(x * c) / c)


def impulse_noise(x, c, rng):
    return _scaled(sk.util.random_noise(x, mode="s&p", amount=c, rng=rng))


def speckle_noise(x, c, rng):
    return _scaled(x + x * rng.normal(size=x.shape, scale=c))


def gaussian_blur(x, c, rng):
    return _scaled(_gaussian(x, c))


def glass_blur(x, c, rng):
    sigma, delta, iterations = c
    x = np.uint8(_gaussian(x, sigma) * 255)
    h, w = x.shape[:2]
    for _ in range(iterations):
        for hh in range(h - delta, delta, -1):
            for ww in range(w - delta, delta, -1):
                # One call per position, as the generator makes it (most of this loop's time).
                dx, dy = rng.integers(-delta, delta, size=(2,))
                hp, wp = hh + dy, ww + dx
                # The generator's statement, on numpy views: x[hh, ww] takes x[hp, wp], which
                # then takes (a view of) the new x[hh, ww], i.e. keeps its own value.
                x[hh, ww], x[hp, wp] = x[hp, wp], x[hh, ww]
    return _scaled(_gaussian(x / 255.0, sigma))


def defocus_blur(x, c, rng):
    kernel = disk(*c)
    return _scaled(np.stack([cv2.filter2D(x[..., d], -1, kernel) for d in range(3)], -1))


def motion_blur(x, c, rng):
    # Through an 8-bit PNG to ImageMagick and back: the result is rounded to 8-bit levels.
    out = magick_motion_blur(x, c[0], c[1], rng.uniform(-45, 45))
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def zoom_blur(x, c, rng):
    x = x.astype(np.float32)
    zooms = np.arange(1, c, 0.01)
    out = np.zeros_like(x)
    for z in zooms:
        out += clipped_zoom(x, float(z))
    return _scaled((x + out) / (len(zooms) + 1))


def snow(x, c, rng):
    x = x.astype(np.float32)
    flakes = rng.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    flakes = clipped_zoom(flakes[..., None], c[2])
    flakes[flakes < c[3]] = 0
    flakes = (np.clip(flakes.squeeze(), 0, 1) * 255).astype(np.uint8) / 255.0  # mode 'L' PNG
    flakes = np.round(magick_motion_blur(flakes, c[4], c[5], rng.uniform(-135, -45)) * 255) / 255
    flakes = flakes[..., None]
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey * 1.5 + 0.5)
    return _scaled(x + flakes + np.rot90(flakes, k=2))


_FROST: list[np.ndarray] = []


def frost(x, c, rng):
    if not _FROST:
        _FROST.extend(cv2.imread(str(path)) for path in frost_photo_paths())  # frost1..frost5
    photo = cv2.resize(_FROST[rng.integers(5)], (0, 0), fx=0.2, fy=0.2)
    h, w = x.shape[:2]
    top, left = rng.integers(0, photo.shape[0] - h), rng.integers(0, photo.shape[1] - w)
    crop = photo[top : top + h, left : left + w][..., [2, 1, 0]]
    return np.clip(c[0] * np.round(x * 255) + c[1] * crop, 0, 255)


def fog(x, c, rng):
    size = 1 << max(max(x.shape[:2]) - 1, 1).bit_length()
    top = x.max()
    x = x + c[0] * plasma_fractal(rng, size, c[1])[: x.shape[0], : x.shape[1], None]
    return _scaled(x * top / (top + c[0]))


def brightness(x, c, rng):
    hsv = sk.color.rgb2hsv(x)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return _scaled(sk.color.hsv2rgb(hsv))


def saturate(x, c, rng):
    hsv = sk.color.rgb2hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * c[0] + c[1], 0, 1)
    return _scaled(sk.color.hsv2rgb(hsv))


def contrast(x, c, rng):
    means = x.mean(axis=(0, 1), keepdims=True)
    return _scaled((x - means) * c + means)


def elastic_transform(x, c, rng):
    x = x.astype(np.float32)
    h, w = x.shape[:2]
    alpha, sigma, affine = (v * min(h, w) for v in c)
    centre, side = np.float32((h, w)) // 2, min(h, w) // 3
    src = np.float32([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    dst = src + rng.uniform(-affine, affine, size=src.shape).astype(np.float32)
    x = cv2.warpAffine(x, cv2.getAffineTransform(src, dst), (w, h),
                       borderMode=cv2.BORDER_REFLECT_101)
    dx = (_gaussian(rng.uniform(-1, 1, size=(h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    dy = (_gaussian(rng.uniform(-1, 1, size=(h, w)), sigma, mode="reflect", truncate=3)
          * alpha).astype(np.float32)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return _scaled(np.stack([ndimage.map_coordinates(x[..., i], [yy + dy, xx + dx], order=1,
                                                     mode="reflect") for i in range(3)], -1))


def pixelate(x, c, rng):
    h, w = x.shape[:2]
    img = _pil(x).resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.BOX)
    return np.asarray(img)


def jpeg_compression(x, c, rng):
    buffer = io.BytesIO()
    _pil(x).save(buffer, "JPEG", quality=c)
    return np.asarray(Image.open(buffer))


def spatter(x, c, rng):
    loc, scale, sigma, threshold, intensity, mud = c
    x = x.astype(np.float32)
    liquid = _gaussian(rng.normal(size=x.shape[:2], loc=loc, scale=scale), sigma)
    liquid[liquid < threshold] = 0
    if mud:
        m = _gaussian(np.where(liquid > threshold, 1, 0).astype(np.float32), intensity)
        m[m < 0.8] = 0
        colour = np.array([63, 42, 20], dtype=np.float32) / 255
        return _scaled(x * (1 - m[..., None]) + colour * m[..., None])
    levels = (liquid * 255).astype(np.uint8)  # wraps past 255, as on x86
    dist = cv2.distanceTransform(255 - cv2.Canny(levels, 50, 150), cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    dist = cv2.blur(dist, (3, 3)).astype(np.float32)
    m = levels * dist  # the uint8 layer, not the float one
    m = m / np.max(m) * intensity
    colour = np.array([175, 238, 238], dtype=np.float32) / 255  # applied to R, G, B in this order
    return _scaled(x + m[..., None] * colour)


REFERENCE = {
    "gaussian_noise": gaussian_noise, "shot_noise": shot_noise, "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur, "glass_blur": glass_blur, "motion_blur": motion_blur,
    "zoom_blur": zoom_blur, "snow": snow, "frost": frost, "fog": fog, "brightness": brightness,
    "contrast": contrast, "elastic_transform": elastic_transform, "pixelate": pixelate,
    "jpeg_compression": jpeg_compression, "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur, "spatter": spatter, "saturate": saturate,
}


def reproduced() -> list[Corruption]:
    """The registered corruptions whose reference is the generator (`reference=CIFAR_C`), in the
    suite's order: what this module re-runs and the tests and benchmarks compare."""
    return [c for c in suite() if c.reference == CIFAR_C]


def corrupt(image: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """One HxWx3 uint8 image -> corrupted HxWx3 uint8, as the generator stores it."""
    x = image.astype(np.float64) / 255.0
    return np.uint8(REFERENCE[name](x, P[name][severity - 1], np.random.default_rng(seed)))
