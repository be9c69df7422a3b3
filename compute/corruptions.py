"""Common corruptions (CIFAR-10-C parameters, DESIGN section 4), batched in torch.

Each corruption is a function of a batch (N, 3, H, W) float in [0, 1], a severity parameter and
one seed per sample, returning the same shape and range on the same device. Randomness comes
from each sample's own seed (derived from corruption, severity and sample id), so a sample's
corrupted image never depends on batch size, order or device. Adding a corruption is one
function and one `register` line.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from compute.errors import UserError

FAMILIES = ("noise", "blur", "weather", "digital", "extra")
Fn = Callable[[torch.Tensor, object, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str
    params: tuple  # one parameter (or tuple of parameters) per severity 1..5
    fn: Fn
    benchmark: bool  # one of the 15 that mean corruption accuracy and mCE average over

    def __call__(self, x: torch.Tensor, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
        seeds = sample_seeds(self.name, severity, sample_ids)
        return self.fn(x, self.params[severity - 1], seeds).clamp_(0.0, 1.0)


CORRUPTIONS: dict[str, Corruption] = {}


def register(name: str, family: str, params: Sequence, benchmark: bool = True) -> Callable:
    assert family in FAMILIES and len(params) == 5, (name, family)

    def wrap(fn: Fn) -> Fn:
        CORRUPTIONS[name] = Corruption(name, family, tuple(params), fn, benchmark)
        return fn

    return wrap


def get_corruption(name: str) -> Corruption:
    if name not in CORRUPTIONS:
        known = ", ".join(sorted(CORRUPTIONS))
        raise UserError(f"unknown corruption '{name}' (known: {known})")
    return CORRUPTIONS[name]


def sample_seeds(name: str, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
    """One 63-bit seed per sample, a pure function of (corruption, severity, sample id)."""
    base = zlib.crc32(f"{name}/{severity}".encode())
    return sample_ids.to(torch.int64).cpu() * 1_000_003 + base


def per_sample(seeds: torch.Tensor, draw: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
    """Stack one draw per sample, each from a CPU generator seeded by that sample's seed.

    CPU generators make the stream identical on every device; the caller moves the result.
    """
    out = []
    for seed in seeds.tolist():
        gen = torch.Generator().manual_seed(seed)
        out.append(draw(gen))
    return torch.stack(out)


@register("gaussian_noise", "noise", [0.04, 0.06, 0.08, 0.09, 0.10])
def gaussian_noise(x: torch.Tensor, sigma: float, seeds: torch.Tensor) -> torch.Tensor:
    noise = per_sample(seeds, lambda g: torch.randn(x.shape[1:], generator=g))
    return x + sigma * noise.to(x.device, x.dtype)


@register("contrast", "digital", [0.75, 0.5, 0.4, 0.3, 0.15])
def contrast(x: torch.Tensor, c: float, seeds: torch.Tensor) -> torch.Tensor:
    # The benchmark's generator takes the mean over height and width, per channel.
    means = x.mean(dim=(2, 3), keepdim=True)
    return (x - means) * c + means


@lru_cache(maxsize=64)
def box_resize_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of PIL's BOX filter: each output pixel averages the input span it covers."""
    scale = n_in / n_out
    lo = torch.arange(n_out, dtype=torch.float64)[:, None] * scale
    edges = torch.arange(n_in + 1, dtype=torch.float64)[None, :]
    overlap = (torch.minimum(edges[:, 1:], lo + scale) - torch.maximum(edges[:, :-1], lo)).clamp(min=0)
    return (overlap / overlap.sum(dim=1, keepdim=True)).float()


def box_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    rows = box_resize_matrix(x.shape[-2], height).to(x.device, x.dtype)
    cols = box_resize_matrix(x.shape[-1], width).to(x.device, x.dtype)
    return rows @ x @ cols.T


@register("pixelate", "digital", [0.95, 0.9, 0.85, 0.75, 0.65])
def pixelate(x: torch.Tensor, c: float, seeds: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    small = box_resize(x, int(h * c), int(w * c))
    return box_resize(small, h, w)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as the benchmark's stored images (and any real corrupted file) are."""
    return (x * 255.0).round_().div_(255.0)
