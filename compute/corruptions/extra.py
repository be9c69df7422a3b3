"""The benchmark's four held-out extras: speckle noise, Gaussian blur, spatter (water drops shaped
by OpenCV's edge chain, or mud) and saturate. Mean corruption accuracy and mCE leave them out."""

from __future__ import annotations

import torch

from compute.corruptions import edges
from compute.corruptions import imageops as ops
from compute.corruptions.randomness import SampleRandom
from compute.corruptions.registry import CIFAR_C, register


@register("speckle_noise", "extra", [0.06, 0.10, 0.12, 0.16, 0.20], benchmark=False, reference=CIFAR_C)
def speckle_noise(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return x + x * rng.normal(*x.shape[1:], std=sigma)


@register("gaussian_blur", "extra", [0.4, 0.6, 0.7, 0.8, 1.0], benchmark=False, random=False,
          reference=CIFAR_C)
def gaussian_blur(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return ops.gaussian_filter(x, sigma)


@register("spatter", "extra", [
    (0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0), (0.65, 0.3, 1, 0.69, 0.5, 0),
    (0.65, 0.1, 0.7, 0.69, 0.6, 1), (0.65, 0.1, 0.5, 0.68, 0.6, 1),
], benchmark=False, reference=CIFAR_C)
def spatter(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    loc, scale, sigma, threshold, intensity, mud = c
    h, w = x.shape[-2:]
    liquid = ops.gaussian_filter(rng.normal(1, h, w, mean=loc, std=scale), sigma)
    liquid = torch.where(liquid < threshold, 0.0, liquid)
    if mud:
        m = ops.gaussian_filter((liquid > threshold).to(x.dtype), intensity)
        m = torch.where(m < 0.8, 0.0, m)
        colour = torch.tensor([63, 42, 20], device=x.device)[None, :, None, None] / 255.0
        return x * (1 - m) + colour * m
    # Water: the generator lightens where the drops are, by an embossed map of the distance to
    # their Canny edges, all computed on the liquid layer cast to uint8.
    levels, ripple = water_ripple(liquid)
    m = levels * ripple
    m = m / m.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) * intensity
    colour = torch.tensor([175, 238, 238], device=x.device)[None, :, None, None] / 255.0
    return x + m * colour


def water_ripple(liquid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's OpenCV chain on the liquid layer (N, 1, H, W) >= 0, operation for
    operation: (the layer as uint8 levels, the ripple map), both float32 integers.

    uint8 cast -> Canny(50, 150) -> distanceTransform(L2, 5) of the non-edges -> truncate at 20
    -> 3x3 mean (float) -> uint8 -> equalizeHist -> emboss filter2D (uint8, saturating) -> 3x3
    mean (uint8, rounding).
    """
    # numpy's float -> uint8 cast truncates and, past 255, wraps around (x86): about one image
    # in six at severity 3 has drops above 1.0 whose centres turn dark.
    levels = torch.floor(liquid * 255).remainder(256)
    dist = edges.chamfer_distance(edges.canny(levels, 50, 150), 20.0)
    # cv2.blur sums float32 in double and rounds the mean to float32; astype(uint8) truncates.
    dist = torch.floor(ops.box_sum3(dist.double()).div(9).float())
    dist = ops.equalize_hist(dist)
    emboss = torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])
    dist = ops.correlate(dist, emboss, "mirror").clamp(0, 255)  # integer sums, exact in float32
    return levels, torch.round(ops.box_sum3(dist) / 9)  # never halfway: 9 is odd


@register("saturate", "extra", [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)], benchmark=False,
          random=False, reference=CIFAR_C)
def saturate(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    # HSV saturation S -> S' with hue and value kept: channel -> V - (V - channel) S' / S. A grey
    # pixel has hue 0 (red) in scikit-image, so it becomes (V, V (1 - S'), V (1 - S')).
    v = x.amax(dim=1, keepdim=True)
    delta = v - x.amin(dim=1, keepdim=True)
    sat = torch.where(v > 0, delta / v.clamp_min(1e-12), 0.0)
    sat_new = (sat * c[0] + c[1]).clamp(0, 1)
    coloured = v - (v - x) * (sat_new / sat.clamp_min(1e-12))
    grey = torch.cat([v, v * (1 - sat_new), v * (1 - sat_new)], dim=1)
    return torch.where(delta > 0, coloured, grey)
