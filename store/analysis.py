"""Small numeric steps on query results that SQL says badly: correlation matrices and the
hierarchical-clustering order that puts similar rows next to each other. Pure numpy, so the app
needs nothing heavier."""

from __future__ import annotations

import numpy as np


def correlation_matrix(values: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns of `values` (n, k), over the rows where every
    column is finite. A constant column correlates with nothing (NaN), but with itself 1."""
    n, mean, products = column_moments(values)
    return correlation_from_moments(n, products, mean)


def column_moments(values: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(n, column means, centred cross products) over the rows of `values` (n, k) where every
    column is finite: all a correlation needs, in a form that pools across row sets
    (`pool_moments`) without reading the rows again."""
    values = np.asarray(values, dtype=np.float64)
    x = values[np.isfinite(values).all(axis=1)]
    if len(x) == 0:
        k = values.shape[1]
        return 0, np.zeros(k), np.zeros((k, k))
    mean = x.mean(axis=0)
    centred = x - mean
    return len(x), mean, centred.T @ centred


def pool_moments(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[int, np.ndarray, np.ndarray]:
    """The moments of the union of disjoint row sets, from theirs (Chan et al.'s pairwise update:
    stable where raw sums of squares would cancel)."""
    n = sum(p[0] for p in parts)
    if n == 0:
        return parts[0] if parts else (0, np.zeros(0), np.zeros((0, 0)))
    mean = sum(p[0] * p[1] for p in parts) / n
    products = sum(p[2] + p[0] * np.outer(p[1] - mean, p[1] - mean) for p in parts)
    return n, mean, products


def correlation_from_moments(n: int, products: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Correlation from centred cross products over n rows; NaN for a constant column (a spread
    below 1e-12 of its mean is rounding, not data) and 1 on the diagonal."""
    products = np.asarray(products, dtype=np.float64)
    k = len(products)
    if n < 2:
        out = np.full((k, k), np.nan)
    else:
        var = np.diag(products) / n
        level = np.zeros(k) if mean is None else np.abs(mean)
        norm = np.where(var > (1e-12 * level) ** 2, np.sqrt(np.diag(products)), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = products / np.outer(norm, norm)
        out[(norm == 0)[:, None] | (norm == 0)[None, :]] = np.nan
        out = np.clip(out, -1.0, 1.0)
    np.fill_diagonal(out, 1.0)
    return out


def cluster_order(corr: np.ndarray) -> list[int]:
    """Leaf order of average-linkage agglomerative clustering on the distance 1 - r (NaN counts
    as uncorrelated), so that strongly correlated items sit side by side. Deterministic: ties go
    to the lowest indices."""
    n = len(corr)
    dist = 1.0 - np.nan_to_num(np.asarray(corr, dtype=np.float64), nan=0.0)
    clusters: dict[int, list[int]] = {i: [i] for i in range(n)}
    while len(clusters) > 1:
        keys = sorted(clusters)
        best = None
        for ii, a in enumerate(keys):
            for b in keys[ii + 1:]:
                d = dist[np.ix_(clusters[a], clusters[b])].mean()
                if best is None or d < best[0] - 1e-12:
                    best = (d, a, b)
        _, a, b = best
        clusters[a] = clusters[a] + clusters.pop(b)
    return next(iter(clusters.values())) if clusters else []

