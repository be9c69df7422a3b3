"""Small numeric steps on query results that SQL says badly: correlation matrices and the
hierarchical-clustering order that puts similar rows next to each other. Pure numpy, so the app
needs nothing heavier."""

from __future__ import annotations

import numpy as np


def correlation_matrix(values: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns of `values` (n, k), over the rows where every
    column is finite. A constant column correlates with nothing (NaN), but with itself 1."""
    values = np.asarray(values, dtype=np.float64)
    rows = np.isfinite(values).all(axis=1)
    x = values[rows]
    k = values.shape[1]
    if len(x) < 2:
        out = np.full((k, k), np.nan)
    else:
        x = x - x.mean(axis=0)
        norm = np.sqrt((x * x).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (x.T @ x) / np.outer(norm, norm)
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

