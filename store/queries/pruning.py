"""The Pruning page's queries: every pruned model read against its dense reference, per corruption
(accuracy change, what the corruption takes from each) and per sample (how many samples pruning
breaks or mends under each condition)."""

from __future__ import annotations

import polars as pl

from store.queries.common import Con, frame, ids

# Clean accuracy below this multiple of chance (1 / number of classes) marks a collapsed model:
# it cannot lose much to corruptions, so its (relative) mCE would rank it among the most robust.
NEAR_CHANCE = 1.5
# Where a pruned model or its reference is near chance under a corruption (the severities of
# `{sev_model}` and `{sev_reference}`, lists): `chance`, a note naming who and at which
# severities (NULL: neither), and `chance_everywhere`, true when it holds at every severity shown
# (`{k}` of them), where the change says little.
_CHANCE = """
    nullif(concat_ws('; ',
        CASE WHEN len({sev_model}) > 0 THEN 'pruned near chance at severity '
             || array_to_string(list_sort({sev_model}), ', ') END,
        CASE WHEN len({sev_reference}) > 0 THEN 'dense near chance at severity '
             || array_to_string(list_sort({sev_reference}), ', ') END), '') AS chance,
    len(list_distinct(list_concat({sev_model}, {sev_reference}))) = {k} AS chance_everywhere"""


def near_chance_models(con: Con) -> pl.DataFrame:
    """Models whose clean accuracy is below NEAR_CHANCE x chance, with that accuracy."""
    return frame(con, """
        SELECT m.name AS model, m.clean_accuracy,
               1.0 / (SELECT count(*) FROM classes) AS chance
        FROM models m
        WHERE m.clean_accuracy < $factor / (SELECT count(*) FROM classes)
        ORDER BY m.model_id
    """, factor=NEAR_CHANCE)


def chance_under(con: Con, model_ids: list[int], condition_id: int) -> pl.DataFrame:
    """Of `model_ids`, those whose accuracy under `condition_id` is below NEAR_CHANCE x chance,
    with that accuracy: where a page shows their geometry or samples, it says little."""
    return frame(con, """
        SELECT m.name AS model, a.accuracy
        FROM accuracy a JOIN models m USING (model_id)
        WHERE a.condition_id = $condition AND a.model_id = ANY($models)
          AND a.accuracy < $factor / (SELECT count(*) FROM classes)
        ORDER BY a.model_id
    """, condition=int(condition_id), models=ids(model_ids), factor=NEAR_CHANCE)


def change_vs_dense(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Per pruned model and corruption (at one severity, or averaged over all): its accuracy, its
    dense reference's, the change (pruned minus dense), and what the corruption takes from each
    (clean minus corrupted accuracy, the *drop*); `chance` says which of the two is near chance
    (below NEAR_CHANCE x chance) at which of the severities averaged, `chance_everywhere` whether
    at all of them. `fragile` and `gain` are the discordant counts of the `k` conditions summed
    and `n` the samples per condition: at one severity (k = 1), what a paired test of the change
    reads (store/statistics.py). Averaged over severities, `change_sd` is the standard deviation
    over the `n` samples of each one's change averaged over the severities (`severity_changes`),
    what a paired t-test of the averaged change reads."""
    return frame(con, f"""
        WITH acc AS (
            SELECT a.model_id, c.corruption, any_value(c.family) AS family,
                   bool_and(c.benchmark) AS benchmark, min(c.condition_id) AS first_id,
                   avg(a.accuracy) AS accuracy, count(*) AS k, sum(a.fragile)::BIGINT AS fragile,
                   sum(a.gain)::BIGINT AS gain, max(a.n)::BIGINT AS n,
                   -- Under attack a low accuracy is the measurement, not a broken model:
                   -- attacks are never flagged (a robust-accuracy change is read as it is).
                   coalesce(list(c.severity) FILTER (
                       WHERE a.accuracy < $factor / (SELECT count(*) FROM classes)
                         AND c.family <> 'adversarial'), []) AS chance_severities
            FROM summaries a JOIN conditions c USING (condition_id)
            WHERE c.severity > 0 AND ($severity IS NULL OR c.severity = $severity)
            GROUP BY a.model_id, c.corruption
        )
        SELECT m.name AS model, m.model_id, m.method, r.name AS reference, x.corruption, x.family,
               x.benchmark, x.first_id, x.accuracy, d.accuracy AS reference_accuracy,
               x.accuracy - d.accuracy AS change, x.fragile, x.gain, x.n, x.k,
               m.clean_accuracy - x.accuracy AS drop,
               r.clean_accuracy - d.accuracy AS reference_drop,
               CASE WHEN $severity IS NULL THEN sc.sd END AS change_sd,
               {_CHANCE.format(sev_model="x.chance_severities",
                               sev_reference="d.chance_severities", k="x.k")}
        FROM models m
        JOIN models r ON r.model_id = m.reference_model_id
        JOIN acc x ON x.model_id = m.model_id
        JOIN acc d ON d.model_id = r.model_id AND d.corruption = x.corruption
        LEFT JOIN severity_changes sc ON sc.model_id = m.model_id AND sc.corruption = x.corruption
        ORDER BY m.model_id, x.first_id
    """, severity=severity, factor=NEAR_CHANCE)


def pruning_flips(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Per pruned model and condition (clean and every corruption at `severity`, or all
    severities): how many samples pruning breaks (the dense reference right, the pruned model
    wrong: *pruning-fragile*) and mends (*pruning-gain*), out of how many, and which of the two
    is near chance there (`chance`, `chance_everywhere`). From `summaries`, counted when the store
    was written."""
    near = "$factor / (SELECT count(*) FROM classes)"
    at = ("CASE WHEN {a} < " + near + " AND c.family <> 'adversarial' THEN [c.severity] "
          "ELSE [] END")  # not under attack: see change_vs_dense
    chance = _CHANCE.format(sev_model=at.format(a="s.accuracy"),
                            sev_reference=at.format(a="d.accuracy"), k=1)
    return frame(con, f"""
        SELECT m.name AS model, m.model_id, c.condition_id, c.name AS condition, c.corruption,
               c.severity, s.fragile::BIGINT AS fragile, s.gain::BIGINT AS gain, s.n::BIGINT AS n,
               {chance}
        FROM summaries s
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN summaries d ON d.model_id = m.reference_model_id AND d.condition_id = s.condition_id
        WHERE m.reference_model_id IS NOT NULL
          AND (c.severity = 0 OR $severity IS NULL OR c.severity = $severity)
        ORDER BY m.model_id, c.condition_id
    """, severity=severity, factor=NEAR_CHANCE)
