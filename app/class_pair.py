"""The class-pair plane, drawn: samples of two classes in the exact plane of their class
directions with each model's decision boundary, as points, or, for selections too large to draw
point by point, as cells counted in SQL in which a dragged box fetches the points on demand (as
the angle-length plane does)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl
import streamlit as st

from app import angle_length
from app.charts import empty, lean, panel_width, picked_marks
from app.planes import boundary_in_view
from app.selection import panel_box, panel_params, panel_selection, show_picked
from app.shared import query
from store import queries


def _axes(class_a: str, class_b: str, x: tuple[float, float], y: tuple[float, float],
          fields: tuple[str, str] = ("x", "y")) -> tuple[alt.X, alt.Y]:
    return (alt.X(f"{fields[0]}:Q", title=f"f · u1 (along W_{class_a})",
                  scale=alt.Scale(domain=list(x), nice=False)),
            alt.Y(f"{fields[1]}:Q", title=f"f · u2 (towards W_{class_b})",
                  scale=alt.Scale(domain=list(y), nice=False)))


def _boundary(lines: pl.DataFrame, model: str, x: alt.X, y: alt.Y) -> alt.Chart:
    return alt.Chart(lines.filter(pl.col("model") == model)).mark_line(
        color="black", strokeDash=[6, 3], clip=True).encode(x=x, y=y)


def points_chart(plane: pl.DataFrame, bounds: pl.DataFrame, class_a: str, class_b: str,
                 order: Sequence[str], picked: Sequence[int] = ()) -> alt.ConcatChart:
    """Every sample as a point coloured by its label, a cross where it is predicted wrong, with
    each model's boundary. Each panel has its own box (selection `pair<i>`), which picks that
    model's samples; the `picked` samples are marked in every panel with the rest faded (as
    app.angle_length.points_chart)."""
    lines, x_dom, y_dom = boundary_in_view(plane, bounds)
    x, y = _axes(class_a, class_b, x_dom, y_dom)
    ids_param, marks = picked_marks(picked, size=22)
    width = panel_width(2, legend=True)
    panels = []
    for name, model in panel_params("pair", order).items():
        mine = plane.filter(pl.col("model") == model)
        if mine.is_empty():
            continue
        dots = alt.Chart(lean(mine)).mark_point(filled=True).encode(
            x=x, y=y, color=alt.Color("label:N"), **marks,
            shape=alt.Shape("correct:N", scale=alt.Scale(domain=[True, False],
                                                           range=["circle", "cross"])),
            tooltip=["sample_id", "label", "pred", "correct",
                     alt.Tooltip("margin_distance:Q", format=".3f")],
        ).add_params(alt.selection_interval(name=name, encodings=["x", "y"]))
        panels.append(alt.layer(dots, _boundary(lines, model, x, y)).properties(
            width=width, height=width * 4 // 5, title=model))
    return alt.concat(*panels, columns=2).add_params(ids_param)


def bins_chart(cells: pl.DataFrame, bounds: pl.DataFrame, class_a: str, class_b: str,
               order: Sequence[str]) -> alt.ConcatChart:
    """The plane binned in SQL (store.queries.class_pair_bins): colour is the share of the cell
    labelled a (so the two classes read as two colours, mixed where they overlap), opacity the
    count; each panel's box (selection `paircell<i>`) fetches that model's samples under it."""
    # The view spans the cells; the boundary placement reads their centres as the samples.
    centres = pl.concat([
        cells.select("model", ((pl.col("x0") + pl.col("x1")) / 2).alias("x"),
                     ((pl.col("y0") + pl.col("y1")) / 2).alias("y")),
        cells.select("model", pl.col("x0").alias("x"), pl.col("y0").alias("y")),
        cells.select("model", pl.col("x1").alias("x"), pl.col("y1").alias("y"))])
    lines, x_dom, y_dom = boundary_in_view(centres, bounds, pad=0.0)
    x, y = _axes(class_a, class_b, x_dom, y_dom)
    x0, y0 = _axes(class_a, class_b, x_dom, y_dom, fields=("x0", "y0"))
    width = panel_width(2, legend=True)
    panels = []
    for name, model in panel_params("paircell", order).items():
        mine = cells.filter(pl.col("model") == model)
        if mine.is_empty():
            continue
        rects = alt.Chart(mine).mark_rect().encode(
            x=x0, x2="x1", y=y0, y2="y1",
            color=alt.Color("share_a:Q", title=f"share labelled {class_a}",
                            scale=alt.Scale(scheme="purpleorange", domain=[0, 1]),
                            legend=alt.Legend(format=".0%")),
            opacity=alt.Opacity("n:Q", scale=alt.Scale(type="log", range=[0.35, 1]), legend=None),
            tooltip=["model", "n",
                     alt.Tooltip("share_a:Q", format=".0%", title=f"labelled {class_a}"),
                     alt.Tooltip("accuracy:Q", format=".1%")],
        ).add_params(alt.selection_interval(name=name, encodings=["x", "y"]))
        panels.append(alt.layer(rects, _boundary(lines, model, x, y)).properties(
            width=width, height=width * 4 // 5, title=model))
    return alt.concat(*panels, columns=2)


def tab(model_id: dict[str, int], order: Sequence[str], condition_id: int, class_id: dict[str, int],
        class_a: str, class_b: str) -> None:
    """The Geometry page's class-pair tab for classes a and b: the models with no plane named,
    points or cells beyond MAX_POINTS, a box per panel, and the samples it picks."""
    ids = [model_id[m] for m in order]
    a, b = class_id[class_a], class_id[class_b]
    bounds = query(queries.class_pair_boundary, ids, a, b)
    st.caption(f"Samples labelled {class_a} or {class_b}, placed exactly in the plane of "
               f"W_{class_a} (x axis) and W_{class_b}; the line is the boundary z_{class_a} = "
               f"z_{class_b}, exact in this plane since W_{class_a} − W_{class_b} lies in it. "
               "Other classes may still win off the plane.")
    flat = bounds.filter(~(pl.col("a_x").fill_null(0).abs() > 1e-12)
                         | ~(pl.col("b_y").fill_null(0).abs() > 1e-12))["model"].to_list()
    if flat:  # heavy pruning can zero a class's row, or leave two rows parallel
        st.caption(f"No plane in {', '.join(flat)}: W_{class_a} and W_{class_b} are parallel "
                   "there, or one of them is zero (pruned away), so its samples are not drawn.")
    size = query(queries.selection_size, ids, condition_id, [a, b])
    if size > angle_length.MAX_POINTS:  # the threshold the angle-length plane bins at
        st.caption(f"{size:,} points: binned in SQL (colour: the share labelled {class_a}, "
                   "opacity: how many). Drag a box over a panel's cells to list that model's "
                   "samples under it.")
        cells = query(queries.class_pair_bins, ids, condition_id, a, b)
        event = st.altair_chart(bins_chart(cells, bounds, class_a, class_b, order),
                                on_select="rerun", key="pair_cells")
        model, box = panel_box(event, panel_params("paircell", order), "pairb")
        picked = []
        if box and "x0" in box and "y0" in box:
            inside = query(queries.class_pair_plane, [model_id[model]] if model else ids,
                           condition_id, a, b, (*box["x0"], *box["y0"]), angle_length.PICK_LIMIT)
            picked = inside["sample_id"].unique(maintain_order=True).to_list()
        show_picked(picked, ids, condition_id, "pairb", model)
        return
    plane = query(queries.class_pair_plane, ids, condition_id, a, b).drop_nulls(["x", "y"])
    if plane.is_empty():
        empty("No sample of these two classes in this selection.")
        return
    model, picked = panel_selection(st.session_state.get("pair_chart"),
                                    panel_params("pair", order), plane, "pair")
    st.altair_chart(points_chart(plane, bounds, class_a, class_b, order, picked),
                    on_select="rerun", key="pair_chart")
    show_picked(picked, ids, condition_id, "pair", model)
