"""Geometry: how the last feature layer sits relative to the class directions, per model.

Everything here is drawn from stored columns: feature length, angles to the class directions,
margins, and the Gram of the class directions (for the exact class-pair plane).
"""

import altair as alt
import polars as pl
import streamlit as st

from app import angle_length, class_pair, paired, state
from app.charts import (
    empty,
    heatmap,
    histogram,
    model_color,
    panel_width,
    sample_table,
)
from app.pickers import pick_models
from app.selection import linked_box, linked_selection
from app.shared import catalog, flag_chance, in_percent, percent, query, require_store
from store import catalogue, queries

st.title("Geometry")
require_store()

store = catalog()
models, conditions, classes = store.models, store.conditions, store.classes
model_id, condition_id, class_id = store.model_id, store.condition_id, store.class_id
colours = store.colours

top = st.columns([3, 2, 3])
with top[0]:
    chosen = pick_models("Models", "models", default=list(model_id)[:3])
with top[1]:
    # A corruption at its strongest severity shows a difference at first sight; clean shows none.
    corrupted = conditions.filter(pl.col("severity") > 0)
    strongest = (corrupted.filter(pl.col("severity") == corrupted["severity"].max())["condition"][0]
                 if not corrupted.is_empty() else "clean")
    condition = state.selectbox("Condition", list(condition_id), key="condition",
                                default=strongest)
with top[2]:
    chosen_classes = state.multiselect("Classes", list(class_id), key="classes",
                                       default=list(class_id))
if not chosen or not chosen_classes:
    empty("Choose at least one model and one class to see their geometry.")
    st.stop()
ids = [model_id[m] for m in chosen]
cids = [class_id[c] for c in chosen_classes]
cond = condition_id[condition]
order = [m for m in model_id if m in chosen]
flag_chance(ids, condition)
PICK_LIMIT = 2_000  # points fetched under a box dragged over the binned plane


def show_picked(picked: list[int], model_ids: list[int], condition: int) -> None:
    """The samples picked in a chart, with thumbnails and every chosen model's prediction."""
    if picked:
        st.markdown(f"**{len(picked)} samples picked** (drag a box in any panel to pick others)")
        sample_table(query(queries.sample_cards, picked, model_ids, condition))
    else:
        st.caption("Drag a box in a panel to list those samples with their images.")


# Lazy: only the open tab runs and is sent (the others cost nothing), and the open tab is
# in the URL (`?view=...`), so a link opens it.
tabs = st.tabs(["Distributions", "Angle-length plane", "Clean → corrupted", "Class directions",
                "Class-pair plane"], key="view", bind="query-params")

if tabs[0].open:
    with tabs[0]:
        st.caption("A row of panels per metric and a panel per model: correct (dark, solid) and "
                   "wrong (light, dashed) samples apart, each as a share of its own group (the "
                   "counts are under each row); binned in SQL between the 0.5 % and 99.5 % "
                   "quantiles, with what lies beyond as triangles at the edges (hover for how far "
                   "it reaches).")
        # Small multiples: a row of panels per metric, one panel per model, correct and wrong
        # in two shades; the legend below, where it overlaps no axis.
        split = alt.Color("grp:N", title="prediction", sort=["correct", "wrong"],
                          scale=alt.Scale(domain=["correct", "wrong"], range=["#222222", "#999999"]),
                          legend=alt.Legend(orient="bottom", symbolOpacity=1, symbolStrokeWidth=3))
        for metric in catalogue.CORE:
            hist = query(queries.metric_histogram, metric, ids, cond, cids)
            st.markdown(f"**{catalogue.BY_NAME[metric].title}**")
            if hist.is_empty():
                empty(f"No finite {metric} in this selection.")
                continue
            hist = hist.with_columns(pl.when(pl.col("grp")).then(pl.lit("correct"))
                                     .otherwise(pl.lit("wrong")).alias("grp"))
            st.altair_chart(histogram(hist, title=catalogue.BY_NAME[metric].title, colours=colours,
                                      dash_title="prediction", color=split, facet=order,
                                      legend_right=False))
            counts = hist.group_by("model", "grp", maintain_order=True).agg(pl.col("n").sum())
            st.caption(" · ".join(
                f"{m}: {part.filter(pl.col('grp') == 'correct')['n'].sum():,} correct, "
                f"{part.filter(pl.col('grp') == 'wrong')['n'].sum():,} wrong"
                for (m,), part in counts.group_by("model", maintain_order=True)))

if tabs[1].open:
    with tabs[1]:
        st.caption("Polar view, equal scales: the angle to the true class direction is the polar "
                   "angle, the feature length the radius. Far out and near 0° is confident and right; "
                   "the dashed ray is each model's median angle to the nearest other class direction, "
                   "where its rivals typically sit.")
        per_model = state.toggle(
            "Each model on its own scale", key="per_model", default=False,
            help="Lengths in units of each model's median feature length in this selection, so "
                 "a model whose features are short is not a blob beside one whose are long; off: "
                 "one scale for every panel, so lengths compare across models")
        size = query(queries.selection_size, ids, cond, cids)
        if size > angle_length.MAX_POINTS:
            st.caption(f"{size:,} points: binned in SQL (colour: accuracy in the cell, opacity: how "
                       "many). Drag a box over cells to list the samples under it.")
            event = st.altair_chart(
                angle_length.bins_chart(query(queries.angle_length_bins, ids, cond, cids, 60,
                                              per_model), order, per_model),
                on_select="rerun", key="al_cells")
            box = linked_box(event, "cell_pick", "alb")
            if box and "x0" in box and "y0" in box:
                inside = query(queries.angle_length_points, ids, cond, cids,
                               (*box["x0"], *box["y0"]), PICK_LIMIT, per_model)
                if inside.height == PICK_LIMIT:
                    st.caption(f"The first {PICK_LIMIT:,} points under the box; drag a smaller one "
                               "for the rest.")
                show_picked(inside["sample_id"].unique(maintain_order=True).to_list(), ids, cond)
            else:
                show_picked([], ids, cond)
        else:
            points = query(queries.angle_length_points, ids, cond, cids, None, None,
                           per_model)
            if points.is_empty():
                empty("No sample in this selection has a defined angle.")
            else:
                # The box that triggered this run is in the chart's state before it is drawn,
                # so the chart can mark its samples in every panel.
                picked = linked_selection(st.session_state.get("al_chart"), "pick", points, "al")
                st.altair_chart(angle_length.points_chart(points, order, per_model, picked),
                                on_select="rerun", key="al_chart")
                show_picked(picked, ids, cond)

if tabs[2].open:
    with tabs[2]:
        if conditions.filter(pl.col("condition") == condition)["severity"][0] == 0:
            empty("Choose a corrupted condition above to see how it moves the same samples from "
                  "where they sit clean.")
        else:
            summary = query(queries.shift_summary, ids, cond, cids)
            st.dataframe(in_percent(summary, "clean_accuracy", "accuracy"), hide_index=True, column_config={
                "clean_accuracy": percent("clean accuracy"),
                "accuracy": percent(f"accuracy ({condition})"),
                "d_length": st.column_config.NumberColumn("Δ length", format="%.3f"),
                "length_ratio": st.column_config.NumberColumn("length ratio", format="%.3f"),
                "d_angle_true": st.column_config.NumberColumn("Δ angle_true (°)", format="%.2f"),
                "d_margin_distance": st.column_config.NumberColumn("Δ margin distance", format="%.3f"),
                "broken": st.column_config.NumberColumn("right → wrong"),
                "fixed": st.column_config.NumberColumn("wrong → right"),
            })
            metric = state.selectbox("Metric", list(catalogue.PLOTTABLE), key="shift",
                                     default=catalogue.DEFAULT_METRIC)
            # Overlaid on shared bins, a robust and a fragile model side by side on the same samples.
            both = query(queries.overlay_histogram, metric, ids, cond, cids)
            if not both.is_empty():
                st.markdown(f"**{metric}, clean and under {condition}**")
                two = alt.Color("grp:N", title="condition", sort=["clean", condition],
                                scale=alt.Scale(domain=["clean", condition],
                                                range=["#bbbbbb", "#555555"]))
                st.altair_chart(histogram(both, title=metric, colours=colours, dash=None,
                                          color=two, facet=order))
            st.markdown(f"**Paired shifts: {metric} under {condition} minus clean, sample by sample**")
            hist = query(queries.shift_histogram, metric, ids, cond, cids)
            if hist.is_empty():
                empty("No finite shift in this selection.")
            else:
                hist = hist.with_columns(pl.when(pl.col("grp")).then(pl.lit("right when clean"))
                                         .otherwise(pl.lit("wrong when clean")).alias("grp"))
                st.altair_chart(histogram(hist, title=f"{metric} under {condition} minus clean",
                                          colours=colours,
                                          dash_title="clean prediction"), width="stretch")
            paired.model_vs_model(metric, order, model_id, condition, cids)

if tabs[3].open:
    with tabs[3]:
        directions = query(queries.class_directions, ids)
        pairs = query(queries.class_pair_angles, ids).filter(pl.col("class_a") != pl.col("class_b"))
        names = classes["class"].to_list()
        st.caption("Angles between class directions W_a, W_b (degrees): pruning that squeezes "
                   "classes together leaves less angle for a corruption to cross.")
        side = panel_width(3, legend=True)
        st.altair_chart(
            heatmap(pairs, "class_b_name", "class_a_name", "angle", x_sort=names, y_sort=names,
                    fmt=".0f", scheme="blues")
            .properties(width=side, height=side)
            .facet(facet=alt.Facet("model:N", sort=order), columns=3)
        )
        st.caption("Length and bias of each class direction, per model.")
        # Two charts rather than a row facet: a faceted chart cannot take the column's width, and
        # its bars of many models would run off the screen.
        for field, title in (("weight_norm", "length ‖W_c‖"), ("bias", "bias b_c")):
            st.altair_chart(
                alt.Chart(directions).mark_bar().encode(
                    x=alt.X("class:N", sort=names, title="class", axis=alt.Axis(labelAngle=0)),
                    xOffset=alt.XOffset("model:N", sort=order),
                    y=alt.Y(f"{field}:Q", title=title),
                    color=model_color(colours, shown=order, orient="bottom"),
                    tooltip=["model", "class", alt.Tooltip(f"{field}:Q", format=".4f")],
                ).properties(height=150),
                width="stretch",
            )

if tabs[4].open:
    with tabs[4]:
        a_col, b_col = st.columns(2)
        names = classes["class"].to_list()
        with a_col:
            class_a = state.selectbox("Class a", names, key="a", default=names[0])
        with b_col:
            class_b = state.selectbox("Class b", names, key="b", default=names[min(1, len(names) - 1)])
        if class_a == class_b:
            empty("Choose two different classes: their directions span the plane.")
        else:
            a, b = class_id[class_a], class_id[class_b]
            bounds = query(queries.class_pair_boundary, ids, a, b)
            st.caption(f"Samples labelled {class_a} or {class_b}, placed exactly in the plane of "
                       f"W_{class_a} (x axis) and W_{class_b}; the line is the boundary z_{class_a} = "
                       f"z_{class_b}, exact in this plane since W_{class_a} − W_{class_b} lies in it. "
                       "Other classes may still win off the plane.")
            flat = bounds.filter(~(pl.col("a_x").fill_null(0).abs() > 1e-12)
                                 | ~(pl.col("b_y").fill_null(0).abs() > 1e-12))["model"].to_list()
            if flat:  # heavy pruning can zero a class's row, or leave two rows parallel
                st.caption(f"No plane in {', '.join(flat)}: W_{class_a} and W_{class_b} are "
                           "parallel there, or one of them is zero (pruned away), so its samples "
                           "are not drawn.")
            size = query(queries.selection_size, ids, cond, [a, b])
            if size > angle_length.MAX_POINTS:
                st.caption(f"{size:,} points: binned in SQL (colour: the share labelled "
                           f"{class_a}, opacity: how many). Drag a box over cells to list the "
                           "samples under it.")
                cells = query(queries.class_pair_bins, ids, cond, a, b)
                event = st.altair_chart(class_pair.bins_chart(cells, bounds, class_a, class_b, order),
                                        on_select="rerun", key="pair_cells")
                box = linked_box(event, "pair_cell_pick", "pairb")
                inside = (query(queries.class_pair_plane, ids, cond, a, b,
                                (*box["x0"], *box["y0"]), PICK_LIMIT)
                          if box and "x0" in box and "y0" in box else None)
                show_picked([] if inside is None else
                            inside["sample_id"].unique(maintain_order=True).to_list(), ids, cond)
            else:
                plane = query(queries.class_pair_plane, ids, cond, a, b).drop_nulls(["x", "y"])
                if plane.is_empty():
                    empty("No sample of these two classes in this selection.")
                else:
                    picked = linked_selection(st.session_state.get("pair_chart"), "pair_pick",
                                              plane, "pair")
                    st.altair_chart(
                        class_pair.points_chart(plane, bounds, class_a, class_b, order, picked),
                        on_select="rerun", key="pair_chart")
                    show_picked(picked, ids, cond)
