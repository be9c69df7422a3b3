"""The Pruning page's queries: every pruned model read against its dense reference, per corruption
(accuracy change, what the corruption takes from each) and per sample (how many samples pruning
breaks or mends under each condition)."""

from __future__ import annotations

import polars as pl

from store.queries.common import Con, frame

# Clean accuracy below this multiple of chance (1 / number of classes) marks a collapsed model:
# it cannot lose much to corruptions, so its (relative) mCE would rank it among the most robust.
NEAR_CHANCE = 1.5
# Which of a pruned model and its reference is near chance under a condition (NULL: neither): a
# model that predicts one class there has nothing left to lose or mend, so its change says little.
_CHANCE_NOTE = """CASE WHEN ({model}) AND ({reference}) THEN 'both at chance'
                       WHEN ({model}) THEN 'at chance' WHEN ({reference}) THEN 'dense at chance'
                  END"""


def near_chance_models(con: Con) -> pl.DataFrame:
    """Models whose clean accuracy is below NEAR_CHANCE x chance, with that accuracy."""
    return frame(con, """
        SELECT m.name AS model, m.clean_accuracy,
               1.0 / (SELECT count(*) FROM classes) AS chance
        FROM models m
        WHERE m.clean_accuracy < $factor / (SELECT count(*) FROM classes)
        ORDER BY m.model_id
    """, factor=NEAR_CHANCE)


def change_vs_dense(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Per pruned model and corruption (at one severity, or averaged over all): its accuracy, its
    dense reference's, the change (pruned minus dense), and what the corruption takes from each
    (clean minus corrupted accuracy, the *drop*); `chance` says which of the two is near chance
    (below NEAR_CHANCE x chance) under the corruption, at any of the severities averaged."""
    return frame(con, f"""
        WITH acc AS (
            SELECT a.model_id, c.corruption, any_value(c.family) AS family,
                   bool_and(c.benchmark) AS benchmark, min(c.condition_id) AS first_id,
                   avg(a.accuracy) AS accuracy,
                   bool_or(a.accuracy < $factor / (SELECT count(*) FROM classes)) AS near_chance
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.severity > 0 AND ($severity IS NULL OR c.severity = $severity)
            GROUP BY a.model_id, c.corruption
        )
        SELECT m.name AS model, m.model_id, m.method, r.name AS reference, x.corruption, x.family,
               x.benchmark, x.first_id, x.accuracy, d.accuracy AS reference_accuracy,
               x.accuracy - d.accuracy AS change,
               m.clean_accuracy - x.accuracy AS drop,
               r.clean_accuracy - d.accuracy AS reference_drop,
               {_CHANCE_NOTE.format(model="x.near_chance", reference="d.near_chance")} AS chance
        FROM models m
        JOIN models r ON r.model_id = m.reference_model_id
        JOIN acc x ON x.model_id = m.model_id
        JOIN acc d ON d.model_id = r.model_id AND d.corruption = x.corruption
        ORDER BY m.model_id, x.first_id
    """, severity=severity, factor=NEAR_CHANCE)


def pruning_flips(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Per pruned model and condition (clean and every corruption at `severity`, or all
    severities): how many samples pruning breaks (the dense reference right, the pruned model
    wrong: *pruning-fragile*) and mends (*pruning-gain*), out of how many, and which of the two
    is near chance there (`chance`). From `summaries`, counted when the store was written."""
    chance = "$factor / (SELECT count(*) FROM classes)"
    note = _CHANCE_NOTE.format(model=f"s.accuracy < {chance}", reference=f"d.accuracy < {chance}")
    return frame(con, f"""
        SELECT m.name AS model, m.model_id, c.condition_id, c.name AS condition, c.corruption,
               c.severity, s.fragile::BIGINT AS fragile, s.gain::BIGINT AS gain, s.n::BIGINT AS n,
               {note} AS chance
        FROM summaries s
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN summaries d ON d.model_id = m.reference_model_id AND d.condition_id = s.condition_id
        WHERE m.reference_model_id IS NOT NULL
          AND (c.severity = 0 OR $severity IS NULL OR c.severity = $severity)
        ORDER BY m.model_id, c.condition_id
    """, severity=severity, factor=NEAR_CHANCE)
