"""The angle-length plane, drawn: every sample as a point, or, for selections too large to draw
point by point, cells counted in SQL in which a dragged box fetches the points on demand."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

from app.charts import lean, panel_width, picked_marks
from app.planes import nearest_class_rays

# Beyond this many points the plane is a cloud in which nothing can be told apart (two models of
# a 10,000-image test set): it is binned, and a box dragged over the cells lists their samples.
MAX_POINTS = 6_000
X_TITLE, Y_TITLE = "length · cos(angle_true)", "length · sin(angle_true)"
# With each model on its own scale (`per_model` in the queries) the length is in units of the
# model's median length.
SCALED = "length / its model's median"


def titles(per_model: bool) -> tuple[str, str]:
    if not per_model:
        return X_TITLE, Y_TITLE
    return X_TITLE.replace("length", f"({SCALED})"), Y_TITLE.replace("length", f"({SCALED})")


def points_chart(points: pl.DataFrame, order: Sequence[str], per_model: bool = False,
                 picked: Sequence[int] = ()) -> alt.FacetChart:
    """One panel per model on equal scales (twice as wide as high, spanning [-r, r] x [0, r]),
    coloured by correctness, with each model's ray at its median angle to the nearest other
    class; a box (selection `pick`) picks samples, and the `picked` samples are marked in every
    panel (where the same samples sit in the other models) with the rest faded."""
    brush = alt.selection_interval(name="pick", encodings=["x", "y"])
    x_title, y_title = titles(per_model)
    radius = float(points["length"].max()) * 1.05
    width = panel_width(2, legend=True)
    x_scale = alt.Scale(domain=[-radius, radius], nice=False)
    y_scale = alt.Scale(domain=[0, radius], nice=False)
    ids_param, marks = picked_marks(picked)
    dots = alt.Chart().mark_circle().encode(
        x=alt.X("x:Q", title=x_title, scale=x_scale),
        y=alt.Y("y:Q", title=y_title, scale=y_scale),
        color=alt.Color("correct:N", scale=alt.Scale(domain=[True, False],
                                                     range=["#1a9850", "#d73027"])),
        **marks,
        tooltip=["sample_id", "label", "pred", alt.Tooltip("length:Q", format=".3f"),
                 alt.Tooltip("angle_true:Q", format=".1f"),
                 alt.Tooltip("margin_distance:Q", format=".3f")],
    ).add_params(brush)
    # Both layers of a faceted chart must share one data set: the rays ride along as rows
    # without a sample, and each layer filters its own.
    both = pl.concat([points.with_columns(pl.lit(None, pl.String).alias("ray")),
                      nearest_class_rays(points, radius)], how="diagonal_relaxed")
    ray = alt.Chart().mark_line(color="gray", strokeDash=[4, 4]).encode(
        x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale),
        detail="ray:N").transform_filter("isValid(datum.ray)")
    return alt.layer(dots.transform_filter("!isValid(datum.ray)"), ray, data=lean(both)).properties(
        width=width, height=width // 2).facet(facet=alt.Facet("model:N", sort=order),
                                              columns=2).add_params(ids_param)


def bins_chart(cells: pl.DataFrame, order: Sequence[str], per_model: bool = False
               ) -> alt.FacetChart:
    """The plane binned in SQL, on the same equal scales: colour is accuracy in the cell, opacity
    the count; a box (selection `cell_pick`) fetches the samples under it."""
    brush = alt.selection_interval(name="cell_pick", encodings=["x", "y"])
    x_title, y_title = titles(per_model)
    radius = max(float(cells["x1"].abs().max()), float(cells["y1"].max()))
    width = panel_width(2, legend=True)
    return alt.Chart(cells).mark_rect().encode(
        x=alt.X("x0:Q", title=x_title, scale=alt.Scale(domain=[-radius, radius], nice=False)),
        x2="x1",
        y=alt.Y("y0:Q", title=y_title, scale=alt.Scale(domain=[0, radius], nice=False)),
        y2="y1",
        color=alt.condition(
            brush, alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1])),
            alt.value("lightgray")),
        opacity=alt.Opacity("n:Q", scale=alt.Scale(type="log", range=[0.3, 1]), legend=None),
        tooltip=["model", "n", alt.Tooltip("accuracy:Q", format=".1%")],
    ).add_params(brush).properties(width=width, height=width // 2).facet(
        facet=alt.Facet("model:N", sort=order), columns=2)
