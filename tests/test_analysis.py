"""Correlation and clustering order used by the similarity views (pure numpy)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from store.analysis import cluster_order, correlation_matrix


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8))
def test_correlation_is_numpy_corrcoef_over_finite_rows(seed, k):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(50, k))
    x[rng.integers(0, 50, 5), rng.integers(0, k, 5)] = np.nan
    rows = np.isfinite(x).all(axis=1)
    got = correlation_matrix(x)
    want = np.corrcoef(x[rows], rowvar=False).reshape(k, k)
    assert np.allclose(got, want) and np.allclose(got, got.T)
    assert (np.diag(got) == 1).all()


def test_a_constant_column_correlates_with_nothing():
    x = np.column_stack([np.arange(10.0), np.ones(10), np.arange(10.0) ** 2])
    c = correlation_matrix(x)
    assert np.isnan(c[0, 1]) and c[1, 1] == 1 and c[0, 2] > 0.9


def test_cluster_order_puts_correlated_items_side_by_side():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    # columns: a-like, b-like, a-like, b-like, a-like
    x = np.column_stack([a + 0.1 * rng.normal(size=200) if i % 2 == 0 else b + 0.1 * rng.normal(size=200)
                         for i in range(5)])
    order = cluster_order(correlation_matrix(x))
    assert sorted(order) == list(range(5))
    groups = ["a" if i % 2 == 0 else "b" for i in order]
    assert groups in (["a", "a", "a", "b", "b"], ["b", "b", "a", "a", "a"])
    assert cluster_order(np.ones((1, 1))) == [0]
