"""What every page reads: the store's dimensions (models, conditions, classes, corruptions), a
summary of what it holds, and the selection the geometry views draw from."""

from __future__ import annotations

import polars as pl

from store.frames import CLEAN_ID, PNG_URL, Con, frame, ids

__all__ = ["CLEAN_ID", "PNG_URL", "SELECTION", "Con", "classes", "conditions", "corruptions",
           "frame", "ids", "models", "store_summary"]

# Samples of the chosen models, condition and classes: the set every geometry view draws from.
SELECTION = """
    FROM metrics mt
    JOIN samples s USING (sample_id)
    WHERE mt.condition_id = $condition
      AND mt.model_id = ANY($models)
      AND s.label = ANY($classes)
"""


def store_summary(con: Con) -> dict[str, object]:
    """What the store holds, in a few numbers and the meta entries."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    counts = con.execute("""
        SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM conditions),
               (SELECT count(*) FROM samples), (SELECT count(*) FROM classes),
               (SELECT coalesce(sum(n), 0) FROM summaries)
    """).fetchall()[0]
    keys = ("models", "conditions", "samples", "classes", "metric_rows")
    return {**meta, **dict(zip(keys, counts, strict=True))}


def models(con: Con) -> pl.DataFrame:
    """Every model with its id, method and dense reference, in build order."""
    return frame(con, """
        SELECT m.model_id, m.name AS model, m.method, m.sparsity, m.reference_model_id,
               r.name AS reference
        FROM models m LEFT JOIN models r ON r.model_id = m.reference_model_id
        ORDER BY m.model_id
    """)


def conditions(con: Con) -> pl.DataFrame:
    """Every condition (clean first), in build order."""
    return frame(con, """
        SELECT condition_id, name AS condition, corruption, severity, family, benchmark
        FROM conditions ORDER BY condition_id
    """)


def classes(con: Con) -> pl.DataFrame:
    return frame(con, "SELECT class_id, name AS class FROM classes ORDER BY class_id")


def corruptions(con: Con) -> pl.DataFrame:
    """The corruptions in the store (clean excluded), in build order, with their families."""
    return frame(con, """
        SELECT corruption, any_value(family) AS family, bool_and(benchmark) AS benchmark,
               min(condition_id) AS first_id
        FROM conditions WHERE corruption <> 'clean'
        GROUP BY corruption ORDER BY first_id
    """)
