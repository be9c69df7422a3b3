"""The angle-length plane, drawn: every sample as a point, or, for selections too large to draw
point by point, cells counted in SQL in which a dragged box fetches the points on demand."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import empty, lean, panel_width, picked_marks
from app.planes import nearest_class_rays
from app.selection import panel_box, panel_params, panel_selection, show_picked
from app.shared import query
from store import queries

# Beyond this many points the plane is a cloud in which nothing can be told apart (two models of
# a 10,000-image test set): it is binned, and a box dragged over the cells lists their samples.
MAX_POINTS = 6_000
PICK_LIMIT = 2_000  # points fetched under a box dragged over the binned plane
X_TITLE, Y_TITLE = "length · cos(angle_true)", "length · sin(angle_true)"
# With each model on its own scale (`per_model` in the queries) the length is relative: in units
# of the model's median length (short, so that two panels' axis titles do not run into each other).
SCALED = "rel. length"


def titles(per_model: bool) -> tuple[str, str]:
    if not per_model:
        return X_TITLE, Y_TITLE
    return X_TITLE.replace("length", SCALED), Y_TITLE.replace("length", SCALED)


def points_chart(points: pl.DataFrame, order: Sequence[str], per_model: bool = False,
                 picked: Sequence[int] = ()) -> alt.ConcatChart:
    """One panel per model on equal scales (twice as wide as high, spanning [-r, r] x [0, r]),
    coloured by correctness, with each model's ray at its median angle to the nearest other
    class. Each panel has its own box (selection `pick<i>`, `panel_params("pick", order)`), so a
    box picks that model's samples; the `picked` samples are marked in every panel (where the
    same samples sit in the other models) with the rest faded."""
    x_title, y_title = titles(per_model)
    radius = float(points["length"].max()) * 1.05
    width = panel_width(2, legend=True)
    x = alt.X("x:Q", title=x_title, scale=alt.Scale(domain=[-radius, radius], nice=False))
    y = alt.Y("y:Q", title=y_title, scale=alt.Scale(domain=[0, radius], nice=False))
    ids_param, marks = picked_marks(picked)
    rays = nearest_class_rays(points, radius)
    panels = []
    for name, model in panel_params("pick", order).items():
        mine = points.filter(pl.col("model") == model)
        if mine.is_empty():
            continue
        dots = alt.Chart(lean(mine)).mark_circle().encode(
            x=x, y=y,
            color=alt.Color("correct:N", scale=alt.Scale(domain=[True, False],
                                                         range=["#1a9850", "#d73027"])),
            **marks,
            tooltip=["sample_id", "label", "pred", alt.Tooltip("length:Q", format=".3f"),
                     alt.Tooltip("angle_true:Q", format=".1f"),
                     alt.Tooltip("margin_distance:Q", format=".3f")],
        ).add_params(alt.selection_interval(name=name, encodings=["x", "y"]))
        ray = alt.Chart(rays.filter(pl.col("model") == model)).mark_line(
            color="gray", strokeDash=[4, 4]).encode(x=x, y=y, detail="ray:N")
        panels.append(alt.layer(dots, ray).properties(width=width, height=width // 2, title=model))
    return alt.concat(*panels, columns=2).add_params(ids_param)


def bins_chart(cells: pl.DataFrame, order: Sequence[str], per_model: bool = False
               ) -> alt.ConcatChart:
    """The plane binned in SQL, on the same equal scales: colour is accuracy in the cell, opacity
    the count; each panel's box (selection `cell<i>`) fetches that model's samples under it."""
    x_title, y_title = titles(per_model)
    radius = max(float(cells["x1"].abs().max()), float(cells["y1"].max()))
    width = panel_width(2, legend=True)
    panels = []
    for name, model in panel_params("cell", order).items():
        mine = cells.filter(pl.col("model") == model)
        if mine.is_empty():
            continue
        panels.append(alt.Chart(mine).mark_rect().encode(
            x=alt.X("x0:Q", title=x_title, scale=alt.Scale(domain=[-radius, radius], nice=False)),
            x2="x1",
            y=alt.Y("y0:Q", title=y_title, scale=alt.Scale(domain=[0, radius], nice=False)),
            y2="y1",
            color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1])),
            opacity=alt.Opacity("n:Q", scale=alt.Scale(type="log", range=[0.3, 1]), legend=None),
            tooltip=["model", "n", alt.Tooltip("accuracy:Q", format=".1%")],
        ).add_params(alt.selection_interval(name=name, encodings=["x", "y"])).properties(
            width=width, height=width // 2, title=model))
    return alt.concat(*panels, columns=2)


def tab(model_id: dict[str, int], order: Sequence[str], condition_id: int,
        class_ids: list[int]) -> None:
    """The Geometry page's angle-length tab for the chosen models (`order`), condition and
    classes: points, or cells beyond MAX_POINTS, a box per panel, and the samples it picks."""
    ids = [model_id[m] for m in order]
    per_model = state.toggle(
        "Lengths relative to each model's median", key="per_model", default=False,
        help="rel. length = feature length / the model's median feature length in this "
             "selection, so a model whose features are short is not a blob beside one whose are "
             "long; off: raw lengths, which compare across models")
    size = query(queries.selection_size, ids, condition_id, class_ids)
    if size > MAX_POINTS:
        st.caption(f"{size:,} points: binned in SQL (colour: accuracy in the cell, opacity: how "
                   "many). Drag a box over a panel's cells to list that model's samples under it.")
        params = panel_params("cell", order)
        event = st.altair_chart(
            bins_chart(query(queries.angle_length_bins, ids, condition_id, class_ids, 60,
                             per_model), order, per_model),
            on_select="rerun", key="al_cells")
        model, box = panel_box(event, params, "alb")
        picked = []
        if box and "x0" in box and "y0" in box:
            inside = query(queries.angle_length_points, [model_id[model]] if model else ids,
                           condition_id, class_ids, (*box["x0"], *box["y0"]), PICK_LIMIT,
                           per_model)
            if inside.height == PICK_LIMIT:
                st.caption(f"The first {PICK_LIMIT:,} points under the box; drag a smaller one "
                           "for the rest.")
            picked = inside["sample_id"].unique(maintain_order=True).to_list()
        show_picked(picked, ids, condition_id, "alb", model)
        return
    points = query(queries.angle_length_points, ids, condition_id, class_ids, None, None,
                   per_model)
    if points.is_empty():
        empty("No sample in this selection has a defined angle.")
        return
    # The box that triggered this run is in the chart's state before it is drawn, so the chart
    # can mark its samples in every panel.
    model, picked = panel_selection(st.session_state.get("al_chart"), panel_params("pick", order),
                                    points, "al")
    st.altair_chart(points_chart(points, order, per_model, picked), on_select="rerun",
                    key="al_chart")
    show_picked(picked, ids, condition_id, "al", model)
