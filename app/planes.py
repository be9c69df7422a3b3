"""Geometry drawn in a plane: the rays and boundary lines the Geometry page lays over its points.

Pure functions of query results (polars in, polars out), tested directly.
"""

from __future__ import annotations

import math

import polars as pl

RAY_SCHEMA = {"model": pl.String, "ray": pl.String, "x": pl.Float64, "y": pl.Float64}
LINE_SCHEMA = {"model": pl.String, "x": pl.Float64, "y": pl.Float64}


def nearest_class_rays(points: pl.DataFrame, radius: float) -> pl.DataFrame:
    """Per model, a ray from the origin at the median angle between a sample's feature and the
    nearest *other* class direction (angle_true + angle_gap): in the angle-length plane a sample
    beyond it sits farther from its own class than the typical sample is from its rival."""
    medians = (points.filter(pl.col("angle_other").is_not_null())
               .group_by("model", maintain_order=True).agg(pl.col("angle_other").median()))
    rows = []
    for model, angle in medians.iter_rows():
        theta = math.radians(angle)
        rows += [{"model": model, "ray": "nearest other class", "x": 0.0, "y": 0.0},
                 {"model": model, "ray": "nearest other class", "x": radius * math.cos(theta),
                  "y": radius * math.sin(theta)}]
    return pl.DataFrame(rows, schema=RAY_SCHEMA)


def boundary_in_view(plane: pl.DataFrame, bounds: pl.DataFrame, pad: float = 0.05
                     ) -> tuple[pl.DataFrame, tuple[float, float], tuple[float, float]]:
    """The class-pair plane's axis domains and boundary segments, so every model's boundary is in
    view: the domains span the samples and, per model, the boundary point closest to that
    model's samples' centroid; each boundary (x_coef x + y_coef y + bias_diff = 0) is drawn
    across the whole padded view.

    Returns (segments with model, x, y; (x_lo, x_hi); (y_lo, y_hi)).
    """
    xs, ys = plane["x"].to_list(), plane["y"].to_list()
    lines = []
    for row in bounds.iter_rows(named=True):
        xc, yc, c = row["x_coef"], row["y_coef"], row["bias_diff"]
        norm = (xc or 0.0) ** 2 + (yc or 0.0) ** 2
        if not norm or c is None:  # identical class directions: no boundary in this plane
            continue
        mine = plane.filter(pl.col("model") == row["model"])
        cx, cy = (mine["x"].mean(), mine["y"].mean()) if len(mine) else (0.0, 0.0)
        step = (xc * cx + yc * cy + c) / norm
        xs.append(cx - step * xc)
        ys.append(cy - step * yc)
        lines.append((row["model"], xc, yc, c))
    if not xs:
        xs, ys = [0.0], [0.0]
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    x_pad, y_pad = pad * ((x_hi - x_lo) or 1.0), pad * ((y_hi - y_lo) or 1.0)
    x_lo, x_hi, y_lo, y_hi = x_lo - x_pad, x_hi + x_pad, y_lo - y_pad, y_hi + y_pad
    segments = []
    for model, xc, yc, c in lines:
        # Parametrise by the axis the line is least steep against, so both ends stay finite.
        if abs(yc) >= abs(xc):
            ends = [(x, -(xc * x + c) / yc) for x in (x_lo, x_hi)]
        else:
            ends = [(-(yc * y + c) / xc, y) for y in (y_lo, y_hi)]
        segments += [{"model": model, "x": x, "y": y} for x, y in ends]
    return pl.DataFrame(segments, schema=LINE_SCHEMA), (x_lo, x_hi), (y_lo, y_hi)
