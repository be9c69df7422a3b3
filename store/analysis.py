"""Small numeric steps on query results that SQL says badly: correlation matrices and the
hierarchical-clustering order that puts similar rows next to each other. Pure numpy, so the app
needs nothing heavier."""

from __future__ import annotations

import numpy as np
import polars as pl


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


def cluster_tree(corr: np.ndarray) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Average-linkage agglomerative clustering on the distance 1 - r (NaN counts as
    uncorrelated): (leaf order, merges). Merges are scipy's linkage rows without the size: the
    two clusters joined (leaves 0..n-1, the i-th merge makes cluster n+i) and their distance, so
    strongly correlated items sit side by side in the order. Deterministic: ties go to the lowest
    indices."""
    n = len(corr)
    dist = 1.0 - np.nan_to_num(np.asarray(corr, dtype=np.float64), nan=0.0)
    clusters: dict[int, list[int]] = {i: [i] for i in range(n)}
    merges: list[tuple[int, int, float]] = []
    while len(clusters) > 1:
        keys = sorted(clusters)
        best = None
        for ii, a in enumerate(keys):
            for b in keys[ii + 1:]:
                d = dist[np.ix_(clusters[a], clusters[b])].mean()
                if best is None or d < best[0] - 1e-12:
                    best = (d, a, b)
        d, a, b = best
        clusters[n + len(merges)] = clusters.pop(a) + clusters.pop(b)
        merges.append((a, b, float(d)))
    order = next(iter(clusters.values())) if clusters else []
    return order, merges


def cluster_order(corr: np.ndarray) -> list[int]:
    """The leaf order of `cluster_tree`."""
    return cluster_tree(corr)[0]


def dendrogram_segments(n: int, merges: list[tuple[int, int, float]],
                        order: list[int]) -> list[tuple[float, float, float, float]]:
    """The lines of a dendrogram as (position0, height0, position1, height1), positions in leaf
    slots (leaf k of `order` at k + 0.5) and heights the merge distances: for every merge, a
    stem up from each child and a bar between them at the merge's height."""
    position = {leaf: k + 0.5 for k, leaf in enumerate(order)}
    height = dict.fromkeys(range(n), 0.0)
    lines = []
    for i, (a, b, d) in enumerate(merges):
        for child in (a, b):
            lines.append((position[child], height[child], position[child], d))
        lines.append((position[a], d, position[b], d))
        position[n + i] = (position[a] + position[b]) / 2
        height[n + i] = d
    return lines


def correlation_dendrogram(corr: pl.DataFrame, a: str = "corruption_a", b: str = "corruption_b",
                           r: str = "r", order: str = "order_a") -> pl.DataFrame:
    """The dendrogram of a long-form correlation (a, b, r, order_a as `corruption_correlation`
    returns it), as line segments (pos0, height0, pos1, height1), leaves in the frame's order."""
    names = corr.sort(order)[a].unique(maintain_order=True).to_list()
    index = {name: i for i, name in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for x, y, v in corr.select(a, b, r).iter_rows():
        matrix[index[x], index[y]] = v
    _, merges = cluster_tree(matrix)
    lines = dendrogram_segments(len(names), merges, list(range(len(names))))
    return pl.DataFrame(lines, schema=["pos0", "height0", "pos1", "height1"], orient="row")
