"""Batched image primitives the corruptions are made of, on (N, C, H, W) float tensors.

Each one reproduces the semantics of the library call the benchmark's generator makes (scipy,
scikit-image, OpenCV, ImageMagick, PIL), border handling included, because on 32x32 images the
border is a large part of the picture.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

# --- borders --------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _border_index(n: int, pad: int, mode: str) -> torch.Tensor:
    """Source index of each position of a padded axis.

    nearest: a a | a b c | c c   (scipy/skimage 'nearest', OpenCV BORDER_REPLICATE)
    mirror:  c b | a b c | b a   (scipy 'mirror', OpenCV BORDER_REFLECT_101, the OpenCV default)
    reflect: b a | a b c | c b   (scipy/skimage 'reflect', half-sample symmetric)
    """
    i = np.arange(-pad, n + pad)
    if mode == "nearest":
        i = np.clip(i, 0, n - 1)
    else:
        period = 2 * n - 2 if mode == "mirror" else 2 * n
        i = np.mod(i, period) if period > 0 else np.zeros_like(i)
        i = np.where(i >= n, period - i - (mode != "mirror"), i)
    return torch.from_numpy(i.astype(np.int64))


def pad2d(x: torch.Tensor, pad: int, mode: str) -> torch.Tensor:
    rows = _border_index(x.shape[-2], pad, mode).to(x.device)
    cols = _border_index(x.shape[-1], pad, mode).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def correlate(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Same-size 2-D correlation of every channel with one small odd-sized kernel (OpenCV's
    filter2D), as a sum of shifted copies: on 32x32 images this beats a convolution call."""
    k = kernel.shape[-1]
    h, w = x.shape[-2:]
    padded = pad2d(x, k // 2, mode)
    out = torch.zeros_like(x)
    for (i, j), weight in np.ndenumerate(kernel.double().cpu().numpy()):
        if weight != 0:
            out += float(weight) * padded[..., i : i + h, j : j + w]
    return out


@lru_cache(maxsize=256)
def filter_matrix(n: int, kernel_1d: tuple[float, ...], mode: str) -> torch.Tensor:
    """(n, n) matrix applying a 1-D correlation with its border rule along one axis."""
    k = len(kernel_1d)
    index = _border_index(n, k // 2, mode).numpy()
    m = np.zeros((n, n))
    for i in range(n):
        np.add.at(m[i], index[i : i + k], kernel_1d)
    return torch.from_numpy(m).float()


def separable(x: torch.Tensor, kernel_1d: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate every channel with kernel_1d along rows and columns: two small matrix products."""
    taps = tuple(float(v) for v in kernel_1d.flatten())
    rows = filter_matrix(x.shape[-2], taps, mode).to(x.device, x.dtype)
    cols = filter_matrix(x.shape[-1], taps, mode).to(x.device, x.dtype)
    return rows @ x @ cols.T


# --- filters --------------------------------------------------------------------------------


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate * sigma + 0.5), normalised."""
    radius = int(truncate * sigma + 0.5)
    i = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (i / sigma) ** 2) if sigma > 0 else (i == 0).double()
    return (k / k.sum()).float()


def gaussian_filter(
    x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0
) -> torch.Tensor:
    """skimage.filters.gaussian per channel (its default border is 'nearest')."""
    if sigma <= 0:
        return x
    return separable(x, gaussian_kernel(sigma, truncate), mode)


def box_sum3(x: torch.Tensor) -> torch.Tensor:
    """The 3x3 sums of OpenCV's blur(x, (3, 3)) (divide by 9 for the mean), reflect-101 borders,
    in x's dtype (integer-valued inputs sum exactly)."""
    return separable(x, torch.ones(3), "mirror")


def equalize_hist(levels: torch.Tensor) -> torch.Tensor:
    """OpenCV's equalizeHist on (N, 1, H, W) integer levels 0..255, per image, as float32.

    Its arithmetic: lut[k] = round(float32(count of levels in (first, k]) * float32(255 /
    (pixels - count of the first level present))), rounding half to even; an image of one level
    stays as it is.
    """
    n = levels.shape[0]
    idx = levels.reshape(n, -1).long()
    hist = torch.zeros(n, 256, dtype=torch.int64, device=levels.device)
    hist.scatter_add_(1, idx, torch.ones_like(idx))
    first = (hist > 0).to(torch.int8).argmax(1, keepdim=True)
    first_count = hist.gather(1, first)
    total = idx.shape[1]
    scale = torch.tensor(255.0) / (total - first_count).clamp_min(1).float()
    lut = torch.round((hist.cumsum(1) - hist.cumsum(1).gather(1, first)).float() * scale)
    lut = lut.clamp(0, 255)
    lut = torch.where(first_count == total, first.float(), lut)  # one level: left as it is
    return lut.gather(1, idx).view_as(levels)


# --- resampling -------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def box_resize_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of PIL's BOX resampling along one axis.

    PIL centres a window of max(n_in / n_out, 1) input pixels on each output pixel and averages
    the input pixels whose centres fall inside it (not an area-weighted average).
    """
    scale = n_in / n_out
    width = max(scale, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - 0.5 * width + 0.5), 0)
        hi = min(int(centre + 0.5 * width + 0.5), n_in)
        t = (np.arange(lo, hi) - centre + 0.5) / width
        m[i, lo:hi] = (t > -0.5) & (t <= 0.5)
    return torch.from_numpy(m / m.sum(axis=1, keepdims=True)).float()


def box_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """PIL's Image.resize(..., BOX) on 8-bit images: a horizontal pass, then a vertical one, each
    rounded to 8-bit levels as PIL stores its intermediate image."""
    rows = box_resize_matrix(x.shape[-2], height).to(x.device, x.dtype)
    cols = box_resize_matrix(x.shape[-1], width).to(x.device, x.dtype)
    horizontal = torch.floor(x @ cols.T * 255 + 0.5) / 255
    return torch.floor(rows @ horizontal * 255 + 0.5) / 255


@lru_cache(maxsize=256)
def zoom_matrix(n: int, factor: float) -> torch.Tensor:
    """(n, n) weights of the benchmark's clipped_zoom along one axis.

    Crop the centre ceil(n / factor) pixels, zoom them by `factor` with scipy.ndimage.zoom
    (order 1, corners aligned), and keep the centre n pixels: linear, so one matrix per axis.
    """
    crop = math.ceil(n / factor)
    top = (n - crop) // 2
    size = round(crop * factor)
    trim = (size - n) // 2
    src = (np.arange(n) + trim) * ((crop - 1) / (size - 1)) if size > 1 else np.zeros(n)
    lo = np.clip(np.floor(src).astype(np.int64), 0, crop - 1)
    hi = np.minimum(lo + 1, crop - 1)
    frac = src - lo
    m = np.zeros((n, n))
    np.add.at(m, (np.arange(n), top + lo), 1 - frac)
    np.add.at(m, (np.arange(n), top + hi), frac)
    return torch.from_numpy(m).float()


def clipped_zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    rows = zoom_matrix(x.shape[-2], factor).to(x.device, x.dtype)
    cols = zoom_matrix(x.shape[-1], factor).to(x.device, x.dtype)
    return rows @ x @ cols.T


def sample_bilinear(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, mode: str) -> torch.Tensor:
    """x sampled at fractional pixel coordinates (N, H, W) with bilinear weights.

    mode 'mirror' reflects about the border pixel centres (OpenCV BORDER_REFLECT_101), 'reflect'
    about the image edges (scipy's map_coordinates mode='reflect').
    """
    h, w = x.shape[-2:]
    if mode == "mirror":
        grid = torch.stack([cols * (2 / (w - 1)) - 1, rows * (2 / (h - 1)) - 1], dim=-1)
        align = True
    else:
        grid = torch.stack([(2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1], dim=-1)
        align = False
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection",
                         align_corners=align)


# --- motion blur (ImageMagick's MotionBlurImage) ---------------------------------------------


def motion_blur(x: torch.Tensor, radius: float, sigma: float, angles: torch.Tensor) -> torch.Tensor:
    """ImageMagick's one-sided motion blur with one angle (degrees) per image.

    Width 2 * ceil(radius) + 1 taps of a half Gaussian; tap i reads the pixel at
    (round(i cos a), round(i sin a)) from the output pixel, edges extended.
    """
    width = 2 * math.ceil(radius) + 1
    i = torch.arange(width, dtype=torch.float64)
    weights = torch.exp(-(i * i) / (2 * sigma * sigma))
    weights = (weights / weights.sum()).to(x.device, x.dtype)
    rad = torch.deg2rad(angles.to(torch.float64))[:, None]
    # ceil(v - 0.5) as ImageMagick rounds; the hypot in its formula cancels to cos/sin.
    dx = torch.ceil(i[None, :].to(rad.device) * torch.cos(rad) - 0.5).long().to(x.device)
    dy = torch.ceil(i[None, :].to(rad.device) * torch.sin(rad) - 0.5).long().to(x.device)
    n, c, h, w = x.shape
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    flat = x.reshape(n, c, h * w)
    out = torch.zeros_like(flat)
    for t in range(width):
        rows = (ys + dy[:, t, None, None]).clamp(0, h - 1)
        cols = (xs + dx[:, t, None, None]).clamp(0, w - 1)
        index = (rows * w + cols).view(n, 1, h * w).expand(n, c, h * w)
        out += weights[t] * flat.gather(2, index)
    return out.view(n, c, h, w)


# --- colour -----------------------------------------------------------------------------------


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """OpenCV's RGB2GRAY weights, keeping a channel axis."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
    return (x * weights[None, :, None, None]).sum(dim=1, keepdim=True)


def to_uint8_levels(x: torch.Tensor) -> torch.Tensor:
    """np.uint8(np.clip(x, 0, 1) * 255) / 255: truncation to 8-bit levels, as the generator stores.

    The small tolerance keeps a value that is an exact level in exact arithmetic (k / 255 * 255
    computed in floating point) on that level.
    """
    return torch.floor(x.clamp(0, 1) * 255.0 + 1e-3).div_(255.0)
