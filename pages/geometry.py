"""Geometry: how the last feature layer sits relative to the class directions, per model.

Everything here is drawn from stored columns: feature length, angles to the class directions,
margins, and the Gram of the class directions (for the exact class-pair plane).
"""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import MAX_MARKS, empty, heatmap, histogram, linked_selection, sample_table
from app.shared import catalog, query, require_store
from store import catalogue, queries

st.title("Geometry")
require_store()

store = catalog()
models, conditions, classes = store.models, store.conditions, store.classes
model_id, condition_id, class_id = store.model_id, store.condition_id, store.class_id

top = st.columns([3, 2, 3])
with top[0]:
    chosen = state.multiselect("Models", list(model_id), key="models",
                               default=list(model_id)[:3])
with top[1]:
    condition = state.selectbox("Condition", list(condition_id), key="condition")
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


def show_picked(picked: list[int], model_ids: list[int], condition: int) -> None:
    """The samples picked in a chart, with thumbnails and every chosen model's prediction."""
    if picked:
        st.markdown(f"**{len(picked)} samples picked** (drag a box in any panel to pick others)")
        sample_table(query(queries.sample_cards, picked, model_ids, condition))
    else:
        st.caption("Drag a box in a panel to list those samples with their images.")


tabs = st.tabs(["Distributions", "Angle-length plane", "Clean → corrupted", "Class directions",
                "Class-pair plane"])

with tabs[0]:
    st.caption("Per model, correct (solid) and wrong (dashed) samples apart, as a share of each "
               "group; binned in SQL between the 0.5 % and 99.5 % quantiles.")
    cells = st.columns(2)
    for i, metric in enumerate(catalogue.CORE):
        hist = query(queries.metric_histogram, metric, ids, cond, cids)
        with cells[i % 2]:
            if hist.is_empty():
                empty(f"No finite {metric} in this selection.")
                continue
            hist = hist.with_columns(pl.when(pl.col("grp")).then(pl.lit("correct"))
                                     .otherwise(pl.lit("wrong")).alias("grp"))
            st.altair_chart(histogram(hist, title=catalogue.BY_NAME[metric].title,
                                      dash_title="prediction"), width="stretch")

with tabs[1]:
    st.caption("Polar view: the angle to the true class direction is the polar angle, the feature "
               "length the radius. Far out and near 0° is confident and right; past the ring of "
               "other classes' angles it goes wrong.")
    size = query(queries.selection_size, ids, cond, cids)
    if size > MAX_MARKS:
        cells = query(queries.angle_length_bins, ids, cond, cids)
        st.caption(f"{size:,} points: binned in SQL (colour: accuracy in the cell; pick samples on "
                   "a smaller selection).")
        chart = alt.Chart(cells).mark_rect().encode(
            x=alt.X("x0:Q", title="length · cos(angle_true)"), x2="x1",
            y=alt.Y("y0:Q", title="length · sin(angle_true)"), y2="y1",
            color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1])),
            opacity=alt.Opacity("n:Q", scale=alt.Scale(type="log", range=[0.3, 1]), legend=None),
            tooltip=["model", "n", alt.Tooltip("accuracy:Q", format=".1%")],
        ).properties(width=300, height=170).facet(facet=alt.Facet("model:N", sort=order), columns=3)
        st.altair_chart(chart)
    else:
        points = query(queries.angle_length_points, ids, cond, cids)
        if points.is_empty():
            empty("No sample in this selection has a defined angle.")
        else:
            brush = alt.selection_interval(name="pick", encodings=["x", "y"])
            chart = alt.Chart(points).mark_circle(size=18, opacity=0.7).encode(
                x=alt.X("x:Q", title="length · cos(angle_true)"),
                y=alt.Y("y:Q", title="length · sin(angle_true)"),
                color=alt.condition(brush, alt.Color("correct:N", scale=alt.Scale(
                    domain=[True, False], range=["#1a9850", "#d73027"])), alt.value("lightgray")),
                tooltip=["sample_id", "label", "pred", alt.Tooltip("length:Q", format=".3f"),
                         alt.Tooltip("angle_true:Q", format=".1f"),
                         alt.Tooltip("margin_distance:Q", format=".3f")],
            ).add_params(brush).properties(width=300, height=170).facet(
                facet=alt.Facet("model:N", sort=order), columns=3)
            event = st.altair_chart(chart, on_select="rerun", key="al_chart")
            show_picked(linked_selection(event, "pick", points, "al"), ids, cond)

with tabs[2]:
    if conditions.filter(pl.col("condition") == condition)["severity"][0] == 0:
        empty("Choose a corrupted condition above to see how it moves the same samples from "
              "where they sit clean.")
    else:
        summary = query(queries.shift_summary, ids, cond, cids)
        st.dataframe(summary, hide_index=True, column_config={
            "clean_accuracy": st.column_config.NumberColumn("clean accuracy", format="percent"),
            "accuracy": st.column_config.NumberColumn(f"accuracy ({condition})", format="percent"),
            "d_length": st.column_config.NumberColumn("Δ length", format="%.3f"),
            "length_ratio": st.column_config.NumberColumn("length ratio", format="%.3f"),
            "d_angle_true": st.column_config.NumberColumn("Δ angle_true (°)", format="%.2f"),
            "d_margin_distance": st.column_config.NumberColumn("Δ margin distance", format="%.3f"),
            "broken": st.column_config.NumberColumn("right → wrong"),
            "fixed": st.column_config.NumberColumn("wrong → right"),
        })
        metric = state.selectbox("Shift of", list(catalogue.PLOTTABLE), key="shift",
                                 default=catalogue.DEFAULT_METRIC)
        hist = query(queries.shift_histogram, metric, ids, cond, cids)
        if hist.is_empty():
            empty("No finite shift in this selection.")
        else:
            hist = hist.with_columns(pl.when(pl.col("grp")).then(pl.lit("right when clean"))
                                     .otherwise(pl.lit("wrong when clean")).alias("grp"))
            st.altair_chart(histogram(hist, title=f"{metric} under {condition} minus clean",
                                      dash_title="clean prediction"), width="stretch")

with tabs[3]:
    directions = query(queries.class_directions, ids)
    pairs = query(queries.class_pair_angles, ids).filter(pl.col("class_a") != pl.col("class_b"))
    names = classes["class"].to_list()
    left, right = st.columns([3, 2])
    with left:
        st.caption("Angles between class directions W_a, W_b (degrees): pruning that squeezes "
                   "classes together leaves less angle for a corruption to cross.")
        st.altair_chart(
            heatmap(pairs, "class_b_name", "class_a_name", "angle", x_sort=names, y_sort=names,
                    fmt=".0f", scheme="blues")
            .properties(width=240, height=240)
            .facet(facet=alt.Facet("model:N", sort=order), columns=3)
        )
    with right:
        long = directions.unpivot(index=["model", "class"], on=["weight_norm", "bias"])
        st.altair_chart(
            alt.Chart(long).mark_bar().encode(
                x=alt.X("class:N", sort=names, title=None),
                xOffset=alt.XOffset("model:N", sort=order),
                y=alt.Y("value:Q", title=None),
                color=alt.Color("model:N", sort=order),
                row=alt.Row("variable:N", title=None),
                tooltip=["model", "class", "variable", alt.Tooltip("value:Q", format=".4f")],
            ).properties(height=150).resolve_scale(y="independent"),
            width="stretch",
        )

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
        plane = query(queries.class_pair_plane, ids, cond, a, b)
        bounds = query(queries.class_pair_boundary, ids, a, b)
        st.caption(f"Samples labelled {class_a} or {class_b}, placed exactly in the plane of "
                   f"W_{class_a} (x axis) and W_{class_b}; the line is the boundary z_{class_a} = "
                   f"z_{class_b}, exact in this plane since W_{class_a} − W_{class_b} lies in it. "
                   "Other classes may still win off the plane.")
        if plane.is_empty():
            empty("No sample of these two classes in this selection.")
        elif len(plane) > MAX_MARKS:
            empty(f"{len(plane):,} points is more than a browser draws smoothly: choose fewer models.")
        else:
            lo, hi = plane["x"].min(), plane["x"].max()
            pad = 0.05 * (hi - lo or 1.0)
            ylo, yhi = plane["y"].min(), plane["y"].max()
            lines = []
            for row in bounds.iter_rows(named=True):
                xc, yc, c = row["x_coef"], row["y_coef"], row["bias_diff"]
                if yc and abs(yc) > 1e-12:  # y = -(xc x + c) / yc
                    for x in (lo - pad, hi + pad):
                        lines.append({"model": row["model"], "x": x, "y": -(xc * x + c) / yc,
                                      "end": x == lo - pad})
                elif xc:
                    for y in (ylo, yhi):
                        lines.append({"model": row["model"], "x": -c / xc, "y": y, "end": y == ylo})
            # One data set for both layers: a faceted layer chart needs its data at the top.
            data = pl.concat([plane.with_columns(pl.lit("sample").alias("kind")),
                              pl.DataFrame(lines, schema={"model": pl.String, "x": pl.Float64,
                                                          "y": pl.Float64, "end": pl.Boolean})
                              .drop("end").with_columns(pl.lit("boundary").alias("kind"))],
                             how="diagonal")
            brush = alt.selection_interval(name="pair_pick", encodings=["x", "y"])
            x_scale = alt.Scale(domain=[lo - pad, hi + pad])
            y_scale = alt.Scale(domain=[ylo - pad, yhi + pad])
            base = alt.Chart(data)
            dots = base.transform_filter("datum.kind == 'sample'").mark_point(
                size=22, filled=True, opacity=0.75).encode(
                x=alt.X("x:Q", title=f"f · u1 (along W_{class_a})", scale=x_scale),
                y=alt.Y("y:Q", title=f"f · u2 (towards W_{class_b})", scale=y_scale),
                color=alt.condition(brush, alt.Color("label:N"), alt.value("lightgray")),
                shape=alt.Shape("correct:N", scale=alt.Scale(domain=[True, False],
                                                               range=["circle", "cross"])),
                tooltip=["sample_id", "label", "pred", "correct",
                         alt.Tooltip("margin_distance:Q", format=".3f")],
            ).add_params(brush)
            boundary = base.transform_filter("datum.kind == 'boundary'").mark_line(
                color="black", strokeDash=[6, 3], clip=True).encode(x="x:Q", y="y:Q")
            chart = alt.layer(dots, boundary).properties(width=300, height=260).facet(
                facet=alt.Facet("model:N", sort=order), columns=3)
            event = st.altair_chart(chart, on_select="rerun", key="pair_chart")
            show_picked(linked_selection(event, "pair_pick", plane, "pair"), ids, cond)
