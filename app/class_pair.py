"""The class-pair plane, drawn: samples of two classes in the exact plane of their class
directions with each model's decision boundary, as points, or, for selections too large to draw
point by point, as cells counted in SQL in which a dragged box fetches the points on demand (as
the angle-length plane does)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

from app.charts import lean, panel_width, picked_marks
from app.planes import boundary_in_view


def _axes(class_a: str, class_b: str, x: tuple[float, float], y: tuple[float, float],
          fields: tuple[str, str] = ("x", "y")) -> tuple[alt.X, alt.Y]:
    return (alt.X(f"{fields[0]}:Q", title=f"f · u1 (along W_{class_a})",
                  scale=alt.Scale(domain=list(x), nice=False)),
            alt.Y(f"{fields[1]}:Q", title=f"f · u2 (towards W_{class_b})",
                  scale=alt.Scale(domain=list(y), nice=False)))


def _with_boundaries(marks: alt.Chart, data: pl.DataFrame, lines: pl.DataFrame,
                     x: alt.X, y: alt.Y, order: Sequence[str]) -> alt.FacetChart:
    """`marks` (drawing rows of kind 'sample') and each model's boundary line, faceted by model:
    a faceted layer chart needs one data set at the top, so the lines ride along as rows."""
    both = pl.concat([data.with_columns(pl.lit("sample").alias("kind")),
                      lines.with_columns(pl.lit("boundary").alias("kind"))],
                     how="diagonal_relaxed")
    boundary = alt.Chart().transform_filter("datum.kind == 'boundary'").mark_line(
        color="black", strokeDash=[6, 3], clip=True).encode(x=x, y=y)
    width = panel_width(2, legend=True)
    return alt.layer(marks.transform_filter("datum.kind == 'sample'"), boundary,
                     data=lean(both)).properties(width=width, height=width * 4 // 5).facet(
        facet=alt.Facet("model:N", sort=order), columns=2)


def points_chart(plane: pl.DataFrame, bounds: pl.DataFrame, class_a: str, class_b: str,
                 order: Sequence[str], picked: Sequence[int] = ()) -> alt.FacetChart:
    """Every sample as a point coloured by its label, a cross where it is predicted wrong; a box
    (selection `pair_pick`) picks samples, and the `picked` samples are marked in every panel
    with the rest faded (as app.angle_length.points_chart)."""
    lines, x_dom, y_dom = boundary_in_view(plane, bounds)
    x, y = _axes(class_a, class_b, x_dom, y_dom)
    brush = alt.selection_interval(name="pair_pick", encodings=["x", "y"])
    ids_param, marks = picked_marks(picked, size=22)
    dots = alt.Chart().mark_point(filled=True).encode(
        x=x, y=y, color=alt.Color("label:N"), **marks,
        shape=alt.Shape("correct:N", scale=alt.Scale(domain=[True, False],
                                                       range=["circle", "cross"])),
        tooltip=["sample_id", "label", "pred", "correct",
                 alt.Tooltip("margin_distance:Q", format=".3f")],
    ).add_params(brush)
    return _with_boundaries(dots, plane, lines, x, y, order).add_params(ids_param)


def bins_chart(cells: pl.DataFrame, bounds: pl.DataFrame, class_a: str, class_b: str,
               order: Sequence[str]) -> alt.FacetChart:
    """The plane binned in SQL (store.queries.class_pair_bins): colour is the share of the cell
    labelled a (so the two classes read as two colours, mixed where they overlap), opacity the
    count; a box (selection `pair_cell_pick`) fetches the samples under it."""
    # The view spans the cells; the boundary placement reads their centres as the samples.
    centres = pl.concat([
        cells.select("model", ((pl.col("x0") + pl.col("x1")) / 2).alias("x"),
                     ((pl.col("y0") + pl.col("y1")) / 2).alias("y")),
        cells.select("model", pl.col("x0").alias("x"), pl.col("y0").alias("y")),
        cells.select("model", pl.col("x1").alias("x"), pl.col("y1").alias("y"))])
    lines, x_dom, y_dom = boundary_in_view(centres, bounds, pad=0.0)
    x, y = _axes(class_a, class_b, x_dom, y_dom)
    x0, y0 = _axes(class_a, class_b, x_dom, y_dom, fields=("x0", "y0"))
    brush = alt.selection_interval(name="pair_cell_pick", encodings=["x", "y"])
    rects = alt.Chart().mark_rect().encode(
        x=x0, x2="x1", y=y0, y2="y1",
        color=alt.condition(brush, alt.Color(
            "share_a:Q", title=f"share labelled {class_a}",
            scale=alt.Scale(scheme="purpleorange", domain=[0, 1]),
            legend=alt.Legend(format=".0%")), alt.value("lightgray")),
        opacity=alt.Opacity("n:Q", scale=alt.Scale(type="log", range=[0.35, 1]), legend=None),
        tooltip=["model", "n", alt.Tooltip("share_a:Q", format=".0%", title=f"labelled {class_a}"),
                 alt.Tooltip("accuracy:Q", format=".1%")],
    ).add_params(brush)
    return _with_boundaries(rects, cells, lines, x, y, order)
