"""The Attacks page: how each attack was run, and robust accuracy against the budget per model,
beside its dense reference's (the `attacks` table, schema version 7; compute/attacks.py)."""

from __future__ import annotations

import polars as pl

from store.frames import CLEAN_ID, Con, frame

# A budget as the pages write it: Linf in 1/255 (8/255), L2 in [0, 1] pixels; 0 is clean.
BUDGET_LABEL = """CASE WHEN {budget} = 0 THEN '0 (clean)'
                      WHEN {norm} = 'Linf' THEN printf('%g/255', round({budget} * 255, 2))
                      ELSE printf('%g', {budget}) END"""


def attack_budgets(con: Con) -> pl.DataFrame:
    """Every attack condition: its attack (the condition's corruption), its budget's rank
    (severity) and the budget as the pages write it, in build order."""
    return frame(con, f"""
        SELECT c.corruption, c.severity, c.name AS condition,
               {BUDGET_LABEL.format(budget="a.budget", norm="a.norm")} AS budget_label
        FROM attacks a JOIN conditions c USING (condition_id)
        ORDER BY c.condition_id
    """)


def attack_settings(con: Con) -> pl.DataFrame:
    """Every attack condition with how it was run: attack, norm, budget, steps, step size,
    random start, mode, source model and the samples attacked, by attack and budget."""
    return frame(con, """
        SELECT c.name AS condition, c.corruption AS attack_name, a.attack, a.norm, a.budget,
               a.steps, a.step_size, a.random_start, a.mode, s.name AS source, a.samples
        FROM attacks a
        JOIN conditions c USING (condition_id)
        LEFT JOIN models s ON s.model_id = a.source_model_id
        ORDER BY c.condition_id
    """)


def robust_accuracy(con: Con) -> pl.DataFrame:
    """Accuracy per model and attack at every budget, with budget 0 as the clean accuracy on the
    samples attacked (an attack with no budget leaves the inputs as they are), and beside it the
    dense reference's at the same budget and the model's change from it, in points of accuracy
    (NULL for a model without a reference)."""
    return frame(con, f"""
        WITH curve AS (
            SELECT s.model_id, c.corruption AS attack_name, a.norm, a.mode, a.budget,
                   c.name AS condition, s.accuracy, s.n, c.condition_id
            FROM summaries s
            JOIN attacks a USING (condition_id)
            JOIN conditions c USING (condition_id)
            UNION ALL  -- every attack's clean point at budget 0 (unless it lists 0), on the
                       -- samples it attacked: a subset's clean accuracy is its own
            SELECT mt.model_id, k.attack_name, k.norm, k.mode, 0.0, 'clean',
                   avg(mt.correct::INT), count(*)::INT, {CLEAN_ID}
            FROM (SELECT c.corruption AS attack_name, any_value(a.norm) AS norm,
                         any_value(a.mode) AS mode, min(a.condition_id) AS first
                  FROM attacks a JOIN conditions c USING (condition_id)
                  GROUP BY c.corruption HAVING min(a.budget) > 0) k
            JOIN metrics atk ON atk.condition_id = k.first
            JOIN metrics mt ON mt.model_id = atk.model_id AND mt.sample_id = atk.sample_id
                           AND mt.condition_id = {CLEAN_ID}
            GROUP BY mt.model_id, k.attack_name, k.norm, k.mode
        )
        SELECT m.name AS model, m.model_id, m.method, r.name AS reference, v.attack_name,
               v.norm, v.mode, v.budget,
               {BUDGET_LABEL.format(budget="v.budget", norm="v.norm")} AS budget_label,
               v.condition, v.accuracy, v.n,
               ref.accuracy AS reference_accuracy,
               100 * (v.accuracy - ref.accuracy) AS change_vs_reference
        FROM curve v
        JOIN models m USING (model_id)
        LEFT JOIN models r ON r.model_id = m.reference_model_id
        LEFT JOIN curve ref ON ref.model_id = m.reference_model_id
             AND ref.attack_name = v.attack_name AND ref.budget = v.budget
        -- attacks in the config's order, then models in build order
        ORDER BY min(nullif(v.condition_id, {CLEAN_ID})) OVER (PARTITION BY v.attack_name),
                 m.model_id, v.budget
    """)


def margin_radius(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Per model and sample with a stored radius: the clean feature-space margin distance beside
    the input-space radius (NULL where none was found), the label and whether the model is right
    on it clean."""
    return frame(con, f"""
        SELECT m.name AS model, r.sample_id, s.label, mt.correct, mt.margin_distance, r.radius,
               r.method, r.norm
        FROM radii r
        JOIN models m USING (model_id)
        JOIN samples s USING (sample_id)
        JOIN metrics mt ON mt.model_id = r.model_id AND mt.sample_id = r.sample_id
                       AND mt.condition_id = {CLEAN_ID}
        WHERE r.model_id = ANY($models)
        ORDER BY r.model_id, r.sample_id
    """, models=model_ids)


def margin_radius_summary(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Per model, over the samples it gets right clean and has a radius for: how many, how many
    the search flipped, the medians of both margins, and their Spearman rank correlation (the
    Pearson correlation of the ranks; ties take their mean rank)."""
    return frame(con, f"""
        WITH pairs AS (
            SELECT r.model_id, mt.margin_distance AS margin, r.radius
            FROM radii r JOIN metrics mt ON mt.model_id = r.model_id
                 AND mt.sample_id = r.sample_id AND mt.condition_id = {CLEAN_ID}
            WHERE r.model_id = ANY($models) AND mt.correct
        ), ranked AS (
            -- a tie's mean rank: (its lowest rank + its highest) / 2
            SELECT model_id,
                   (rank() OVER (PARTITION BY model_id ORDER BY margin) + count(*) OVER w + 1
                    - rank() OVER (PARTITION BY model_id ORDER BY margin DESC)) / 2.0 AS rm,
                   (rank() OVER (PARTITION BY model_id ORDER BY radius) + count(*) OVER w + 1
                    - rank() OVER (PARTITION BY model_id ORDER BY radius DESC)) / 2.0 AS rr
            FROM pairs WHERE radius IS NOT NULL AND isfinite(margin)
            WINDOW w AS (PARTITION BY model_id)
        )
        SELECT m.name AS model, p.samples, p.found, p.median_margin, p.median_radius,
               k.spearman
        FROM (SELECT model_id, count(*)::INT AS samples, count(radius)::INT AS found,
                     median(margin) AS median_margin, median(radius) AS median_radius
              FROM pairs GROUP BY model_id) p
        JOIN models m USING (model_id)
        LEFT JOIN (SELECT model_id, corr(rm, rr) AS spearman FROM ranked GROUP BY model_id) k
             USING (model_id)
        ORDER BY p.model_id
    """, models=model_ids)


def broken_overlap(con: Con, model_id: int, severity: int | None) -> pl.DataFrame:
    """For one model, per attack condition and corruption (at `severity`, or every severity of it
    pooled): of the samples the model gets right clean, how many the attack breaks (`attacked`),
    the corruption breaks (`corrupted`), both break (`both`), the Jaccard index of the two sets,
    and the lift: `both` over what two independent draws of those sizes would share on average
    (attacked x corrupted / right). Lift above 1: the attack and the corruption break the same
    samples more often than chance; 1: no more than chance."""
    return frame(con, f"""
        WITH clean AS (
            SELECT sample_id FROM metrics
            WHERE model_id = $model AND condition_id = {CLEAN_ID} AND correct
        ), broken AS (
            SELECT c.condition_id, c.corruption, c.family, c.severity, mt.sample_id
            FROM metrics mt JOIN clean USING (sample_id)
            JOIN conditions c USING (condition_id)
            WHERE mt.model_id = $model AND NOT mt.correct AND c.severity > 0
        ), attacked AS (
            SELECT condition_id, sample_id FROM broken WHERE family = 'adversarial'
        ), corrupted AS (  -- pooled over severities: broken under any of them
            SELECT DISTINCT corruption, sample_id FROM broken
            WHERE family <> 'adversarial' AND ($severity IS NULL OR severity = $severity)
        ), sizes AS (
            SELECT (SELECT count(*) FROM clean) AS n_right
        ), pairs AS (
            SELECT a.condition_id, k.corruption,
                   (SELECT count(*) FROM attacked x WHERE x.condition_id = a.condition_id) AS na,
                   (SELECT count(*) FROM corrupted y WHERE y.corruption = k.corruption) AS nc
            FROM (SELECT DISTINCT condition_id FROM attacks) a
            CROSS JOIN (SELECT DISTINCT corruption FROM conditions
                        WHERE family NOT IN ('clean', 'adversarial')) k
        ), counted AS (
            SELECT p.condition_id, p.corruption, p.na, p.nc, count(y.sample_id) AS both
            FROM pairs p
            LEFT JOIN attacked x ON x.condition_id = p.condition_id
            LEFT JOIN corrupted y ON y.corruption = p.corruption AND y.sample_id = x.sample_id
            GROUP BY p.condition_id, p.corruption, p.na, p.nc
        )
        SELECT c.name AS attack, k.corruption, k.na::INT AS attacked, k.nc::INT AS corrupted,
               k.both::INT AS both, s.n_right::INT AS right_clean,
               k.both / nullif(k.na + k.nc - k.both, 0) AS jaccard,
               k.both / nullif(k.na * k.nc / s.n_right, 0) AS lift
        FROM counted k CROSS JOIN sizes s JOIN conditions c USING (condition_id)
        ORDER BY c.condition_id, k.corruption
    """, model=model_id, severity=severity)
