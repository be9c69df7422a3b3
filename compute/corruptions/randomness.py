"""Per-sample random numbers that do not depend on batch size, order or device.

A counter-based generator: every number is a hash of (sample seed, stream, element index), made of
32-bit integer operations (int32 multiplication wraps modulo 2^32 on CPUs and GPUs alike). A
corruption draws from a `SampleRandom` built on its batch's seeds; each draw takes the next
stream, so one sample's numbers are the same whichever batch it is in, and a whole batch is drawn
in a few tensor operations.
"""

from __future__ import annotations

import math
import zlib

import torch

_M32 = 0xFFFFFFFF


def _int32(value: int) -> int:
    """The int32 with the same 32 bits as `value`."""
    value &= _M32
    return value - (1 << 32) if value >= 1 << 31 else value


def _srl(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int32 bit patterns (>> is arithmetic on signed integers)."""
    return (x >> k) & ((1 << (32 - k)) - 1)


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The 'lowbias32' integer hash on int32 bit patterns: every input bit affects every output bit."""
    x = x ^ _srl(x, 16)
    x = x * _int32(0x7FEB352D)
    x = x ^ _srl(x, 15)
    x = x * _int32(0x846CA68B)
    return x ^ _srl(x, 16)


def sample_seeds(name: str, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
    """One 32-bit seed (int32) per sample, a pure function of (corruption, severity, sample id)."""
    ids = sample_ids.to(torch.int64)
    low = ((ids & _M32) ^ (1 << 31)) - (1 << 31)  # the same bits, in int32 range
    high = ids >> 32
    base = _int32(zlib.crc32(f"{name}/{severity}".encode()))
    return mix32(mix32(low.to(torch.int32)) ^ mix32(high.to(torch.int32) ^ base))


def _to_unit(bits: torch.Tensor) -> torch.Tensor:
    """The top 23 bits as a float in the open interval (0, 1): (2 b + 1) / 2^24 is exact in
    float32 (b + 0.5 with 24 bits of b is not, and rounds the top value to 1.0)."""
    return (_srl(bits, 9).float() * 2 + 1) * (1.0 / (1 << 24))


class SampleRandom:
    """Draws (N, *shape) tensors, row n from sample n's own stream."""

    def __init__(self, seeds: torch.Tensor, device: torch.device | str) -> None:
        self.seeds = seeds.to(device=device, dtype=torch.int32)
        self.device = torch.device(device)
        self.stream = 0

    def _keys(self, stream: int) -> torch.Tensor:
        return mix32(mix32(self.seeds ^ _int32(stream * 0x9E3779B9)))

    def _next(self) -> int:
        self.stream += 1
        return self.stream

    def bits(self, *shape: int) -> torch.Tensor:
        """Uniform 32-bit patterns (int32)."""
        keys = self._keys(self._next())[:, None]
        counter = torch.arange(math.prod(shape), device=self.device, dtype=torch.int32)[None, :]
        return mix32(counter ^ keys).view(-1, *shape)

    def uniform_bits(self, *shape: int, bits: int = 24) -> torch.Tensor:
        """Uniform integers in [0, 2^bits) (int32), bits <= 31: the top bits of `bits()`."""
        return _srl(self.bits(*shape), 32 - bits)

    def uniform(self, *shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        """Uniform floats in the open interval (low, high)."""
        return low + (high - low) * _to_unit(self.bits(*shape))

    def normal(self, *shape: int, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
        """Gaussian floats (Box-Muller, both outputs used)."""
        count = math.prod(shape)
        half = (count + 1) // 2
        u1, u2 = self.uniform(half), self.uniform(half)
        radius = torch.sqrt(-2.0 * torch.log(u1))
        angle = (2.0 * math.pi) * u2
        z = torch.cat([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
        return (mean + std * z[:, :count]).view(-1, *shape)

    def integers(self, low: int, high: int, *shape: int) -> torch.Tensor:
        """Integers in [low, high), like numpy's randint (int64)."""
        span = high - low
        bits = _srl(self.bits(*shape), 1)
        # A power-of-two span takes the low bits: the same numbers as %, without a division.
        bits = bits & (span - 1) if span & (span - 1) == 0 else bits % span
        return low + bits.long()

    def generators(self) -> list[torch.Generator]:
        """CPU torch generators seeded from each sample's stream, for a sampler torch has no
        counter-based form of; the caller moves its draws to the batch's device."""
        seeds = _srl(self.bits(1), 1).flatten().tolist()
        return [torch.Generator().manual_seed(seed) for seed in seeds]
