"""Named, parameterised queries the pages run. Each takes a connection (or cursor) and returns a
Polars DataFrame (or a number); pages only call these and draw.

Filters come as lists of integer ids (`models`, `classes`) bound as parameters; the only names
spliced into SQL text are metric columns, checked against `GEOMETRY_METRICS` first.
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from store import analysis

Con = duckdb.DuckDBPyConnection

# Per-sample columns a page may ask a distribution or a shift of (spliced into SQL: keep literal).
GEOMETRY_METRICS: dict[str, str] = {
    "length": "feature length ||f||",
    "angle_true": "angle to the true class direction (degrees)",
    "angle_gap": "angle gap: nearest other class minus true class (degrees)",
    "margin_distance": "signed distance to the nearest decision boundary",
    "logit_margin": "logit margin z_y - max other z_k",
    "prob_true": "softmax probability of the true class",
    "confidence": "softmax probability of the predicted class",
    "loss": "cross-entropy loss",
    "entropy": "entropy of the softmax (nats)",
}

CLEAN_ID = "(SELECT condition_id FROM conditions WHERE corruption = 'clean')"
PNG_URL = "'data:image/png;base64,' || to_base64({})"


def _frame(con: Con, sql: str, **params: object) -> pl.DataFrame:
    # Only the parameters the text uses: one query text may leave some of a function's out.
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    return con.sql(sql, params=used or None).pl()


def _metric(name: str) -> str:
    if name not in GEOMETRY_METRICS:
        raise ValueError(f"unknown metric '{name}' (one of {', '.join(GEOMETRY_METRICS)})")
    return name


def _ids(values: object) -> list[int]:
    return [int(v) for v in values]


# Samples of the chosen models, condition and classes: the set every geometry view draws from.
SELECTION = """
    FROM metrics mt
    JOIN samples s USING (sample_id)
    WHERE mt.condition_id = $condition
      AND list_contains($models, mt.model_id)
      AND list_contains($classes, s.label)
"""


# --- What the store holds ---------------------------------------------------------------------

def store_summary(con: Con) -> dict[str, object]:
    """What the store holds, in a few numbers and the meta entries."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    counts = con.execute("""
        SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM conditions),
               (SELECT count(*) FROM samples), (SELECT count(*) FROM classes),
               (SELECT count(*) FROM metrics)
    """).fetchall()[0]
    keys = ("models", "conditions", "samples", "classes", "metric_rows")
    return {**meta, **dict(zip(keys, counts, strict=True))}


def models(con: Con) -> pl.DataFrame:
    """Every model with its id, method and dense reference, in build order."""
    return _frame(con, """
        SELECT m.model_id, m.name AS model, m.method, m.sparsity, m.reference_model_id,
               r.name AS reference
        FROM models m LEFT JOIN models r ON r.model_id = m.reference_model_id
        ORDER BY m.model_id
    """)


def conditions(con: Con) -> pl.DataFrame:
    """Every condition (clean first), in build order."""
    return _frame(con, """
        SELECT condition_id, name AS condition, corruption, severity, family, benchmark
        FROM conditions ORDER BY condition_id
    """)


def classes(con: Con) -> pl.DataFrame:
    return _frame(con, "SELECT class_id, name AS class FROM classes ORDER BY class_id")


def corruptions(con: Con) -> pl.DataFrame:
    """The corruptions in the store (clean excluded), in build order, with their families."""
    return _frame(con, """
        SELECT corruption, any_value(family) AS family, bool_and(benchmark) AS benchmark,
               min(condition_id) AS first_id
        FROM conditions WHERE corruption <> 'clean'
        GROUP BY corruption ORDER BY first_id
    """)


# --- Overview ---------------------------------------------------------------------------------

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
    return _frame(con, """
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
    return _frame(con, """
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
    return _frame(con, """
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
    return _frame(con, """
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
    return _frame(con, """
        SELECT m.name AS model, m.model_id, c.condition_id, c.name AS condition, c.corruption,
               c.severity, c.family, a.accuracy, a.n
        FROM accuracy a
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        ORDER BY m.model_id, c.condition_id
    """)


# --- Geometry ---------------------------------------------------------------------------------

def _histogram(con: Con, values_sql: str, bins: int, **params: object) -> pl.DataFrame:
    """Bin `values_sql` (columns model_id, grp, x) into `bins` equal bins between its 0.5 % and
    99.5 % quantiles (values beyond go to the edge bins), per model and group."""
    return _frame(con, f"""
        WITH v AS ({values_sql}),
        q AS (SELECT quantile_cont(x, 0.005) AS lo, quantile_cont(x, 0.995) AS hi FROM v),
        r AS (SELECT CASE WHEN hi > lo THEN lo ELSE lo - 0.5 END AS lo,
                     CASE WHEN hi > lo THEN hi ELSE lo + 0.5 END AS hi FROM q),
        b AS (
            SELECT v.model_id, v.grp, r.lo, (r.hi - r.lo) / $bins AS width,
                   least(greatest(floor((v.x - r.lo) / ((r.hi - r.lo) / $bins)), 0), $bins - 1) AS bin
            FROM v, r
        )
        SELECT m.name AS model, b.grp, any_value(b.lo + b.bin * b.width) AS x0,
               any_value(b.lo + (b.bin + 1) * b.width) AS x1, count(*) AS n,
               count(*) / sum(count(*)) OVER (PARTITION BY m.name, b.grp) AS share
        FROM b JOIN models m USING (model_id)
        GROUP BY m.name, m.model_id, b.grp, b.bin
        ORDER BY m.model_id, b.grp, x0
    """, bins=bins, **params)


def metric_histogram(con: Con, metric: str, model_ids: list[int], condition_id: int,
                     class_ids: list[int], bins: int = 40) -> pl.DataFrame:
    """Distribution of one per-sample metric per model, correct (`grp` true) and wrong apart."""
    col = _metric(metric)
    values = f"SELECT mt.model_id, mt.correct AS grp, mt.{col} AS x {SELECTION} AND isfinite(mt.{col})"
    return _histogram(con, values, bins, condition=condition_id, models=_ids(model_ids),
                      classes=_ids(class_ids))


def selection_size(con: Con, model_ids: list[int], condition_id: int, class_ids: list[int]) -> int:
    """How many (model, sample) rows the geometry selection holds: points or bins?"""
    return con.execute(f"SELECT count(*) {SELECTION}", {
        "condition": condition_id, "models": _ids(model_ids), "classes": _ids(class_ids),
    }).fetchall()[0][0]


def angle_length_points(con: Con, model_ids: list[int], condition_id: int,
                        class_ids: list[int]) -> pl.DataFrame:
    """Every selected sample in the angle-length plane: angle to the true class direction as the
    polar angle, feature length as the radius (x = length cos, y = length sin)."""
    return _frame(con, f"""
        SELECT (SELECT name FROM models WHERE model_id = mt.model_id) AS model, mt.sample_id,
               (SELECT name FROM classes WHERE class_id = s.label) AS label,
               (SELECT name FROM classes WHERE class_id = mt.pred) AS pred, mt.correct,
               mt.length, mt.angle_true, mt.margin_distance,
               mt.length * cos(radians(mt.angle_true)) AS x,
               mt.length * sin(radians(mt.angle_true)) AS y
        {SELECTION} AND mt.angle_true IS NOT NULL
        ORDER BY mt.model_id, mt.sample_id
    """, condition=condition_id, models=_ids(model_ids), classes=_ids(class_ids))


def angle_length_bins(con: Con, model_ids: list[int], condition_id: int, class_ids: list[int],
                      bins: int = 60) -> pl.DataFrame:
    """The angle-length plane binned on a `bins` x `bins/2` grid (for selections too large to
    draw point by point): count and accuracy per cell."""
    return _frame(con, f"""
        WITH p AS (
            SELECT mt.model_id, mt.correct,
                   mt.length * cos(radians(mt.angle_true)) AS x,
                   mt.length * sin(radians(mt.angle_true)) AS y
            {SELECTION} AND mt.angle_true IS NOT NULL
        ),
        r AS (SELECT greatest(max(abs(x)), max(y), 1e-9) AS radius FROM p),
        b AS (
            SELECT p.model_id, p.correct, r.radius * 2 / $bins AS w,
                   least(floor((p.x + r.radius) / (r.radius * 2 / $bins)), $bins - 1) AS i,
                   least(floor(p.y / (r.radius * 2 / $bins)), $bins / 2 - 1) AS j,
                   r.radius
            FROM p, r
        )
        SELECT m.name AS model, any_value(-b.radius + b.i * b.w) AS x0,
               any_value(-b.radius + (b.i + 1) * b.w) AS x1,
               any_value(b.j * b.w) AS y0, any_value((b.j + 1) * b.w) AS y1,
               count(*) AS n, avg(b.correct::DOUBLE) AS accuracy
        FROM b JOIN models m USING (model_id)
        GROUP BY m.name, m.model_id, b.i, b.j
        ORDER BY m.model_id
    """, condition=condition_id, models=_ids(model_ids), classes=_ids(class_ids), bins=bins)


def _paired(condition_id: int, model_ids: list[int], class_ids: list[int]) -> tuple[str, dict]:
    """The same samples clean (c) and under `condition` (x), per model."""
    sql = f"""
        FROM metrics c
        JOIN metrics x ON x.model_id = c.model_id AND x.sample_id = c.sample_id
        JOIN samples s ON s.sample_id = c.sample_id
        WHERE c.condition_id = {CLEAN_ID} AND x.condition_id = $condition
          AND list_contains($models, c.model_id) AND list_contains($classes, s.label)
    """
    return sql, {"condition": condition_id, "models": _ids(model_ids), "classes": _ids(class_ids)}


def shift_summary(con: Con, model_ids: list[int], condition_id: int,
                  class_ids: list[int]) -> pl.DataFrame:
    """Per model, how `condition` moves the same samples from where they are clean: mean shifts
    of length, angle to the true class and margin distance, and the flips of `correct`."""
    paired, params = _paired(condition_id, model_ids, class_ids)
    return _frame(con, f"""
        SELECT (SELECT name FROM models WHERE model_id = c.model_id) AS model, count(*) AS samples,
               avg(c.correct::DOUBLE) AS clean_accuracy, avg(x.correct::DOUBLE) AS accuracy,
               avg(x.length - c.length) AS d_length,
               avg(x.length / nullif(c.length, 0)) AS length_ratio,
               avg(x.angle_true - c.angle_true) AS d_angle_true,
               avg(x.margin_distance - c.margin_distance)
                   FILTER (WHERE isfinite(x.margin_distance - c.margin_distance)) AS d_margin_distance,
               count(*) FILTER (WHERE c.correct AND NOT x.correct) AS broken,
               count(*) FILTER (WHERE NOT c.correct AND x.correct) AS fixed
        {paired}
        GROUP BY c.model_id
        ORDER BY c.model_id
    """, **params)


def shift_histogram(con: Con, metric: str, model_ids: list[int], condition_id: int,
                    class_ids: list[int], bins: int = 40) -> pl.DataFrame:
    """Distribution of the paired shift metric(condition) - metric(clean) per model; `grp` is
    whether the sample was right on clean."""
    col = _metric(metric)
    paired, params = _paired(condition_id, model_ids, class_ids)
    values = (f"SELECT c.model_id, c.correct AS grp, x.{col} - c.{col} AS x {paired} "
              f"AND isfinite(x.{col} - c.{col})")
    return _histogram(con, values, bins, **params)


def class_directions(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Weight norm and bias of every class direction of the chosen models."""
    return _frame(con, """
        SELECT m.name AS model, d.class_id, c.name AS class, d.weight_norm, d.bias
        FROM class_directions d JOIN models m USING (model_id) JOIN classes c USING (class_id)
        WHERE list_contains($models, d.model_id)
        ORDER BY d.model_id, d.class_id
    """, models=_ids(model_ids))


def class_pair_angles(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Pairwise angles (degrees) and dot products of the class directions of the chosen models."""
    return _frame(con, """
        SELECT m.name AS model, p.class_a, a.name AS class_a_name, p.class_b, b.name AS class_b_name,
               p.angle, p.dot
        FROM class_pairs p
        JOIN models m USING (model_id)
        JOIN classes a ON a.class_id = p.class_a
        JOIN classes b ON b.class_id = p.class_b
        WHERE list_contains($models, p.model_id)
        ORDER BY p.model_id, p.class_a, p.class_b
    """, models=_ids(model_ids))


# The plane of W_a and W_b: u1 = W_a / ||W_a||, u2 the unit part of W_b orthogonal to u1. W_b is
# (bx, by) there, with bx = W_a.W_b / ||W_a|| and by = sqrt(||W_b||^2 - bx^2).
PAIR_FRAME = """
    SELECT p.model_id, da.weight_norm AS na, db.weight_norm AS nb,
           p.dot / nullif(da.weight_norm, 0) AS bx,
           sqrt(greatest(db.weight_norm ^ 2 - (p.dot / nullif(da.weight_norm, 0)) ^ 2, 0)) AS by,
           da.bias - db.bias AS bias_diff
    FROM class_pairs p
    JOIN class_directions da ON da.model_id = p.model_id AND da.class_id = p.class_a
    JOIN class_directions db ON db.model_id = p.model_id AND db.class_id = p.class_b
    WHERE p.class_a = $a AND p.class_b = $b AND list_contains($models, p.model_id)
"""


def class_pair_plane(con: Con, model_ids: list[int], condition_id: int, class_a: int,
                     class_b: int) -> pl.DataFrame:
    """Samples labelled a or b, placed exactly in the plane of W_a and W_b: x = f.u1, y = f.u2,
    from `length`, `angles` and the Gram alone (f.W_b = length ||W_b|| cos theta_b)."""
    return _frame(con, f"""
        WITH g AS ({PAIR_FRAME})
        SELECT m.name AS model, mt.sample_id, cl.name AS label, pc.name AS pred, mt.correct,
               mt.margin_distance,
               mt.length * cos(radians(mt.angles[$a + 1])) AS x,
               (mt.length * g.nb * cos(radians(mt.angles[$b + 1]))
                - g.bx * mt.length * cos(radians(mt.angles[$a + 1]))) / nullif(g.by, 0) AS y
        FROM metrics mt
        JOIN g USING (model_id)
        JOIN models m USING (model_id)
        JOIN samples s USING (sample_id)
        JOIN classes cl ON cl.class_id = s.label
        JOIN classes pc ON pc.class_id = mt.pred
        WHERE mt.condition_id = $condition AND s.label IN ($a, $b) AND mt.angles IS NOT NULL
        ORDER BY mt.model_id, mt.sample_id
    """, models=_ids(model_ids), condition=condition_id, a=int(class_a), b=int(class_b))


def class_pair_boundary(con: Con, model_ids: list[int], class_a: int, class_b: int) -> pl.DataFrame:
    """Per model, the decision boundary z_a = z_b in the plane of W_a and W_b: the line
    bx_coef * x + by_coef * y + bias_diff = 0 (W_a - W_b lies in the plane, so it is exact), and
    the two class directions' end points (a_x, 0) and (b_x, b_y)."""
    return _frame(con, f"""
        WITH g AS ({PAIR_FRAME})
        SELECT m.name AS model, g.na AS a_x, g.bx AS b_x, g.by AS b_y,
               g.na - g.bx AS x_coef, -g.by AS y_coef, g.bias_diff
        FROM g JOIN models m USING (model_id)
        ORDER BY g.model_id
    """, models=_ids(model_ids), a=int(class_a), b=int(class_b))


def sample_cards(con: Con, sample_ids: list[int], model_ids: list[int],
                 condition_id: int) -> pl.DataFrame:
    """The chosen samples with their clean (and, where stored, corrupted) thumbnails as data URLs
    and every chosen model's prediction under `condition`."""
    return _frame(con, f"""
        SELECT s.sample_id, cl.name AS label, {PNG_URL.format("s.thumbnail")} AS image,
               {PNG_URL.format("any_value(t.thumbnail)")} AS corrupted,
               string_agg(m.name || ': ' || pc.name || CASE WHEN mt.correct THEN ' ✓' ELSE ' ✗' END,
                          ', ' ORDER BY m.model_id) AS predictions,
               min(mt.margin_distance) AS min_margin_distance
        FROM samples s
        JOIN classes cl ON cl.class_id = s.label
        LEFT JOIN condition_thumbnails t ON t.sample_id = s.sample_id AND t.condition_id = $condition
        LEFT JOIN metrics mt ON mt.sample_id = s.sample_id AND mt.condition_id = $condition
                            AND list_contains($models, mt.model_id)
        LEFT JOIN models m ON m.model_id = mt.model_id
        LEFT JOIN classes pc ON pc.class_id = mt.pred
        WHERE list_contains($samples, s.sample_id)
        GROUP BY s.sample_id, cl.name, s.thumbnail
        ORDER BY s.sample_id
    """, samples=_ids(sample_ids), models=_ids(model_ids), condition=condition_id)


# --- Similarity -------------------------------------------------------------------------------

def model_similarity(con: Con, condition_id: int, model_ids: list[int]) -> pl.DataFrame:
    """Every ordered pair of the chosen models under one condition: prediction agreement, error
    overlap (Jaccard of the wrong sets), correlation of per-sample margin distance, and the
    linear CKA of their penultimate features (computed at build time, when features exist)."""
    return _frame(con, """
        WITH s AS (
            SELECT model_id, sample_id, pred, correct,
                   CASE WHEN isfinite(margin_distance) THEN margin_distance END AS md
            FROM metrics
            WHERE condition_id = $condition AND list_contains($models, model_id)
        )
        SELECT ma.name AS model_a, mb.name AS model_b, a.model_id AS model_a_id,
               b.model_id AS model_b_id,
               avg((a.pred = b.pred)::DOUBLE) AS agreement,
               count(*) FILTER (WHERE NOT a.correct AND NOT b.correct)
                   / nullif(count(*) FILTER (WHERE NOT a.correct OR NOT b.correct), 0) AS error_jaccard,
               corr(a.md, b.md) AS margin_correlation,
               any_value(ms.linear_cka) AS linear_cka
        FROM s a
        JOIN s b USING (sample_id)
        JOIN models ma ON ma.model_id = a.model_id
        JOIN models mb ON mb.model_id = b.model_id
        LEFT JOIN model_similarity ms ON ms.model_a = a.model_id AND ms.model_b = b.model_id
                                     AND ms.condition_id = $condition
        GROUP BY ALL
        ORDER BY model_a_id, model_b_id
    """, condition=condition_id, models=_ids(model_ids))


def corruption_shifts(con: Con, metric: str, model_ids: list[int],
                      severity: int | None = None) -> pl.DataFrame:
    """Per (model, sample), each corruption's shift of `metric` against clean: at one severity or
    averaged over severities. Wide: one column per corruption, in build order."""
    col = _metric(metric)
    long = _frame(con, f"""
        WITH clean AS (
            SELECT model_id, sample_id, {col} AS v FROM metrics
            WHERE condition_id = {CLEAN_ID} AND list_contains($models, model_id)
        )
        SELECT mt.model_id, mt.sample_id, c.corruption, min(c.condition_id) AS first_id,
               avg(mt.{col}) - any_value(cl.v) AS shift
        FROM metrics mt
        JOIN conditions c USING (condition_id)
        JOIN clean cl USING (model_id, sample_id)
        WHERE c.severity > 0 AND ($severity IS NULL OR c.severity = $severity)
          AND list_contains($models, mt.model_id)
          AND isfinite(mt.{col}) AND isfinite(cl.v)
        GROUP BY mt.model_id, mt.sample_id, c.corruption
    """, models=_ids(model_ids), severity=severity)
    if long.is_empty():
        return pl.DataFrame()
    order = long.group_by("corruption").agg(pl.col("first_id").min()).sort("first_id")["corruption"]
    wide = long.pivot(on="corruption", index=["model_id", "sample_id"], values="shift")
    return wide.select("model_id", "sample_id", *order.to_list()).sort("model_id", "sample_id")


def corruption_shift_moments(con: Con, metric: str, model_ids: list[int],
                             severity: int | None = None) -> pl.DataFrame:
    """Rows of `shift_moments` for each of `model_ids`: the moments of its per-sample corruption
    shifts of `metric` (at one severity, or averaged over severities: severity 0)."""
    wide = corruption_shifts(con, metric, model_ids, severity)
    rows = []
    if not wide.is_empty():
        names = [c for c in wide.columns if c not in ("model_id", "sample_id")]
        for (model,), part in wide.group_by("model_id", maintain_order=True):
            n, mean, products = analysis.column_moments(part.select(names).to_numpy())
            rows += [(model, metric, severity or 0, a, b, n, float(mean[i]), float(products[i, j]))
                     for i, a in enumerate(names) for j, b in enumerate(names)]
    return pl.DataFrame(rows, orient="row", schema={
        "model_id": pl.Int16, "metric": pl.String, "severity": pl.Int8, "corruption_a": pl.String,
        "corruption_b": pl.String, "n": pl.Int64, "mean_a": pl.Float64, "products": pl.Float64})


def _stored_moments(con: Con, metric: str, model_ids: list[int], severity: int | None):
    """(corruption names in build order, [(n, mean, products) per model]) from `shift_moments`,
    or None where the store has no moments for every chosen model (a version-2 store)."""
    if not _frame(con, "SELECT 1 FROM duckdb_tables() WHERE table_name = 'shift_moments'").height:
        return None
    rows = _frame(con, """
        WITH firsts AS (SELECT corruption, min(condition_id) AS first_id FROM conditions
                        GROUP BY corruption)
        SELECT sm.model_id, sm.corruption_a, sm.corruption_b, sm.n, sm.mean_a, sm.products,
               fa.first_id AS first_a, fb.first_id AS first_b
        FROM shift_moments sm
        JOIN firsts fa ON fa.corruption = sm.corruption_a
        JOIN firsts fb ON fb.corruption = sm.corruption_b
        WHERE sm.metric = $metric AND sm.severity = $severity AND list_contains($models, sm.model_id)
        ORDER BY sm.model_id, first_a, first_b
    """, metric=metric, severity=severity or 0, models=_ids(model_ids))
    chosen = set(_ids(model_ids))
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
    col = _metric(metric)
    stored = _stored_moments(con, col, model_ids, severity)
    if stored is not None:
        names, parts = stored
        n, mean, products = analysis.pool_moments(parts)
        corr = analysis.correlation_from_moments(n, products, mean)
    else:
        wide = corruption_shifts(con, col, model_ids, severity)
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


# --- Samples ----------------------------------------------------------------------------------

# What each category means, for the page and for the docs (`focus` is the chosen model, `ref` its
# dense reference, both under the chosen condition unless said).
SAMPLE_CATEGORIES: dict[str, str] = {
    "pruning-fragile": "the dense reference is right and the pruned model wrong",
    "pruning-gain": "the dense reference is wrong and the pruned model right",
    "corruption-fragile": "the model is right on clean and wrong under the condition",
    "always-right": "every chosen model is right under every condition",
    "always-wrong": "every chosen model is wrong under every condition",
    "models-disagree": "the chosen models do not all predict the same class under the condition",
}

_CATEGORY_SQL = {
    "pruning-fragile": "SELECT f.sample_id FROM focus f JOIN ref r USING (sample_id) "
                       "WHERE r.correct AND NOT f.correct",
    "pruning-gain": "SELECT f.sample_id FROM focus f JOIN ref r USING (sample_id) "
                    "WHERE NOT r.correct AND f.correct",
    "corruption-fragile": "SELECT f.sample_id FROM focus f JOIN focus_clean c USING (sample_id) "
                          "WHERE c.correct AND NOT f.correct",
    "always-right": "SELECT sample_id FROM metrics WHERE list_contains($models, model_id) "
                    "GROUP BY sample_id HAVING bool_and(correct)",
    "always-wrong": "SELECT sample_id FROM metrics WHERE list_contains($models, model_id) "
                    "GROUP BY sample_id HAVING NOT bool_or(correct)",
    "models-disagree": "SELECT sample_id FROM metrics WHERE list_contains($models, model_id) "
                       "AND condition_id = $condition GROUP BY sample_id "
                       "HAVING count(DISTINCT pred) > 1",
}


def sample_category(con: Con, category: str, model_id: int, condition_id: int,
                    model_ids: list[int], class_ids: list[int], metric: str = "margin_distance",
                    low: float | None = None, high: float | None = None) -> pl.DataFrame:
    """The samples of one category (see SAMPLE_CATEGORIES), filtered by class and by a range of
    one metric of the chosen model under the condition, with what the chosen model and its
    reference predict and thumbnails (clean, and corrupted where stored). Most decisive first."""
    if category not in _CATEGORY_SQL:
        raise ValueError(f"unknown category '{category}' (one of {', '.join(SAMPLE_CATEGORIES)})")
    col = _metric(metric)
    shown = ["margin_distance", "angle_true", "length", "confidence"]
    extra = "" if col in shown else f"f.{col}, "
    return _frame(con, f"""
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
        WHERE list_contains($classes, s.label)
          AND ($low IS NULL OR f.{col} >= $low) AND ($high IS NULL OR f.{col} <= $high)
        ORDER BY abs(f.margin_distance) DESC NULLS LAST, s.sample_id
    """, model=int(model_id), condition=int(condition_id), models=_ids(model_ids),
        classes=_ids(class_ids), low=low, high=high)


def sample_metrics(con: Con, sample_id: int) -> pl.DataFrame:
    """One sample under every model and condition: prediction and geometry."""
    return _frame(con, """
        SELECT m.name AS model, c.name AS condition, c.corruption, c.severity, pc.name AS pred,
               mt.correct, mt.length, mt.angle_true, mt.angle_gap, mt.logit_margin,
               mt.margin_distance, mt.confidence, mt.loss
        FROM metrics mt
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN classes pc ON pc.class_id = mt.pred
        WHERE mt.sample_id = $sample
        ORDER BY mt.model_id, mt.condition_id
    """, sample=int(sample_id))


def sample_path(con: Con, sample_id: int, corruption: str) -> pl.DataFrame:
    """One sample's position in the angle-length plane per model as `corruption` grows from
    clean (severity 0) to its strongest severity."""
    return _frame(con, """
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
    return _frame(con, f"""
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
    return _frame(con, """
        SELECT mt.sample_id, s.source, cl.name AS label, m.name AS model, c.name AS condition,
               pc.name AS pred, mt.* EXCLUDE (sample_id, model_id, condition_id, pred)
        FROM metrics mt
        JOIN samples s USING (sample_id)
        JOIN classes cl ON cl.class_id = s.label
        JOIN models m USING (model_id)
        JOIN conditions c USING (condition_id)
        JOIN classes pc ON pc.class_id = mt.pred
        WHERE list_contains($samples, mt.sample_id) AND list_contains($models, mt.model_id)
          AND mt.condition_id = $condition
        ORDER BY mt.sample_id, mt.model_id
    """, samples=_ids(sample_ids), models=_ids(model_ids), condition=int(condition_id))


def schema_overview(con: Con) -> pl.DataFrame:
    """Every table and view of the store with its columns and types, for the SQL page."""
    return _frame(con, """
        SELECT table_name AS "table", column_name AS "column", data_type AS type
        FROM information_schema.columns
        WHERE table_schema = 'main'
        ORDER BY table_name, ordinal_position
    """)
