"""Correlation and clustering order used by the similarity views (pure numpy)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from store.analysis import (
    cluster_order,
    cluster_tree,
    column_moments,
    correlation_dendrogram,
    correlation_from_moments,
    correlation_matrix,
    dendrogram_segments,
    pool_moments,
)


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


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), parts=st.integers(1, 4))
def test_pooled_moments_give_the_correlation_of_the_pooled_rows(seed, k, parts):
    """Moments of several row sets, pooled, give the correlation of all the rows at once (numpy's
    corrcoef), leaving out NaN rows, with a constant column (NaN) and offsets far from zero."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, k)) * rng.uniform(0.1, 10, k) + rng.uniform(-1000, 1000, k)
    x[rng.integers(0, 60, 6), rng.integers(0, k, 6)] = np.nan
    if k > 2:
        x[:, 1] = 3.7  # constant, and not exactly representable: its spread is pure rounding
    n, mean, products = pool_moments([column_moments(part) for part in np.array_split(x, parts)])
    got = correlation_from_moments(n, products, mean)
    rows = np.isfinite(x).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.corrcoef(x[rows], rowvar=False).reshape(k, k)
    if k > 2:
        assert np.isnan(got[1, [0, 2]]).all() and got[1, 1] == 1
        keep = [i for i in range(k) if i != 1]
        got, want = got[np.ix_(keep, keep)], want[np.ix_(keep, keep)]
    assert np.allclose(got, want, atol=1e-9)
    assert np.allclose(correlation_matrix(x), correlation_from_moments(n, products, mean),
                       atol=1e-9, equal_nan=True)


def test_moments_of_too_few_rows_correlate_nothing():
    n, mean, products = column_moments(np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert n == 1
    c = correlation_from_moments(n, products, mean)
    assert np.isnan(c[0, 1]) and (np.diag(c) == 1).all()
    empty = pool_moments([column_moments(np.full((3, 2), np.nan))] * 2)
    assert empty[0] == 0 and np.isnan(correlation_from_moments(*empty[::2])[0, 1])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 12))
def test_the_tree_is_scipys_average_linkage_on_one_minus_r(seed, k):
    """Same merges at the same distances as scipy.cluster.hierarchy.linkage(method="average"),
    the reference implementation, and a leaf order in which every cluster is contiguous."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    rng = np.random.default_rng(seed)
    corr = correlation_matrix(rng.normal(size=(40, k)) @ rng.normal(size=(k, k)))
    order, merges = cluster_tree(corr)
    dist = 1.0 - corr
    np.fill_diagonal(dist, 0.0)
    want = linkage(squareform(dist, checks=False), method="average")
    assert np.allclose([d for _, _, d in merges], want[:, 2])
    members = {i: {i} for i in range(k)}
    rank = {leaf: p for p, leaf in enumerate(order)}
    for i, (a, b, _) in enumerate(merges):
        members[k + i] = members[a] | members[b]
        slots = sorted(rank[m] for m in members[k + i])
        assert slots == list(range(slots[0], slots[0] + len(slots)))  # contiguous: no crossing
    assert {frozenset(members[int(a)] | members[int(b)]) for a, b in want[:, :2]} == {
        frozenset(members[a] | members[b]) for a, b, _ in merges}


def test_dendrogram_lines_stand_on_their_leaves_and_join_at_the_merge_height():
    # 0 and 1 join at 0.2, then 2 joins them at 0.9; leaves drawn in the order 1, 0, 2.
    lines = dendrogram_segments(3, [(0, 1, 0.2), (3, 2, 0.9)], [1, 0, 2])
    assert lines[:3] == [(1.5, 0.0, 1.5, 0.2), (0.5, 0.0, 0.5, 0.2), (1.5, 0.2, 0.5, 0.2)]
    assert lines[3:] == [(1.0, 0.2, 1.0, 0.9), (2.5, 0.0, 2.5, 0.9), (1.0, 0.9, 2.5, 0.9)]


def test_the_correlation_dendrogram_has_two_stems_and_a_bar_per_merge():
    import polars as pl

    names = ["a", "b", "c"]
    r = {("a", "b"): 0.9, ("a", "c"): 0.1, ("b", "c"): 0.3}
    rows = [(x, y, 1.0 if x == y else r.get((x, y), r.get((y, x))), i)
            for i, x in enumerate(names) for y in names]
    frame = pl.DataFrame(rows, schema=["corruption_a", "corruption_b", "r", "order_a"], orient="row")
    lines = correlation_dendrogram(frame)
    assert lines.height == 6
    assert np.allclose(sorted(set(lines["height1"])), [1 - 0.9, 1 - (0.1 + 0.3) / 2])
