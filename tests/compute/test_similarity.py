"""Linear CKA: the streamed Gram gives the direct formula, and CKA has its known invariances."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compute.similarity import FeatureGram, linear_cka


def features(seed: int, n: int, d: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 60), d1=st.integers(1, 12),
       d2=st.integers(1, 12), batch=st.integers(1, 17))
def test_streamed_gram_matches_the_direct_formula_in_any_batching(seed, n, d1, d2, batch):
    x = features(seed, n, d1) * 3 + 1.5  # an offset: centring must happen
    y = features(seed + 1, n, d2) @ torch.randn(d2, d2, dtype=torch.float64) + x[:, :1]
    gram = FeatureGram()
    for start in range(0, n, batch):
        gram.update([x[start : start + batch], y[start : start + batch].float()])
    cka = gram.cka()
    assert cka.shape == (2, 2)
    assert math.isclose(float(cka[0, 0]), 1.0, rel_tol=1e-9)
    assert math.isclose(float(cka[1, 1]), 1.0, rel_tol=1e-9)
    assert math.isclose(float(cka[0, 1]), linear_cka(x, y), rel_tol=1e-4, abs_tol=1e-6)
    assert cka[0, 1] == cka[1, 0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100))
def test_cka_is_invariant_to_rotation_scale_and_shift(seed, scale):
    x = features(seed, 50, 8)
    q, _ = torch.linalg.qr(features(seed + 7, 8, 8))
    assert math.isclose(linear_cka(x, x @ q * scale + 3.0), 1.0, rel_tol=1e-9)
    y = features(seed + 3, 50, 5)
    assert math.isclose(linear_cka(x, y), linear_cka(x @ q * scale, y), rel_tol=1e-9)
    assert 0.0 <= linear_cka(x, y) <= 1.0


def test_unrelated_features_score_low_and_constant_ones_are_undefined():
    x, y = features(0, 5000, 4), features(1, 5000, 4)
    assert linear_cka(x, y) < 0.01
    gram = FeatureGram()
    gram.update([x, torch.ones(5000, 3)])
    cka = gram.cka()
    assert math.isclose(float(cka[0, 0]), 1.0, rel_tol=1e-12)
    assert math.isnan(cka[0, 1]) and math.isnan(cka[1, 1])
