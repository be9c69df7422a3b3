"""The Similarity page's queries: models x models under one condition, and corruptions x
corruptions by the correlation of the per-sample shifts they cause."""

from __future__ import annotations

import polars as pl

from store import analysis, derived
from store.catalogue import plottable
from store.queries.common import Con, frame, ids


def model_similarity(con: Con, condition_ids: int | list[int], model_ids: list[int]) -> pl.DataFrame:
    """Every ordered pair of the chosen models under one condition, or pooled over several (every
    (sample, condition) pair a row): prediction agreement, error overlap (Jaccard of the wrong
    sets), correlation of per-sample margin distance, and the linear CKA of their penultimate
    features (computed at build time per condition, when features exist; averaged here)."""
    chosen = [condition_ids] if isinstance(condition_ids, int) else list(condition_ids)
    return frame(con, """
        WITH s AS (
            SELECT model_id, condition_id, sample_id, pred, correct,
                   CASE WHEN isfinite(margin_distance) THEN margin_distance END AS md
            FROM metrics
            WHERE condition_id = ANY($conditions) AND model_id = ANY($models)
        ),
        pairs AS (
            SELECT a.model_id AS model_a_id, b.model_id AS model_b_id,
                   avg((a.pred = b.pred)::DOUBLE) AS agreement,
                   count(*) FILTER (WHERE NOT a.correct AND NOT b.correct)
                       / nullif(count(*) FILTER (WHERE NOT a.correct OR NOT b.correct), 0)
                       AS error_jaccard,
                   corr(a.md, b.md) AS margin_correlation
            FROM s a JOIN s b USING (condition_id, sample_id)
            GROUP BY ALL
        ),
        cka AS (
            SELECT model_a AS model_a_id, model_b AS model_b_id, avg(linear_cka) AS linear_cka
            FROM model_similarity WHERE condition_id = ANY($conditions)
            GROUP BY ALL
        )
        SELECT ma.name AS model_a, mb.name AS model_b, p.model_a_id, p.model_b_id,
               p.agreement, p.error_jaccard, p.margin_correlation, cka.linear_cka
        FROM pairs p
        JOIN models ma ON ma.model_id = p.model_a_id
        JOIN models mb ON mb.model_id = p.model_b_id
        LEFT JOIN cka USING (model_a_id, model_b_id)
        ORDER BY p.model_a_id, p.model_b_id
    """, conditions=ids(chosen), models=ids(model_ids))


def _stored_moments(con: Con, metric: str, model_ids: list[int], severity: int | None):
    """(corruption names in build order, [(n, mean, products) per model]) from `shift_moments`,
    or None where the store has no moments for every chosen model (a small cut)."""
    rows = frame(con, """
        WITH firsts AS (SELECT corruption, min(condition_id) AS first_id FROM conditions
                        GROUP BY corruption)
        SELECT sm.model_id, sm.corruption_a, sm.corruption_b, sm.n, sm.mean_a, sm.products,
               fa.first_id AS first_a, fb.first_id AS first_b
        FROM shift_moments sm
        JOIN firsts fa ON fa.corruption = sm.corruption_a
        JOIN firsts fb ON fb.corruption = sm.corruption_b
        WHERE sm.metric = $metric AND sm.severity = $severity AND sm.model_id = ANY($models)
        ORDER BY sm.model_id, first_a, first_b
    """, metric=metric, severity=derived.stored_severity(severity), models=ids(model_ids))
    chosen = set(ids(model_ids))
    if set(rows["model_id"].unique().to_list()) != chosen:
        return None
    names = rows.filter(pl.col("model_id") == min(chosen))["corruption_b"].unique(
        maintain_order=True).to_list()
    k = len(names)
    parts = []
    for (_,), part in rows.group_by("model_id", maintain_order=True):
        if part.height != k * k:
            return None
        products = part["products"].to_numpy().reshape(k, k)
        mean = part.filter(pl.col("corruption_a") == pl.col("corruption_b"))["mean_a"].to_numpy()
        parts.append((int(part["n"][0]), mean, products))
    return names, parts


def corruption_correlation(con: Con, metric: str, model_ids: list[int],
                           severity: int | None = None) -> pl.DataFrame:
    """Correlation between corruptions of the per-sample shifts they cause (pooled over the chosen
    models), long form, with each corruption's position in a hierarchical-clustering order.

    From the per-model moments the build stored (`shift_moments`, a few hundred rows), pooled;
    a store without them computes the shifts from `metrics` (the same numbers, slower)."""
    col = plottable(metric)
    stored = _stored_moments(con, col, model_ids, severity)
    if stored is not None:
        names, parts = stored
        n, mean, products = analysis.pool_moments(parts)
        corr = analysis.correlation_from_moments(n, products, mean)
    else:
        wide = derived.corruption_shifts(con, col, model_ids, severity)
        names = [c for c in wide.columns if c not in ("model_id", "sample_id")]
        corr = analysis.correlation_matrix(wide.select(names).to_numpy()) if names else None
    if not names:
        return pl.DataFrame(schema={"corruption_a": pl.String, "corruption_b": pl.String,
                                    "r": pl.Float64, "order_a": pl.Int64, "order_b": pl.Int64})
    order = analysis.cluster_order(corr)
    position = {names[i]: k for k, i in enumerate(order)}
    rows = [(a, b, float(corr[i, j]), position[a], position[b])
            for i, a in enumerate(names) for j, b in enumerate(names)]
    return pl.DataFrame(rows, schema=["corruption_a", "corruption_b", "r", "order_a", "order_b"],
                        orient="row")
