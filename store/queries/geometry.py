"""The Geometry page's queries: distributions of per-sample metrics, the angle-length plane (points
or bins), clean-to-corrupted shifts, the class directions and the class-pair plane."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from store.catalogue import plottable
from store.queries.common import CLEAN_ID, PNG_URL, SELECTION, Con, frame, ids


def _histogram(con: Con, values_sql: str, bins: int, **params: object) -> pl.DataFrame:
    """Bin `values_sql` (columns model_id, grp, x) into `bins` equal bins between its 0.5 % and
    99.5 % quantiles, per model and group. Values beyond are not piled into the edge bins (they
    would look like peaks): they come as one row per side, `tail` 'below' or 'above', spanning
    (min, lo) or (hi, max); `tail` is null on the bins. `share` counts tails in."""
    return frame(con, f"""
        WITH v AS ({values_sql}),
        q AS (SELECT quantile_cont(x, 0.005) AS lo, quantile_cont(x, 0.995) AS hi FROM v),
        -- Widened by a hair: quantile_cont interpolates between tied values in floating point
        -- (-88.99999999999999 between two -89s), which would put the tie itself in the tail.
        r AS (SELECT CASE WHEN hi > lo THEN lo - 1e-9 * greatest(1, abs(lo)) ELSE lo - 0.5 END AS lo,
                     CASE WHEN hi > lo THEN hi + 1e-9 * greatest(1, abs(hi)) ELSE lo + 0.5 END AS hi
              FROM q),
        b AS (
            SELECT v.model_id, v.grp, v.x, r.lo, r.hi, (r.hi - r.lo) / $bins AS width,
                   CASE WHEN v.x < r.lo THEN -1 WHEN v.x > r.hi THEN $bins
                        ELSE least(floor((v.x - r.lo) / ((r.hi - r.lo) / $bins)), $bins - 1)
                   END AS bin
            FROM v, r
        )
        SELECT m.name AS model, b.grp,
               CASE WHEN b.bin = -1 THEN min(b.x) WHEN b.bin = $bins THEN any_value(b.hi)
                    ELSE any_value(b.lo + b.bin * b.width) END AS x0,
               CASE WHEN b.bin = -1 THEN any_value(b.lo) WHEN b.bin = $bins THEN max(b.x)
                    ELSE any_value(b.lo + (b.bin + 1) * b.width) END AS x1,
               count(*) AS n,
               count(*) / sum(count(*)) OVER (PARTITION BY m.name, b.grp) AS share,
               CASE WHEN b.bin = -1 THEN 'below' WHEN b.bin = $bins THEN 'above' END AS tail
        FROM b JOIN models m USING (model_id)
        GROUP BY m.name, m.model_id, b.grp, b.bin
        ORDER BY m.model_id, b.grp, b.bin
    """, bins=bins, **params)


def metric_histogram(con: Con, metric: str, model_ids: list[int], condition_id: int,
                     class_ids: list[int], bins: int = 40) -> pl.DataFrame:
    """Distribution of one per-sample metric per model, correct (`grp` true) and wrong apart."""
    col = plottable(metric)
    values = f"SELECT mt.model_id, mt.correct AS grp, mt.{col} AS x {SELECTION} AND isfinite(mt.{col})"
    return _histogram(con, values, bins, condition=condition_id, models=ids(model_ids),
                      classes=ids(class_ids))


def selection_size(con: Con, model_ids: list[int], condition_id: int, class_ids: list[int]) -> int:
    """How many (model, sample) rows the geometry selection holds: points or bins?"""
    return con.execute(f"SELECT count(*) {SELECTION}", {
        "condition": condition_id, "models": ids(model_ids), "classes": ids(class_ids),
    }).fetchall()[0][0]


# Per model, the length the plane's coordinates are divided by: the model's median feature length
# in the selection when `per_model` (a model whose features are 5 long beside one whose are 20
# is otherwise a blob), else 1.
_UNIT = """unit AS (SELECT model_id, CASE WHEN $per_model THEN greatest(median(length), 1e-12)
                                      ELSE 1.0 END AS unit FROM p0 GROUP BY model_id)"""


def angle_length_points(con: Con, model_ids: list[int], condition_id: int,
                        class_ids: list[int], box: Sequence[float] | None = None,
                        limit: int | None = None, per_model: bool = False) -> pl.DataFrame:
    """Every selected sample in the angle-length plane: angle to the true class direction as the
    polar angle, feature length as the radius (x = length cos, y = length sin), and the angle to
    the nearest other class direction (angle_other). `box` (x_lo, x_hi, y_lo, y_hi) keeps the
    points inside it (a box dragged over the binned plane), at most `limit` of them;
    `per_model` gives lengths in units of each model's median length (see _UNIT)."""
    x_lo, x_hi, y_lo, y_hi = box if box is not None else (None, None, None, None)
    return frame(con, f"""
        WITH p0 AS (
            SELECT mt.model_id, mt.sample_id, s.label, mt.pred, mt.correct, mt.length,
                   mt.angle_true, mt.angle_true + mt.angle_gap AS angle_other, mt.margin_distance,
                   mt.length * cos(radians(mt.angle_true)) AS x,
                   mt.length * sin(radians(mt.angle_true)) AS y
            {SELECTION} AND mt.angle_true IS NOT NULL
        ), {_UNIT},
        p AS (SELECT p0.* REPLACE (p0.length / u.unit AS length, p0.x / u.unit AS x,
                                   p0.y / u.unit AS y)
              FROM p0 JOIN unit u USING (model_id))
        SELECT (SELECT name FROM models WHERE model_id = p.model_id) AS model, p.sample_id,
               (SELECT name FROM classes WHERE class_id = p.label) AS label,
               (SELECT name FROM classes WHERE class_id = p.pred) AS pred, p.correct,
               p.length, p.angle_true, p.angle_other, p.margin_distance, p.x, p.y
        FROM p
        WHERE ($x_lo IS NULL OR p.x BETWEEN $x_lo AND $x_hi)
          AND ($y_lo IS NULL OR p.y BETWEEN $y_lo AND $y_hi)
        ORDER BY p.model_id, p.sample_id
        LIMIT $limit
    """, condition=condition_id, models=ids(model_ids), classes=ids(class_ids),
        x_lo=x_lo, x_hi=x_hi, y_lo=y_lo, y_hi=y_hi, limit=limit, per_model=per_model)


def angle_length_bins(con: Con, model_ids: list[int], condition_id: int, class_ids: list[int],
                      bins: int = 60, per_model: bool = False) -> pl.DataFrame:
    """The angle-length plane binned on a `bins` x `bins/2` grid (for selections too large to
    draw point by point): count and accuracy per cell; `per_model` as angle_length_points."""
    return frame(con, f"""
        WITH p0 AS (
            SELECT mt.model_id, mt.correct, mt.length,
                   mt.length * cos(radians(mt.angle_true)) AS x,
                   mt.length * sin(radians(mt.angle_true)) AS y
            {SELECTION} AND mt.angle_true IS NOT NULL
        ), {_UNIT},
        p AS (SELECT p0.model_id, p0.correct, p0.x / u.unit AS x, p0.y / u.unit AS y
              FROM p0 JOIN unit u USING (model_id)),
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
    """, condition=condition_id, models=ids(model_ids), classes=ids(class_ids), bins=bins,
        per_model=per_model)


def _paired(condition_id: int, model_ids: list[int], class_ids: list[int]) -> tuple[str, dict]:
    """The same samples clean (c) and under `condition` (x), per model."""
    sql = f"""
        FROM metrics c
        JOIN metrics x ON x.model_id = c.model_id AND x.sample_id = c.sample_id
        JOIN samples s ON s.sample_id = c.sample_id
        WHERE c.condition_id = {CLEAN_ID} AND x.condition_id = $condition
          AND c.model_id = ANY($models) AND s.label = ANY($classes)
    """
    return sql, {"condition": condition_id, "models": ids(model_ids), "classes": ids(class_ids)}


def shift_summary(con: Con, model_ids: list[int], condition_id: int,
                  class_ids: list[int]) -> pl.DataFrame:
    """Per model, how `condition` moves the same samples from where they are clean: mean shifts
    of length, angle to the true class and margin distance (with each one's standard deviation
    over the samples, `sd_<metric>`, and the margin's count of finite shifts, `n_margin`, for
    paired intervals), and the flips of `correct`."""
    paired, params = _paired(condition_id, model_ids, class_ids)
    return frame(con, f"""
        SELECT (SELECT name FROM models WHERE model_id = c.model_id) AS model, count(*) AS samples,
               avg(c.correct::DOUBLE) AS clean_accuracy, avg(x.correct::DOUBLE) AS accuracy,
               avg(x.length - c.length) AS d_length,
               avg(x.length / nullif(c.length, 0)) AS length_ratio,
               avg(x.angle_true - c.angle_true) AS d_angle_true,
               avg(x.margin_distance - c.margin_distance)
                   FILTER (WHERE isfinite(x.margin_distance - c.margin_distance)) AS d_margin_distance,
               stddev_samp(x.length - c.length) AS sd_length,
               stddev_samp(x.angle_true - c.angle_true) AS sd_angle_true,
               stddev_samp(x.margin_distance - c.margin_distance)
                   FILTER (WHERE isfinite(x.margin_distance - c.margin_distance)) AS sd_margin_distance,
               count(*) FILTER (WHERE isfinite(x.margin_distance - c.margin_distance)) AS n_margin,
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
    col = plottable(metric)
    paired, params = _paired(condition_id, model_ids, class_ids)
    values = (f"SELECT c.model_id, c.correct AS grp, x.{col} - c.{col} AS x {paired} "
              f"AND isfinite(x.{col} - c.{col})")
    return _histogram(con, values, bins, **params)


def paired_shift_cells(con: Con, metric: str, model_a: int, model_b: int, condition_id: int,
                       class_ids: list[int], bins: int = 40) -> pl.DataFrame:
    """Model a's shift metric(condition) - metric(clean) against model b's on the same samples,
    binned on one grid for both axes (so the diagonal is "shifted alike") between the 0.5 % and
    99.5 % quantiles of both, with what lies beyond counted in the edge cells. Per cell its count;
    on every row `samples`, `r` (Pearson correlation of the two shifts over all samples) and
    `b_worse` (the share of samples whose shift is larger in b than in a)."""
    col = plottable(metric)
    paired, params = _paired(condition_id, [model_a, model_b], class_ids)
    return frame(con, f"""
        WITH d AS (SELECT c.model_id, c.sample_id, x.{col} - c.{col} AS d {paired}
                   AND isfinite(x.{col} - c.{col})),
        p AS (SELECT a.d AS xa, b.d AS yb FROM d a JOIN d b USING (sample_id)
              WHERE a.model_id = $ma AND b.model_id = $mb),
        q AS (SELECT least(quantile_cont(xa, 0.005), quantile_cont(yb, 0.005)) AS lo,
                     greatest(quantile_cont(xa, 0.995), quantile_cont(yb, 0.995)) AS hi,
                     count(*) AS samples, corr(xa, yb) AS r, avg((yb > xa)::DOUBLE) AS b_worse
              FROM p),
        g AS (SELECT lo, greatest(hi - lo, 1e-9) / $bins AS w, samples, r, b_worse FROM q),
        b AS (SELECT least(greatest(floor((xa - g.lo) / g.w), 0), $bins - 1) AS i,
                     least(greatest(floor((yb - g.lo) / g.w), 0), $bins - 1) AS j
              FROM p, g)
        SELECT g.lo + b.i * g.w AS x0, g.lo + (b.i + 1) * g.w AS x1, g.lo + b.j * g.w AS y0,
               g.lo + (b.j + 1) * g.w AS y1, count(*) AS n, any_value(g.samples) AS samples,
               any_value(g.r) AS r, any_value(g.b_worse) AS b_worse
        FROM b, g
        GROUP BY b.i, b.j, g.lo, g.w
        ORDER BY b.i, b.j
    """, ma=int(model_a), mb=int(model_b), bins=bins, **params)


def overlay_histogram(con: Con, metric: str, model_ids: list[int], condition_id: int,
                      class_ids: list[int], bins: int = 40) -> pl.DataFrame:
    """Distribution of one metric per model on the same samples clean (`grp` 'clean') and under
    `condition` (`grp` its name), on shared bins, so the two can be drawn over each other."""
    col = plottable(metric)
    values = f"""
        SELECT mt.model_id, CASE WHEN mt.condition_id = {CLEAN_ID} THEN 'clean'
                                 ELSE (SELECT name FROM conditions WHERE condition_id = $condition)
                            END AS grp, mt.{col} AS x
        FROM metrics mt JOIN samples s USING (sample_id)
        WHERE mt.condition_id IN ({CLEAN_ID}, $condition) AND mt.model_id = ANY($models)
          AND s.label = ANY($classes) AND isfinite(mt.{col})
    """
    return _histogram(con, values, bins, condition=condition_id, models=ids(model_ids),
                      classes=ids(class_ids))


def class_directions(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Weight norm and bias of every class direction of the chosen models."""
    return frame(con, """
        SELECT m.name AS model, d.class_id, c.name AS class, d.weight_norm, d.bias
        FROM class_directions d JOIN models m USING (model_id) JOIN classes c USING (class_id)
        WHERE d.model_id = ANY($models)
        ORDER BY d.model_id, d.class_id
    """, models=ids(model_ids))


def class_pair_angles(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """Pairwise angles (degrees) and dot products of the class directions of the chosen models."""
    return frame(con, """
        SELECT m.name AS model, p.class_a, a.name AS class_a_name, p.class_b, b.name AS class_b_name,
               p.angle, p.dot
        FROM class_pairs p
        JOIN models m USING (model_id)
        JOIN classes a ON a.class_id = p.class_a
        JOIN classes b ON b.class_id = p.class_b
        WHERE p.model_id = ANY($models)
        ORDER BY p.model_id, p.class_a, p.class_b
    """, models=ids(model_ids))


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
    WHERE p.class_a = $a AND p.class_b = $b AND p.model_id = ANY($models)
"""


# A sample of class a or b in the plane of W_a and W_b: x = f.u1, y = f.u2, from `length`,
# `angles` and the Gram alone (f.W_b = length ||W_b|| cos theta_b).
_PAIR_POINTS = """
    SELECT mt.model_id, mt.sample_id, s.label, mt.pred, mt.correct, mt.margin_distance,
           mt.length * cos(radians(mt.angles[$a + 1])) AS x,
           (mt.length * g.nb * cos(radians(mt.angles[$b + 1]))
            - g.bx * mt.length * cos(radians(mt.angles[$a + 1]))) / nullif(g.by, 0) AS y
    FROM metrics mt
    JOIN g USING (model_id)
    JOIN samples s USING (sample_id)
    WHERE mt.condition_id = $condition AND s.label IN ($a, $b) AND mt.angles IS NOT NULL
"""


def class_pair_plane(con: Con, model_ids: list[int], condition_id: int, class_a: int,
                     class_b: int, box: Sequence[float] | None = None,
                     limit: int | None = None) -> pl.DataFrame:
    """Samples labelled a or b, placed exactly in the plane of W_a and W_b (x along W_a, y
    towards W_b in the plane). `box` (x_lo, x_hi, y_lo, y_hi) keeps the points inside it (a box
    dragged over the binned plane), at most `limit` of them."""
    x_lo, x_hi, y_lo, y_hi = box if box is not None else (None, None, None, None)
    return frame(con, f"""
        WITH g AS ({PAIR_FRAME}), p AS ({_PAIR_POINTS})
        SELECT m.name AS model, p.sample_id, cl.name AS label, pc.name AS pred, p.correct,
               p.margin_distance, p.x, p.y
        FROM p
        JOIN models m USING (model_id)
        JOIN classes cl ON cl.class_id = p.label
        JOIN classes pc ON pc.class_id = p.pred
        WHERE ($x_lo IS NULL OR p.x BETWEEN $x_lo AND $x_hi)
          AND ($y_lo IS NULL OR p.y BETWEEN $y_lo AND $y_hi)
        ORDER BY p.model_id, p.sample_id
        LIMIT $limit
    """, models=ids(model_ids), condition=condition_id, a=int(class_a), b=int(class_b),
        x_lo=x_lo, x_hi=x_hi, y_lo=y_lo, y_hi=y_hi, limit=limit)


def class_pair_bins(con: Con, model_ids: list[int], condition_id: int, class_a: int,
                    class_b: int, bins: int = 60) -> pl.DataFrame:
    """The class-pair plane binned on a `bins` x `bins` grid over the points' extent (for
    selections too large to draw point by point): per model and cell, the count, the share
    labelled a, and the accuracy."""
    return frame(con, f"""
        WITH g AS ({PAIR_FRAME}), p AS ({_PAIR_POINTS}),
        r AS (SELECT min(x) AS x_lo, greatest(max(x) - min(x), 1e-9) / $bins AS wx,
                     min(y) AS y_lo, greatest(max(y) - min(y), 1e-9) / $bins AS wy FROM p),
        b AS (
            SELECT p.model_id, p.label, p.correct, r.x_lo, r.wx, r.y_lo, r.wy,
                   least(floor((p.x - r.x_lo) / r.wx), $bins - 1) AS i,
                   least(floor((p.y - r.y_lo) / r.wy), $bins - 1) AS j
            FROM p, r WHERE p.x IS NOT NULL AND p.y IS NOT NULL
        )
        SELECT m.name AS model, any_value(b.x_lo + b.i * b.wx) AS x0,
               any_value(b.x_lo + (b.i + 1) * b.wx) AS x1, any_value(b.y_lo + b.j * b.wy) AS y0,
               any_value(b.y_lo + (b.j + 1) * b.wy) AS y1, count(*) AS n,
               avg((b.label = $a)::DOUBLE) AS share_a, avg(b.correct::DOUBLE) AS accuracy
        FROM b JOIN models m USING (model_id)
        GROUP BY m.name, m.model_id, b.i, b.j
        ORDER BY m.model_id
    """, models=ids(model_ids), condition=condition_id, a=int(class_a), b=int(class_b),
        bins=bins)


def class_pair_boundary(con: Con, model_ids: list[int], class_a: int, class_b: int) -> pl.DataFrame:
    """Per model, the decision boundary z_a = z_b in the plane of W_a and W_b: the line
    bx_coef * x + by_coef * y + bias_diff = 0 (W_a - W_b lies in the plane, so it is exact), and
    the two class directions' end points (a_x, 0) and (b_x, b_y)."""
    return frame(con, f"""
        WITH g AS ({PAIR_FRAME})
        SELECT m.name AS model, g.na AS a_x, g.bx AS b_x, g.by AS b_y,
               g.na - g.bx AS x_coef, -g.by AS y_coef, g.bias_diff
        FROM g JOIN models m USING (model_id)
        ORDER BY g.model_id
    """, models=ids(model_ids), a=int(class_a), b=int(class_b))


def sample_cards(con: Con, sample_ids: list[int], model_ids: list[int],
                 condition_id: int) -> pl.DataFrame:
    """The chosen samples with their clean (and, where stored, corrupted) thumbnails as data URLs
    and every chosen model's prediction under `condition`."""
    return frame(con, f"""
        SELECT s.sample_id, cl.name AS label, {PNG_URL.format("s.thumbnail")} AS image,
               {PNG_URL.format("any_value(t.thumbnail)")} AS corrupted,
               string_agg(m.name || ': ' || pc.name || CASE WHEN mt.correct THEN ' ✓' ELSE ' ✗' END,
                          ', ' ORDER BY m.model_id) AS predictions,
               min(mt.margin_distance) AS min_margin_distance
        FROM samples s
        JOIN classes cl ON cl.class_id = s.label
        LEFT JOIN condition_thumbnails t ON t.sample_id = s.sample_id AND t.condition_id = $condition
        LEFT JOIN metrics mt ON mt.sample_id = s.sample_id AND mt.condition_id = $condition
                            AND mt.model_id = ANY($models)
        LEFT JOIN models m ON m.model_id = mt.model_id
        LEFT JOIN classes pc ON pc.class_id = mt.pred
        WHERE s.sample_id = ANY($samples)
        GROUP BY s.sample_id, cl.name, s.thumbnail
        ORDER BY s.sample_id
    """, samples=ids(sample_ids), models=ids(model_ids), condition=condition_id)
