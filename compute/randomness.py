"""Per-sample random numbers that do not depend on batch size, order or device.

A counter-based generator: every number is a hash of (sample seed, stream, element index), made of
32-bit integer operations that are exact on any device. A corruption draws from a `SampleRandom`
built on its batch's seeds; each draw takes the next stream, so one sample's numbers are the same
whichever batch it is in, and a whole batch is drawn in a few tensor operations.
"""

from __future__ import annotations

import math
import zlib

import torch

_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2^32 for x in [0, 2^32), split in 16-bit halves so int64 never overflows."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser (the 'lowbias32' hash): every input bit affects every output bit."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def sample_seeds(name: str, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
    """One 32-bit seed per sample, a pure function of (corruption, severity, sample id)."""
    base = torch.tensor(zlib.crc32(f"{name}/{severity}".encode()), dtype=torch.int64)
    ids = sample_ids.to(torch.int64)
    return mix32(mix32(ids & _M32) ^ mix32((ids >> 32) ^ base))


class SampleRandom:
    """Draws (N, *shape) tensors, row n from sample n's own stream."""

    def __init__(self, seeds: torch.Tensor, device: torch.device | str) -> None:
        self.seeds = seeds.to(device=device, dtype=torch.int64)[:, None]
        self.device = torch.device(device)
        self.stream = 0

    def bits(self, *shape: int) -> torch.Tensor:
        """Uniform 32-bit integers (as int64)."""
        self.stream += 1
        # The per-sample key is mixed twice; one round per element then decorrelates positions.
        key = mix32(mix32(self.seeds ^ (self.stream * 0x9E3779B9 & _M32)))
        count = math.prod(shape)
        counter = torch.arange(count, device=self.device, dtype=torch.int64)[None, :]
        return mix32(counter ^ key).view(-1, *shape)

    def uniform(self, *shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        """Uniform floats in the open interval (low, high)."""
        u = ((self.bits(*shape) >> 8).float() + 0.5) * (1.0 / (1 << 24))
        return low + (high - low) * u

    def normal(self, *shape: int, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
        """Gaussian floats (Box-Muller)."""
        count = math.prod(shape)
        half = (count + 1) // 2
        u1, u2 = self.uniform(half), self.uniform(half)
        radius = torch.sqrt(-2.0 * torch.log(u1))
        angle = (2.0 * math.pi) * u2
        z = torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)  # both outputs
        return (mean + std * z[:, :count]).view(-1, *shape)

    def integers(self, low: int, high: int, *shape: int) -> torch.Tensor:
        """Integers in [low, high), like numpy's randint."""
        return low + (self.bits(*shape) % (high - low))

    def generators(self) -> list[torch.Generator]:
        """CPU torch generators seeded from each sample's stream, for samplers torch has no
        counter-based form of (Poisson); the result is moved to the batch's device by the caller."""
        seeds = self.bits(1).flatten().tolist()
        return [torch.Generator().manual_seed(int(s)) for s in seeds]
