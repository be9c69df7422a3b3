"""Named, parameterised queries the pages run. Each takes a connection (or cursor) and returns a
Polars DataFrame; pages only call these and draw."""

from __future__ import annotations

import duckdb
import polars as pl

Con = duckdb.DuckDBPyConnection


def _frame(con: Con, sql: str, **params: object) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


def store_summary(con: Con) -> dict[str, object]:
    """What the store holds, in a few numbers and the meta entries."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    counts = con.execute("""
        SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM conditions),
               (SELECT count(*) FROM samples), (SELECT count(*) FROM classes),
               (SELECT count(*) FROM metrics)
    """).fetchone()
    keys = ("models", "conditions", "samples", "classes", "metric_rows")
    return {**meta, **dict(zip(keys, counts, strict=True))}


def model_overview(con: Con) -> pl.DataFrame:
    """One row per model: method, measured sparsity, clean and mean corruption accuracy.

    Mean corruption accuracy averages over the benchmark corruptions and severities present.
    """
    return _frame(con, """
        SELECT m.model_id, m.name AS model, m.arch, m.method, m.target_sparsity, m.sparsity,
               m.params_nonzero, m.params_total, r.name AS reference, m.clean_accuracy,
               avg(a.accuracy) FILTER (WHERE c.benchmark) AS mean_corruption_accuracy
        FROM models m
        LEFT JOIN models r ON r.model_id = m.reference_model_id
        LEFT JOIN accuracy a ON a.model_id = m.model_id
        LEFT JOIN conditions c ON c.condition_id = a.condition_id
        GROUP BY ALL
        ORDER BY m.model_id
    """)


def accuracy_grid(con: Con) -> pl.DataFrame:
    """Accuracy of every model under every condition, with the condition's parts."""
    return _frame(con, """
        SELECT m.name AS model, m.model_id, c.condition_id, c.name AS condition, c.corruption,
               c.severity, c.family, a.accuracy, a.n
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        ORDER BY m.model_id, c.condition_id
    """)


def corruptions(con: Con) -> pl.DataFrame:
    """The corruptions in the store (clean excluded), in build order, with their families."""
    return _frame(con, """
        SELECT corruption, any_value(family) AS family, min(condition_id) AS first_id
        FROM conditions WHERE corruption <> 'clean'
        GROUP BY corruption ORDER BY first_id
    """)


def accuracy_by_severity(con: Con, corruption: str | None = None) -> pl.DataFrame:
    """Accuracy per model and severity (0 = clean), averaged over one corruption or all of them."""
    return _frame(con, """
        SELECT m.name AS model, m.model_id, c.severity, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE c.severity = 0 OR $corruption IS NULL OR c.corruption = $corruption
        GROUP BY ALL
        ORDER BY m.model_id, c.severity
    """, corruption=corruption)
