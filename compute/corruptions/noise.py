"""Noise: Gaussian, shot (Poisson) and impulse (salt-and-pepper) noise."""

from __future__ import annotations

import functools
import math

import torch

from compute.corruptions.randomness import SampleRandom
from compute.corruptions.registry import CIFAR_C, register


@register("gaussian_noise", "noise", [0.04, 0.06, 0.08, 0.09, 0.10], reference=CIFAR_C)
def gaussian_noise(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return x + rng.normal(*x.shape[1:], std=sigma)


@functools.lru_cache(maxsize=8)
def _poisson_cdf(c: float) -> torch.Tensor:
    """P(X <= k - 1) for X ~ Poisson(c * l / 255), one row per 8-bit level l and k = 0..K:
    (256, K + 1) float64, column 0 being P(X <= -1) = 0.

    Always computed on the CPU (then moved), so every device compares against the same numbers.
    """
    kmax = math.ceil(c + 12 * math.sqrt(c) + 20)  # 12 standard deviations: the rest is below 1e-30
    lam = torch.arange(256, dtype=torch.float64)[:, None] * (c / 255)
    k = torch.arange(kmax, dtype=torch.float64)[None, :]
    pmf = torch.exp(torch.xlogy(k, lam) - lam - torch.lgamma(k + 1))
    cdf = pmf.cumsum(dim=1).clamp(max=1.0)
    cdf[:, -1] = 1.0
    return torch.cat([torch.zeros(256, 1, dtype=torch.float64), cdf], dim=1)


UNIFORM_BITS = 24  # shot noise's uniforms: u = (b + 0.5) / 2^24 for an integer b < 2^24
GUIDE_BITS = 12  # the guide table's buckets: the top 12 bits of b


@functools.lru_cache(maxsize=8)
def _poisson_guide(c: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Integer tables that invert the CDF of `_poisson_cdf(c)` without floating point.

    edges[l, k] is the smallest b whose u = (b + 0.5) / 2^24 exceeds P(X <= k), so the draw for
    b is the number of edges <= b; flattened with level l offset by l * 2^24 it is one sorted
    array. guide[l, j] is that draw for every b whose top bits are j, or -1 where an edge falls
    inside bucket j (about 1 % of pixels; they binary-search the edges).
    """
    cdf = _poisson_cdf(c)[:, 1:]
    # Exact in float64: scaling by 2^24 and subtracting 0.5 do not round at these magnitudes.
    edges = (torch.floor(cdf * 2**UNIFORM_BITS - 0.5) + 1).long()
    low = torch.arange(1 << GUIDE_BITS, dtype=torch.int64) << (UNIFORM_BITS - GUIDE_BITS)
    high = low + (1 << (UNIFORM_BITS - GUIDE_BITS)) - 1
    first = torch.searchsorted(edges, low.expand(256, -1).contiguous(), right=True)
    last = torch.searchsorted(edges, high.expand(256, -1).contiguous(), right=True)
    guide = torch.where(first == last, first, -1).to(torch.int16).flatten()
    flat_edges = (edges + (torch.arange(256)[:, None] << UNIFORM_BITS)).flatten()
    return guide, flat_edges, edges.shape[1]


def _poisson_by_inversion(levels: torch.Tensor, c: float, b: torch.Tensor) -> torch.Tensor:
    """Exact Poisson(c * levels / 255) draws by inverting the CDF at u = (b + 0.5) / 2^24, b the
    integers (int32) < 2^24: the k with P(X <= k - 1) < u <= P(X <= k), found by a guide-table
    lookup and, for the ~1 % of pixels whose bucket holds an edge, a binary search."""
    guide, flat_edges, width = _poisson_guide(float(c))
    guide, flat_edges = guide.to(levels.device), flat_edges.to(levels.device)
    lev, b = levels.to(torch.int32).flatten(), b.flatten()
    k = guide.index_select(0, (lev << GUIDE_BITS) + (b >> (UNIFORM_BITS - GUIDE_BITS)))
    todo = (k < 0).nonzero().squeeze(1)
    rows = lev[todo].long()
    found = torch.searchsorted(flat_edges, (rows << UNIFORM_BITS) + b[todo], right=True)
    k.index_copy_(0, todo, (found - rows * width).to(k.dtype))
    return k.view(levels.shape)


@register("shot_noise", "noise", [500, 250, 100, 75, 50], reference=CIFAR_C)
def shot_noise(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    levels = (x * 255).round()
    if torch.equal(levels / 255, x):
        # An 8-bit image (what the builds feed) has only 256 rates: invert their CDFs, batched,
        # with counter-based uniforms (independent of batch size, order and device).
        b = rng.uniform_bits(*x.shape[1:], bits=UNIFORM_BITS)
        return _poisson_by_inversion(levels, c, b).to(x.dtype) / c
    # Any other input: one CPU generator per sample and torch.poisson (exact, but serial).
    rates = (x * c).cpu()
    counts = [torch.poisson(r, generator=g) for r, g in zip(rates, rng.generators(), strict=True)]
    return torch.stack(counts).to(x.device) / c


@register("impulse_noise", "noise", [0.01, 0.02, 0.03, 0.05, 0.07], reference=CIFAR_C)
def impulse_noise(x: torch.Tensor, amount: float, rng: SampleRandom) -> torch.Tensor:
    # skimage's salt-and-pepper: each value flips with probability `amount`, half to 1, half to 0.
    # One uniform decides both: u < amount flips, and u < amount / 2 makes it salt.
    u = rng.uniform(*x.shape[1:])
    return torch.where(u < amount, (u < amount / 2).to(x.dtype), x)
