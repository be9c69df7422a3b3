"""The Samples page's queries: samples by category against the dense reference, one sample under
every model and condition, its images, and exports."""

from __future__ import annotations

import polars as pl

from store.catalogue import plottable
from store.queries.common import CLEAN_ID, PNG_URL, Con, frame, ids
from store.queries.sweep import MODAL_CTES

# What each category means, for the page and for the docs (`focus` is the chosen model, `ref` its
# dense reference, both under the chosen condition unless said).
SAMPLE_CATEGORIES: dict[str, str] = {
    "pruning-fragile": "the dense reference is right and the pruned model wrong",
    "pruning-gain": "the dense reference is wrong and the pruned model right",
    "corruption-fragile": "the model is right on clean and wrong under the condition",
    "always-right": "every compared model is right under the condition",
    "always-wrong": "every compared model is wrong under the condition",
    "models-disagree": "the chosen models do not all predict the same class under the condition",
    "pruning-identified": "the modal prediction of the model's seeds (its recipe at its sparsity) "
                          "differs from that of their dense references (Hooker et al. 2019)",
}

_CATEGORY_SQL = {
    "pruning-fragile": "SELECT f.sample_id FROM focus f JOIN ref r USING (sample_id) "
                       "WHERE r.correct AND NOT f.correct",
    "pruning-gain": "SELECT f.sample_id FROM focus f JOIN ref r USING (sample_id) "
                    "WHERE NOT r.correct AND f.correct",
    "corruption-fragile": "SELECT f.sample_id FROM focus f JOIN focus_clean c USING (sample_id) "
                          "WHERE c.correct AND NOT f.correct",
    "always-right": "SELECT sample_id FROM metrics WHERE model_id = ANY($models) "
                    "AND condition_id = $condition GROUP BY sample_id HAVING bool_and(correct)",
    "always-wrong": "SELECT sample_id FROM metrics WHERE model_id = ANY($models) "
                    "AND condition_id = $condition GROUP BY sample_id HAVING NOT bool_or(correct)",
    "models-disagree": "SELECT sample_id FROM metrics WHERE model_id = ANY($models) "
                       "AND condition_id = $condition GROUP BY sample_id "
                       "HAVING count(DISTINCT pred) > 1",
    "pruning-identified": f"""
        WITH grp AS (
            SELECT g.model_id, g.reference_model_id FROM models g JOIN models f ON f.model_id = $model
            WHERE g.recipe = f.recipe AND g.target_sparsity IS NOT DISTINCT FROM f.target_sparsity
        ), pop AS (
            SELECT model_id, true AS pruned FROM grp
            UNION SELECT DISTINCT reference_model_id, false FROM grp
            WHERE reference_model_id IS NOT NULL
        ), {MODAL_CTES}
        SELECT d.sample_id FROM modal d JOIN modal p USING (sample_id)
        WHERE p.pruned AND NOT d.pruned AND d.modal <> p.modal""",
}


def sample_category(con: Con, category: str, model_id: int, condition_id: int,
                    model_ids: list[int], class_ids: list[int], metric: str = "margin_distance",
                    low: float | None = None, high: float | None = None) -> pl.DataFrame:
    """The samples of one category (see SAMPLE_CATEGORIES), filtered by class and by a range of
    one metric of the chosen model under the condition, with what the chosen model and its
    reference predict and thumbnails (clean, and corrupted where stored). Most decisive first."""
    if category not in _CATEGORY_SQL:
        raise ValueError(f"unknown category '{category}' (one of {', '.join(SAMPLE_CATEGORIES)})")
    col = plottable(metric)
    shown = ["margin_distance", "angle_true", "length", "confidence"]
    extra = "" if col in shown else f"f.{col}, "
    return frame(con, f"""
        WITH focus AS (SELECT * FROM metrics WHERE model_id = $model AND condition_id = $condition),
        focus_clean AS (SELECT * FROM metrics WHERE model_id = $model AND condition_id = {CLEAN_ID}),
        ref AS (
            SELECT mt.* FROM metrics mt JOIN models m ON mt.model_id = m.reference_model_id
            WHERE m.model_id = $model AND mt.condition_id = $condition
        ),
        chosen AS ({_CATEGORY_SQL[category]})
        SELECT s.sample_id, cl.name AS label, fp.name AS pred, rp.name AS reference_pred,
               f.correct, {extra}f.margin_distance, f.angle_true, f.length, f.confidence,
               r.margin_distance AS reference_margin,
               {PNG_URL.format("s.thumbnail")} AS image,
               {PNG_URL.format("t.thumbnail")} AS corrupted
        FROM chosen
        JOIN samples s USING (sample_id)
        JOIN focus f USING (sample_id)
        JOIN classes cl ON cl.class_id = s.label
        JOIN classes fp ON fp.class_id = f.pred
        LEFT JOIN ref r USING (sample_id)
        LEFT JOIN classes rp ON rp.class_id = r.pred
        LEFT JOIN condition_thumbnails t ON t.sample_id = s.sample_id AND t.condition_id = $condition
        WHERE s.label = ANY($classes)
          AND ($low IS NULL OR f.{col} >= $low) AND ($high IS NULL OR f.{col} <= $high)
        ORDER BY abs(f.margin_distance) DESC NULLS LAST, s.sample_id
    """, model=int(model_id), condition=int(condition_id), models=ids(model_ids),
        classes=ids(class_ids), low=low, high=high)


def sample_metrics(con: Con, sample_id: int, corruption: str | None = None) -> pl.DataFrame:
    """One sample under every model and condition (or clean and `corruption`'s severities only:
    a few row groups instead of all of them, which matters at tens of millions of rows):
    prediction and geometry."""
    only = ""
    conditions: list[int] = []
    if corruption is not None:
        conditions = ids(frame(con, "SELECT condition_id FROM conditions WHERE severity = 0 "
                                    "OR corruption = $c", c=corruption)["condition_id"])
        only = "AND mt.condition_id = ANY($conditions)"  # a list the scan can prune row groups by
    return frame(con, f"""
        SELECT m.name AS model, c.name AS condition, c.corruption, c.severity, pc.name AS pred,
               mt.correct, mt.length, mt.angle_true, mt.angle_gap, mt.logit_margin,
               mt.margin_distance, mt.confidence, mt.loss
        FROM metrics mt
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN classes pc ON pc.class_id = mt.pred
        WHERE mt.sample_id = $sample {only}
        ORDER BY mt.model_id, mt.condition_id
    """, sample=int(sample_id), conditions=conditions)


def sample_path(con: Con, sample_id: int, corruption: str) -> pl.DataFrame:
    """One sample's position in the angle-length plane per model as `corruption` grows from
    clean (severity 0) to its strongest severity."""
    return frame(con, """
        SELECT m.name AS model, m.model_id, c.severity, mt.correct, mt.length, mt.angle_true,
               mt.length * cos(radians(mt.angle_true)) AS x,
               mt.length * sin(radians(mt.angle_true)) AS y
        FROM metrics mt
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        WHERE mt.sample_id = $sample AND (c.severity = 0 OR c.corruption = $corruption)
          AND mt.angle_true IS NOT NULL
        ORDER BY m.model_id, c.severity
    """, sample=int(sample_id), corruption=corruption)


def sample_images(con: Con, sample_id: int) -> pl.DataFrame:
    """The sample's clean image and every stored corrupted one, as data URLs, in condition order."""
    return frame(con, f"""
        SELECT 'clean' AS condition, 0 AS condition_id, {PNG_URL.format("thumbnail")} AS image,
               (SELECT name FROM classes WHERE class_id = label) AS label
        FROM samples WHERE sample_id = $sample
        UNION ALL
        SELECT c.name, c.condition_id, {PNG_URL.format("t.thumbnail")}, NULL
        FROM condition_thumbnails t JOIN conditions c USING (condition_id)
        WHERE t.sample_id = $sample
        ORDER BY condition_id
    """, sample=int(sample_id))


def sample_export(con: Con, sample_ids: list[int], model_ids: list[int],
                  condition_id: int) -> pl.DataFrame:
    """Every metric of the given samples under the chosen models and condition, one row per
    (sample, model), with names instead of ids (angles as a list), for CSV / Parquet."""
    return frame(con, """
        SELECT mt.sample_id, s.source, cl.name AS label, m.name AS model, c.name AS condition,
               pc.name AS pred, mt.* EXCLUDE (sample_id, model_id, condition_id, pred)
        FROM metrics mt
        JOIN samples s USING (sample_id)
        JOIN classes cl ON cl.class_id = s.label
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN classes pc ON pc.class_id = mt.pred
        WHERE mt.sample_id = ANY($samples) AND mt.model_id = ANY($models)
          AND mt.condition_id = $condition
        ORDER BY mt.sample_id, mt.model_id
    """, samples=ids(sample_ids), models=ids(model_ids), condition=int(condition_id))
