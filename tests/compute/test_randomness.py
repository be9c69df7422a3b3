"""The counter-based generator: the hash is lowbias32, draws have the right distributions, and a
sample's numbers do not depend on the batch it is drawn in."""

import math

import numpy as np
import pytest
import torch

from compute.corruptions.randomness import SampleRandom, _to_unit, mix32, sample_seeds


def lowbias32(x: int) -> int:
    """The published hash, in plain Python integers."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_mix32_is_lowbias32_on_int32_bit_patterns():
    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xDEADBEEF, 0xFFFFFFFF]
    as_int32 = torch.tensor(np.array(values, dtype=np.uint32).view(np.int32))
    got = mix32(as_int32).numpy().view(np.uint32).tolist()
    assert got == [lowbias32(v) for v in values]


@pytest.fixture
def rng():
    return SampleRandom(sample_seeds("test", 1, torch.arange(500)), "cpu")


def test_uniform_and_normal_moments(rng):
    u = rng.uniform(3072)
    assert u.min() > 0 and u.max() < 1
    n = u.numel()
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 0.001
    z = rng.normal(3, 32, 32)
    assert z.shape == (500, 3, 32, 32)
    assert abs(z.mean()) < 4 / math.sqrt(z.numel()) and abs(z.std() - 1) < 0.005
    assert abs((z.abs() > 3).float().mean() - 0.0027) < 0.0004
    i = rng.integers(-1, 1, 10_000)
    assert set(i.unique().tolist()) == {-1, 0} and abs(i.float().mean() + 0.5) < 0.01


def test_a_samples_draws_do_not_depend_on_its_batch():
    seeds = sample_seeds("test", 2, torch.arange(1000, 1064))
    whole = SampleRandom(seeds, "cpu")
    draws = [whole.uniform(7), whole.normal(5), whole.integers(0, 9, 4)]
    part = SampleRandom(seeds[10:20], "cpu")
    again = [part.uniform(7), part.normal(5), part.integers(0, 9, 4)]
    for a, b in zip(draws, again, strict=True):
        assert torch.equal(a[10:20], b)
    seeds_whole = [g.initial_seed() for g in SampleRandom(seeds, "cpu").generators()]
    seeds_part = [g.initial_seed() for g in SampleRandom(seeds[10:20], "cpu").generators()]
    assert seeds_whole[10:20] == seeds_part


def test_seeds_differ_by_corruption_severity_and_sample():
    ids = torch.arange(1000)
    a, b, c = sample_seeds("fog", 1, ids), sample_seeds("fog", 2, ids), sample_seeds("snow", 1, ids)
    assert len(set(a.tolist())) == 1000
    assert not torch.equal(a, b) and not torch.equal(a, c)
    big = sample_seeds("fog", 1, torch.tensor([5, 5 + (1 << 32)]))
    assert big[0] != big[1]  # ids beyond 32 bits stay distinct


def test_uniform_floats_stay_strictly_inside_the_unit_interval_at_the_extreme_bits():
    # All-ones bits once rounded up to exactly 1.0 (24 bits plus a half do not fit in float32).
    bits = torch.tensor([0, 1, -1, -2, 2**31 - 1, -(2**31)], dtype=torch.int32)
    u = _to_unit(bits)
    assert (u > 0).all() and (u < 1).all()
    assert u[2] == 1 - 2**-24 and u[0] == 2**-24


@pytest.mark.parametrize("low, high", [(-2, 2), (-1, 2), (0, 7), (3, 4)])
def test_integers_cover_their_range_evenly(rng, low, high):
    # Power-of-two spans take low bits, others a remainder: both uniform over [low, high).
    i = rng.integers(low, high, 2000)
    counts = torch.bincount((i - low).flatten(), minlength=high - low).double()
    assert i.min() == low and i.max() == high - 1
    expected = i.numel() / (high - low)
    assert ((counts - expected).abs() < 5 * math.sqrt(expected)).all()
