"""The Overview page's queries: a row per model (accuracies, mCE) and accuracy per model by
corruption, family, severity and condition."""

from __future__ import annotations

import polars as pl

from store.queries.common import Con, frame
from store.statistics import ROBUSTNESS_MEASURES

# Relative mCE divides, per corruption, by the reference's degradation: the mean over samples of
# d = sum over severities of (wrong - wrong on clean). Sampling noise in that mean moves the ratio
# by about its relative standard error, se / mean (the delta method). A corruption is unstable
# where that exceeds 1/4, i.e. the mean is under 4 standard errors: then the test set alone could
# move the ratio by half or more (at about 95 %). (Two standard errors, Fieller's condition for a
# bounded interval, still lets a ratio reach 10x on the demo.)
UNSTABLE_SE = 4.0


# The CTEs `degradation`: per reference model (every model some model is read against, a dense
# one its own) and benchmark corruption, relative mCE's denominator as the mean over samples of
# d = sum over severities of (wrong at the severity - wrong on clean), its standard error, and
# whether it is unstable.
_DEGRADATION = """
    refs AS (SELECT DISTINCT coalesce(reference_model_id, model_id) AS model_id FROM models),
    ref_clean AS (
        SELECT mt.model_id, mt.sample_id, (NOT mt.correct)::INT AS wrong
        FROM metrics mt JOIN refs USING (model_id) JOIN conditions c USING (condition_id)
        WHERE c.corruption = 'clean'
    ),
    per_sample AS (
        SELECT mt.model_id, c.corruption, mt.sample_id, sum((NOT mt.correct)::INT - rc.wrong) AS d
        FROM metrics mt JOIN refs USING (model_id) JOIN conditions c USING (condition_id)
        JOIN ref_clean rc USING (model_id, sample_id)
        WHERE c.benchmark
        GROUP BY ALL
    ),
    degradation AS (
        SELECT model_id AS reference_id, corruption, avg(d) AS degradation,
               coalesce(stddev_samp(d) / sqrt(count(*)), 0) AS se, count(*) AS n
        FROM per_sample GROUP BY ALL
    ),
    stability AS (
        SELECT *, degradation <= 0 OR degradation < $k * se AS unstable FROM degradation
    )"""


# The CTEs up to `ce`: per model, mCE and relative mCE (published, without the unstable
# corruptions, pooled) against its reference, from the per-condition accuracies and `stability`.
# {stability} is the join on `stability` (which reads every sample of every reference: most of
# the cost), or nothing where only mCE and relative mCE as published are wanted.
_CORRUPTION_ERRORS = """
    err AS (
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
    pairs AS (
        SELECT m.model_id, r.model_id AS reference_id, x.corruption,
               x.err_sum / nullif(r.err_sum, 0) AS ce_ratio,
               x.rel_sum AS rel_num, r.rel_sum AS rel_den, {unstable} AS unstable
        FROM models m
        JOIN per_corruption x ON x.model_id = m.model_id
        JOIN per_corruption r ON r.model_id = coalesce(m.reference_model_id, m.model_id)
                             AND r.corruption = x.corruption
        {stability}
    ),
    ce AS (
        SELECT model_id, 100 * avg(ce_ratio) AS mce,
               -- Undefined, as published, where a denominator is exactly 0.
               CASE WHEN bool_or(rel_den = 0) THEN NULL
                    ELSE 100 * avg(rel_num / rel_den) END AS relative_mce,
               100 * avg(rel_num / nullif(rel_den, 0)) FILTER (WHERE NOT unstable)
                   AS stable_relative_mce,
               100 * sum(rel_num) / nullif(sum(rel_den), 0) AS pooled_relative_mce,
               coalesce(string_agg(corruption, ', ' ORDER BY corruption)
                        FILTER (WHERE unstable), '') AS unstable_corruptions
        FROM pairs
        GROUP BY model_id
    )"""




def _errors(stability: bool = True) -> str:
    """_CORRUPTION_ERRORS, with the unstable corruptions (after _DEGRADATION) or without."""
    if not stability:
        return _CORRUPTION_ERRORS.format(unstable="false", stability="")
    return _CORRUPTION_ERRORS.format(
        unstable="coalesce(s.unstable, false)",
        stability="LEFT JOIN stability s ON s.reference_id = r.model_id "
                  "AND s.corruption = x.corruption")


def reference_degradation(con: Con) -> pl.DataFrame:
    """Per reference model and benchmark corruption: its `degradation` (relative mCE's
    denominator, over samples), the standard error `se` of that mean, the samples `n`, and
    whether it is `unstable`: not positive, or under UNSTABLE_SE standard errors."""
    return frame(con, f"WITH {_DEGRADATION} SELECT * FROM stability ORDER BY ALL", k=UNSTABLE_SE)


def relative_ce(con: Con) -> pl.DataFrame:
    """What mCE and relative mCE average, per model and benchmark corruption (x100): `ce`, the
    corruption error relative to the reference's, and `relative_ce`, the degradation relative to
    the reference's; with the reference's degradation, its standard error and whether it is
    unstable (UNSTABLE_SE)."""
    return frame(con, f"""
        WITH {_DEGRADATION}, {_errors()}
        SELECT m.name AS model, p.model_id, r.name AS reference, p.corruption,
               100 * p.ce_ratio AS ce,
               100 * p.rel_num / nullif(p.rel_den, 0) AS relative_ce,
               s.degradation AS reference_degradation, s.se AS reference_se, p.unstable
        FROM pairs p
        JOIN models m USING (model_id)
        JOIN models r ON r.model_id = p.reference_id
        LEFT JOIN stability s ON s.reference_id = p.reference_id AND s.corruption = p.corruption
        ORDER BY p.model_id, p.corruption
    """, k=UNSTABLE_SE)


def model_overview(con: Con) -> pl.DataFrame:
    """One row per model: method, measured sparsity, clean and mean corruption accuracy, mCE and
    relative mCE (docs/store.md#named-measures has each one's source).

    Mean corruption accuracy averages over the benchmark corruptions and severities present. Per
    benchmark corruption c, with E the error summed over severities and E_clean the clean error
    at each: mCE (Hendrycks & Dietterich 2019) averages E_c / E_c(reference) over corruptions,
    x100; relative mCE, as published, averages sum_s (E_s,c - E_clean) / the reference's, x100 (the
    clean error comes off at every severity).
    Where the reference barely degrades under a corruption that ratio takes any size and sign, so
    `unstable_corruptions` lists the corruptions whose denominator is under UNSTABLE_SE of its own
    standard errors (`reference_degradation`), `stable_relative_mce` averages over the others, and
    `pooled_relative_mce` is the ratio of the sums over all corruptions (ours, not published:
    weighted by the reference's degradation, so the corruptions that hurt it most dominate). A
    model without a reference is its own, so a dense model scores 100 on all of them.

    With attacks stored, `mean_attack_accuracy` is the accuracy averaged over every white-box
    attack condition with a budget above 0 (each attack at each budget, as mean corruption accuracy
    averages corruptions and severities), `reference_attack_accuracy` the reference's and
    `attack_change` the difference, in points (NULL for a model without a reference): the
    adversarial family beside the corruptions.
    """
    return frame(con, f"""
        WITH {_DEGRADATION},
        {_errors()},
        mca AS (
            SELECT a.model_id, avg(a.accuracy) AS mean_corruption_accuracy
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.benchmark
            GROUP BY ALL
        ),
        adv AS (
            SELECT a.model_id, avg(a.accuracy) AS mean_attack_accuracy
            FROM accuracy a JOIN attacks k USING (condition_id)
            -- White-box only: a transfer is crafted on the dense model, which it breaks by
            -- construction, so it would flatter every other model; a budget of 0 is clean.
            WHERE k.budget > 0 AND k.mode = 'white-box'
            GROUP BY ALL
        )
        SELECT m.model_id, m.name AS model, m.arch, m.method, m.target_sparsity, m.sparsity,
               m.params_nonzero, m.params_total, r.name AS reference, m.clean_accuracy,
               mca.mean_corruption_accuracy, ce.mce, ce.relative_mce, ce.stable_relative_mce,
               ce.pooled_relative_mce, ce.unstable_corruptions, adv.mean_attack_accuracy,
               radv.mean_attack_accuracy AS reference_attack_accuracy,
               100 * (adv.mean_attack_accuracy - radv.mean_attack_accuracy) AS attack_change
        FROM models m
        LEFT JOIN models r ON r.model_id = m.reference_model_id
        LEFT JOIN mca ON mca.model_id = m.model_id
        LEFT JOIN ce ON ce.model_id = m.model_id
        LEFT JOIN adv ON adv.model_id = m.model_id
        LEFT JOIN adv radv ON radv.model_id = m.reference_model_id
        ORDER BY m.model_id
    """, k=UNSTABLE_SE)


def model_robustness(con: Con) -> pl.DataFrame:
    """model_overview's clean and mean corruption accuracy, mCE and relative mCE as published,
    without what needs every sample of the references (the unstable corruptions and the
    measures that leave them out): read from the per-condition summaries alone, for the pages
    that plot these per model (the Sweep's)."""
    return frame(con, f"""
        WITH {_errors(stability=False)},
        mca AS (
            SELECT a.model_id, avg(a.accuracy) AS mean_corruption_accuracy
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.benchmark
            GROUP BY ALL
        )
        SELECT m.model_id, m.clean_accuracy, mca.mean_corruption_accuracy, ce.mce,
               ce.relative_mce
        FROM models m
        LEFT JOIN mca ON mca.model_id = m.model_id
        LEFT JOIN ce ON ce.model_id = m.model_id
        ORDER BY m.model_id
    """)


def robustness_intervals(con: Con) -> pl.DataFrame:
    """Per model, its mean corruption accuracy, mCE, relative mCE and pooled relative mCE
    against its reference with their 95 % bootstrap intervals over the test samples (paired
    with the reference's), computed when the store was written: one row per model, `<measure>`,
    `<measure>_low` and `<measure>_high` for each. Empty for a store without metric rows."""
    columns = ", ".join(
        f"any_value(r.{part}) FILTER (WHERE r.measure = '{measure}') AS {measure}{suffix}"
        for measure in ROBUSTNESS_MEASURES
        for part, suffix in (("estimate", ""), ("low", "_low"), ("high", "_high")))
    return frame(con, f"""
        SELECT m.model_id, m.name AS model, {columns}
        FROM robustness_intervals r JOIN models m USING (model_id)
        GROUP BY m.model_id, m.name
        ORDER BY m.model_id
    """)


def accuracy_by_corruption(con: Con, severity: int | None = None) -> pl.DataFrame:
    """Accuracy per model and corruption (clean included) at one severity, or averaged over all:
    the mean of `k` conditions' accuracies, each over `n` samples (k = 1: one binomial count)."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.corruption, any_value(c.family) AS family,
               min(c.condition_id) AS first_id, avg(a.accuracy) AS accuracy,
               max(a.n)::BIGINT AS n, count(*)::BIGINT AS k
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE c.severity = 0 OR $severity IS NULL OR c.severity = $severity
        GROUP BY m.name, m.model_id, c.corruption
        ORDER BY m.model_id, first_id
    """, severity=severity)


def accuracy_by_family(con: Con) -> pl.DataFrame:
    """Accuracy per model, corruption family and severity, averaged over the family's
    corruptions; severity 0 (clean) is repeated in every family so each line starts there.
    Attacks are left out: an attack's severity is its budget's rank, so two attacks at one rank
    are at different budgets and their mean would mean nothing (the Attacks page draws them)."""
    return frame(con, """
        WITH families AS (SELECT DISTINCT family FROM conditions
                          WHERE severity > 0 AND family <> 'adversarial')
        SELECT m.name AS model, m.model_id, f.family, c.severity, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN families f ON f.family = c.family OR c.severity = 0
        GROUP BY ALL
        ORDER BY m.model_id, f.family, c.severity
    """)


def accuracy_by_severity(con: Con, corruption: str | None = None) -> pl.DataFrame:
    """Accuracy per model and severity (0 = clean), under one corruption or averaged over the
    benchmark corruptions (None): those mean corruption accuracy averages, so the mean of the
    severities here is the model's mean corruption accuracy on every page."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.severity, avg(a.accuracy) AS accuracy
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE c.severity = 0 OR ($corruption IS NULL AND c.benchmark) OR c.corruption = $corruption
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
