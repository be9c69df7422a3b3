"""Blur: defocus (disk kernel), glass (blur, the generator's copying pixel shuffle, blur),
motion (ImageMagick's one-sided kernel) and zoom blur."""

from __future__ import annotations

import numpy as np
import torch

from compute.corruptions import imageops as ops
from compute.corruptions.randomness import SampleRandom
from compute.corruptions.registry import CIFAR_C, register


def disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """The generator's anti-aliased disk: a 17x17 binary disk, normalised, then a 3x3 Gaussian."""
    coords = torch.arange(-8, 9, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).double()
    disk /= disk.sum()
    g = torch.exp(-(torch.arange(-1, 2, dtype=torch.float64) ** 2) / (2 * alias_blur**2))
    g /= g.sum()
    return ops.separable(disk[None, None], g, "mirror")[0, 0]


@register("defocus_blur", "blur", [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
          random=False, reference=CIFAR_C)
def defocus_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    kernel = disk_kernel(*c)
    support = int(max(abs(i) for i in torch.nonzero(kernel.abs() > 1e-12).flatten() - 8))
    kernel = kernel[8 - support : 9 + support, 8 - support : 9 + support]
    return ops.correlate(x, kernel.float(), "mirror")


@register("glass_blur", "blur", [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)],
          reference=CIFAR_C)
def glass_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    sigma, delta, iterations = c
    h, w = x.shape[-2:]
    x = ops.to_uint8_levels(ops.gaussian_filter(x, sigma))
    # One (dx, dy) per position, in the generator's order: rows bottom to top, columns right to
    # left, each in randint(-delta, delta), i.e. -1 or 0 for CIFAR's delta of 1.
    shifts = rng.integers(-delta, delta, iterations, h - 2 * delta, w - 2 * delta, 2)
    for it in range(iterations):
        x = glass_shuffle(x, shifts[:, it], delta)
    return ops.gaussian_filter(x, sigma)


def glass_shuffle(x: torch.Tensor, shifts: torch.Tensor, delta: int) -> torch.Tensor:
    """One pass of the generator's "swap" loop, as its code behaves on numpy views.

    `x[h, w], x[h', w'] = x[h', w'], x[h, w]` assigns a view of x[h, w] after x[h, w] has been
    overwritten, so it copies: x[h, w] takes its neighbour's pixel and the neighbour keeps its
    own (the published CIFAR-10-C was made so). With shifts in [-delta, delta) = {-1, 0} the
    neighbour lies above or left of (h, w), not yet visited in the bottom-to-top, right-to-left
    order, so the whole pass is one gather from the unchanged image.
    shifts: (N, H - 2 delta, W - 2 delta, 2) as (dx, dy), rows and columns in visiting order.
    """
    if delta != 1:  # positive shifts would read pixels the pass has already overwritten
        raise ValueError(f"glass blur's one-gather pass needs a maximum shift of 1, got {delta}")
    n, ch, h, w = x.shape
    rows = torch.arange(h - delta, delta, -1, device=x.device)[None, :, None]
    cols = torch.arange(w - delta, delta, -1, device=x.device)[None, None, :]
    source = torch.arange(h * w, device=x.device).repeat(n, 1)
    target = (rows * w + cols).expand(n, -1, -1)
    moved = (rows + shifts[..., 1]) * w + (cols + shifts[..., 0])
    source.scatter_(1, target.reshape(n, -1), moved.reshape(n, -1))
    index = source[:, None, :].expand(n, ch, h * w)
    return x.reshape(n, ch, h * w).gather(2, index).view(n, ch, h, w)


@register("motion_blur", "blur", [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)], reference=CIFAR_C)
def motion_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    angles = rng.uniform(1, low=-45.0, high=45.0).flatten()
    # ImageMagick hands the blurred image back as an 8-bit PNG: rounded to the nearest level.
    return torch.round(ops.motion_blur(x, c[0], c[1], angles) * 255) / 255


@register("zoom_blur", "blur", [1.06, 1.11, 1.16, 1.21, 1.26], random=False, reference=CIFAR_C)
def zoom_blur(x: torch.Tensor, top: float, rng: SampleRandom) -> torch.Tensor:
    factors = np.arange(1, top, 0.01)  # exactly the generator's zoom factors, 1.00 upwards
    # One zoom at a time: a batched product over all of them writes a zooms-times larger
    # intermediate and is slower (memory-bound) on a CPU.
    out = x.clone()
    for z in factors:
        out += ops.clipped_zoom(x, float(z))
    return out / (len(factors) + 1)
