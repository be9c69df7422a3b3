"""A per-image numpy / scipy / PIL implementation of the same 19 corruptions, with the same CIFAR
parameters: the yardstick the batched torch suite is timed against, and (for the deterministic
corruptions) checked against in the tests.

Each function takes one HxWx3 float64 image in [0, 1] and a numpy Generator, and returns one,
the way the benchmark's generator works image by image. Parameters come from the torch registry,
so the two can never disagree on them.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage

from compute.corruptions import CORRUPTIONS

P = {name: c.params for name, c in CORRUPTIONS.items()}


def gaussian(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    if sigma <= 0:
        return x
    sig = (sigma, sigma, 0) if x.ndim == 3 else sigma
    return ndimage.gaussian_filter(x, sig, mode=mode, truncate=truncate)


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    h = x.shape[0]
    ch = math.ceil(h / factor)
    top = (h - ch) // 2
    zoom = (factor, factor) + (1,) * (x.ndim - 2)
    out = ndimage.zoom(x[top : top + ch, top : top + ch], zoom, order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim : trim + h, trim : trim + h]


def motion_blur(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
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


def rgb2hsv(x: np.ndarray) -> np.ndarray:
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(-1)
    delta = v - x.min(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(v > 0, delta / v, 0)
        h = np.zeros_like(v)
        h = np.where(r == v, (g - b) / delta, h)
        h = np.where(g == v, 2 + (b - r) / delta, h)
        h = np.where(b == v, 4 + (r - g) / delta, h)
    h = np.where(delta > 0, (h / 6) % 1, 0)
    return np.stack([h, s, v], -1)


def hsv2rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6)
    f = h * 6 - i
    i = i.astype(int) % 6
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.stack([np.choose(i, [c[k] for c in choices]) for k in range(3)], -1)


def plasma_fractal(rng: np.random.Generator, size: int, decay: float) -> np.ndarray:
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


def q8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0, 1) * 255 + 1e-3) / 255


def disk(radius: float, alias_blur: float) -> np.ndarray:
    L = np.arange(-8, 9)
    X, Y = np.meshgrid(L, L)
    d = (np.hypot(X, Y) <= radius).astype(np.float64)
    d /= d.sum()
    g = np.exp(-(np.arange(-1, 2) ** 2) / (2 * alias_blur**2))
    g /= g.sum()
    return ndimage.correlate1d(ndimage.correlate1d(d, g, 0, mode="mirror"), g, 1, mode="mirror")


# --- the corruptions, one image at a time ----------------------------------------------------


def gaussian_noise(x, c, rng):
    return x + rng.normal(scale=c, size=x.shape)


def shot_noise(x, c, rng):
    return rng.poisson(x * c) / c


def impulse_noise(x, c, rng):
    flipped = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    return np.where(flipped, salt.astype(float), x)


def speckle_noise(x, c, rng):
    return x + x * rng.normal(scale=c, size=x.shape)


def gaussian_blur(x, c, rng):
    return gaussian(x, c)


def defocus_blur(x, c, rng):
    k = disk(*c)
    return np.stack([ndimage.correlate(x[..., i], k, mode="mirror") for i in range(3)], -1)


def glass_blur(x, c, rng):
    sigma, delta, iterations = c
    x = q8(gaussian(x, sigma))
    h, w = x.shape[:2]
    for _ in range(iterations):
        for hh in range(h - delta, delta, -1):
            for ww in range(w - delta, delta, -1):
                dx, dy = rng.integers(-delta, delta, size=2)
                hp, wp = hh + dy, ww + dx
                x[hh, ww], x[hp, wp] = x[hp, wp].copy(), x[hh, ww].copy()
    return gaussian(x, sigma)


def motion_blur_(x, c, rng):
    return motion_blur(x, c[0], c[1], rng.uniform(-45, 45))


def zoom_blur(x, c, rng):
    zooms = np.arange(1, c, 0.01)
    return (x + sum(clipped_zoom(x, float(z)) for z in zooms)) / (len(zooms) + 1)


def snow(x, c, rng):
    flakes = rng.normal(c[0], c[1], x.shape[:2])
    flakes = clipped_zoom(flakes, c[2])
    flakes[flakes < c[3]] = 0
    flakes = np.round(motion_blur(q8(flakes), c[4], c[5], rng.uniform(-135, -45)) * 255) / 255
    grey = x @ np.array([0.299, 0.587, 0.114])
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey[..., None] * 1.5 + 0.5)
    return x + flakes[..., None] + np.rot90(flakes, 2)[..., None]


def frost(x, c, rng):
    size = 1 << max(max(x.shape[:2]) - 1, 1).bit_length()
    veins = 1 - np.abs(2 * plasma_fractal(rng, size, 1.6) - 1)
    rime = plasma_fractal(rng, size, 1.3)
    texture = np.clip(0.75 * veins**3 + 0.35 * rime, 0, 1)[: x.shape[0], : x.shape[1], None]
    return c[0] * x + c[1] * texture * np.array([0.82, 0.9, 1.0])


def fog(x, c, rng):
    size = 1 << max(max(x.shape[:2]) - 1, 1).bit_length()
    top = x.max()
    x = x + c[0] * plasma_fractal(rng, size, c[1])[: x.shape[0], : x.shape[1], None]
    return x * top / (top + c[0])


def brightness(x, c, rng):
    hsv = rgb2hsv(x)
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return hsv2rgb(hsv)


def saturate(x, c, rng):
    hsv = rgb2hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * c[0] + c[1], 0, 1)
    return hsv2rgb(hsv)


def contrast(x, c, rng):
    means = x.mean(axis=(0, 1), keepdims=True)
    return (x - means) * c + means


def elastic_transform(x, c, rng):
    h, w = x.shape[:2]
    alpha, sigma, affine = (v * min(h, w) for v in c)
    centre, side = np.array([w // 2, h // 2], float), min(h, w) // 3
    src = np.stack([centre + side, centre + np.array([side, -side]), centre - side])
    dst = src + rng.uniform(-affine, affine, src.shape)
    forward = np.linalg.solve(np.c_[src, np.ones(3)], dst).T  # 2x3, (x, y) -> (x', y')
    m = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))
    # scipy works in (row, col): swap the axes of the inverse map.
    matrix = np.array([[m[1, 1], m[1, 0]], [m[0, 1], m[0, 0]]])
    offset = np.array([m[1, 2], m[0, 2]])
    x = np.stack([ndimage.affine_transform(x[..., i], matrix, offset, order=1, mode="mirror")
                  for i in range(3)], -1)
    dx = gaussian(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3) * alpha
    dy = gaussian(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3) * alpha
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([ndimage.map_coordinates(x[..., i], [yy + dy, xx + dx], order=1, mode="reflect")
                     for i in range(3)], -1)


def _pil(x: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(x * 255).astype(np.uint8))


def pixelate(x, c, rng):
    h, w = x.shape[:2]
    img = _pil(x).resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.BOX)
    return np.asarray(img) / 255.0


def jpeg_compression(x, c, rng):
    buffer = io.BytesIO()
    _pil(x).save(buffer, "JPEG", quality=c)
    return np.asarray(Image.open(buffer)) / 255.0


def spatter(x, c, rng):
    loc, scale, sigma, threshold, intensity, mud = c
    liquid = gaussian(rng.normal(loc, scale, x.shape[:2]), sigma)
    liquid[liquid < threshold] = 0
    if mud:
        m = gaussian((liquid > threshold).astype(float), intensity)
        m[m < 0.8] = 0
        return x * (1 - m[..., None]) + np.array([63, 42, 20]) / 255 * m[..., None]
    import cv2  # the generator's own water path, for timing; only the benchmark needs OpenCV

    liquid8 = (liquid * 255).astype(np.uint8)
    dist = 255 - cv2.Canny(liquid8, 50, 150)
    dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    dist = cv2.blur(dist, (3, 3)).astype(np.float32)
    m = liquid * dist
    m = m / max(m.max(), 1e-12) * intensity
    return x + m[..., None] * np.array([175, 238, 238]) / 255


REFERENCE = {
    "gaussian_noise": gaussian_noise, "shot_noise": shot_noise, "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur, "glass_blur": glass_blur, "motion_blur": motion_blur_,
    "zoom_blur": zoom_blur, "snow": snow, "frost": frost, "fog": fog, "brightness": brightness,
    "contrast": contrast, "elastic_transform": elastic_transform, "pixelate": pixelate,
    "jpeg_compression": jpeg_compression, "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur, "spatter": spatter, "saturate": saturate,
}


def corrupt(image: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """One HxWx3 uint8 image -> corrupted HxWx3 uint8, as the generator stores it."""
    x = image.astype(np.float64) / 255.0
    out = REFERENCE[name](x, P[name][severity - 1], np.random.default_rng(seed))
    return np.floor(np.clip(out, 0, 1) * 255 + 1e-3).astype(np.uint8)
