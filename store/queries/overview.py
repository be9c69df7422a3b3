"""The Overview page's queries: a row per model (accuracies, mCE) and accuracy per model by
corruption, family, severity and condition."""

from __future__ import annotations

import polars as pl

from store.queries.common import Con, frame


def model_overview(con: Con) -> pl.DataFrame:
    """One row per model: method, measured sparsity, clean and mean corruption accuracy, mCE.

    Mean corruption accuracy averages over the benchmark corruptions and severities present. mCE
    (Hendrycks & Dietterich 2019) divides each benchmark corruption's error, summed over
    severities, by the dense reference's, and averages over corruptions, x100. Relative mCE is
    the accuracy that corruptions take away (error minus the model's own clean error), summed over
    corruptions and severities, relative to the reference's, x100: a ratio of sums, since the
    per-corruption average swings wildly (even below 0) where the reference barely degrades. A
    model without a reference is its own, so a dense model scores exactly 100 on both.
    """
    return frame(con, """
        WITH err AS (
            SELECT a.model_id, c.corruption, c.benchmark, 1 - a.accuracy AS err
            FROM accuracy a JOIN conditions c USING (condition_id)
        ),
        clean AS (SELECT model_id, err AS clean_err FROM err WHERE corruption = 'clean'),
        per_corruption AS (
            SELECT e.model_id, e.corruption, sum(e.err) AS err_sum,
                   sum(e.err - c.clean_err) AS rel_sum
            FROM err e JOIN clean c USING (model_id)
            WHERE e.benchmark
            GROUP BY ALL
        ),
        ce AS (
            SELECT m.model_id,
                   100 * avg(x.err_sum / nullif(r.err_sum, 0)) AS mce,
                   100 * sum(x.rel_sum) / nullif(sum(r.rel_sum), 0) AS relative_mce
            FROM models m
            JOIN per_corruption x ON x.model_id = m.model_id
            JOIN per_corruption r ON r.model_id = coalesce(m.reference_model_id, m.model_id)
                                 AND r.corruption = x.corruption
            GROUP BY m.model_id
        ),
        mca AS (
            SELECT a.model_id, avg(a.accuracy) AS mean_corruption_accuracy
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.benchmark
            GROUP BY ALL
        )
        SELECT m.model_id, m.name AS model, m.arch, m.method, m.target_sparsity, m.sparsity,
               m.params_nonzero, m.params_total, r.name AS reference, m.clean_accuracy,
               mca.mean_corruption_accuracy, ce.mce, ce.relative_mce
        FROM models m
        LEFT JOIN models r ON r.model_id = m.reference_model_id
        LEFT JOIN mca ON mca.model_id = m.model_id
        LEFT JOIN ce ON ce.model_id = m.model_id
        ORDER BY m.model_id
    """)


def accuracy_by_corruption(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Accuracy per model and corruption (clean included) at one severity, or averaged over all."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.corruption, any_value(c.family) AS family,
               min(c.condition_id) AS first_id, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE c.severity = 0 OR $severity IS NULL OR c.severity = $severity
        GROUP BY m.name, m.model_id, c.corruption
        ORDER BY m.model_id, first_id
    """, severity=severity)


def accuracy_by_family(con: Con) -> pl.DataFrame:
    """Accuracy per model, corruption family and severity, averaged over the family's
    corruptions; severity 0 (clean) is repeated in every family so each line starts there."""
    return frame(con, """
        WITH families AS (SELECT DISTINCT family FROM conditions WHERE severity > 0)
        SELECT m.name AS model, m.model_id, f.family, c.severity, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN families f ON f.family = c.family OR c.severity = 0
        GROUP BY ALL
        ORDER BY m.model_id, f.family, c.severity
    """)


def accuracy_by_severity(con: Con, corruption: str | None = None) -> pl.DataFrame:
    """Accuracy per model and severity (0 = clean), averaged over one corruption or all of them."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.severity, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE c.severity = 0 OR $corruption IS NULL OR c.corruption = $corruption
        GROUP BY ALL
        ORDER BY m.model_id, c.severity
    """, corruption=corruption)


def accuracy_grid(con: Con) -> pl.DataFrame:
    """Accuracy of every model under every condition, with the condition's parts."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.condition_id, c.name AS condition, c.corruption,
               c.severity, c.family, a.accuracy, a.n
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        ORDER BY m.model_id, c.condition_id
    """)
