"""Geometry: how the last feature layer sits relative to the class directions, per model.

Everything here is drawn from stored columns: feature length, angles to the class directions,
margins, and the Gram of the class directions (for the exact class-pair plane).
"""

import altair as alt
import polars as pl
import streamlit as st

from app import angle_length, class_pair, paired, state
from app.attacks import condition_label
from app.charts import (
    empty,
    heatmap,
    histogram,
    model_color,
    panel_width,
)
from app.pickers import pick_models
from app.shared import catalog, flag_chance, in_percent, percent, query, require_store
from app.uncertainty import shift_intervals
from store import catalogue, queries

st.title("Geometry")
require_store()
state.link_keys("view", *state.models_keys("models"), "condition", "classes", "shift", "a", "b",
                "per_model", "vs_a", "vs_b", *state.box_keys("al", "alb", "pair", "pairb"))

store = catalog()
models, conditions, classes = store.models, store.conditions, store.classes
model_id, condition_id, class_id = store.model_id, store.condition_id, store.class_id
colours = store.colours

top = st.columns([3, 2, 3])
with top[0]:
    chosen = pick_models("Models", "models", default=list(model_id)[:3])
with top[1]:
    # A corruption at its strongest severity shows a difference at first sight; clean shows none.
    # On a store of attacks alone, the first attack at its smallest budget: a larger one leaves
    # no sample right to compare with the wrong ones.
    shifted = conditions.filter(pl.col("severity") > 0)
    corrupted = shifted.filter(pl.col("family") != "adversarial")
    strongest = (corrupted.filter(pl.col("severity") == corrupted["severity"].max())["condition"][0]
                 if not corrupted.is_empty() else
                 shifted["condition"][0] if not shifted.is_empty() else "clean")
    condition = state.selectbox("Condition", list(condition_id), key="condition",
                                default=strongest, format_func=condition_label)
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
# Lazy: only the open tab runs and is sent (the others cost nothing), and the open tab is
# in the URL (`?view=...`), so a link opens it.
tabs = state.tabs(["Distributions", "Angle-length plane", "Clean → corrupted", "Class directions",
                   "Class-pair plane"])

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
        angle_length.tab(model_id, order, cond, cids)

if tabs[2].open:
    with tabs[2]:
        if conditions.filter(pl.col("condition") == condition)["severity"][0] == 0:
            empty("Choose a corrupted condition above to see how it moves the same samples from "
                  "where they sit clean.")
        else:
            summary = query(queries.shift_summary, ids, cond, cids)
            # Short headers, the rest in the help: nine columns fit a laptop's column.
            number = st.column_config.NumberColumn
            st.dataframe(in_percent(summary, "clean_accuracy", "accuracy"), hide_index=True, column_config={
                "model": "Model", "samples": "Samples",
                "clean_accuracy": percent("Clean", "Accuracy on clean data"),
                "accuracy": percent("Corrupted", f"Accuracy under {condition}"),
                "d_length": number("Δ length", format="%.3f",
                                   help="Mean feature length under the condition minus clean"),
                "length_ratio": number("Length ×", format="%.3f",
                                       help="Mean feature length under the condition / clean"),
                "d_angle_true": number("Δ angle", format="%.2f°",
                                       help="Mean angle to the true class direction, minus clean"),
                "d_margin_distance": number("Δ margin", format="%.3f",
                                            help="Mean margin distance minus clean"),
                "broken": number("Broken", help="Right on clean, wrong under the condition"),
                "fixed": number("Fixed", help="Wrong on clean, right under the condition"),
            }, column_order=["model", "samples", "clean_accuracy", "accuracy", "d_length",
                             "length_ratio", "d_angle_true", "d_margin_distance", "broken",
                             "fixed"], placeholder="–")
            st.caption("Paired on the same samples, each mean shift's 95 % interval (Student's t "
                       "over the per-sample shifts; docs/statistics.md):")
            st.dataframe(shift_intervals(summary), hide_index=True, placeholder="–",
                         column_config={"model": "Model", "d_length": "Δ length",
                                        "d_angle_true": "Δ angle (°)",
                                        "d_margin_distance": "Δ margin"})
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
                # Tall enough for its two legends (the models', then the dashes'): Streamlit
                # cuts what runs below the chart's height.
                st.altair_chart(histogram(hist, title=f"{metric} under {condition} minus clean",
                                          colours=colours, dash_title="clean prediction")
                                .properties(width=panel_width(1, legend=True),
                                            height=max(220, 22 * (len(order) + 5))))
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
        # A fixed panel width: without one, the bars of many models set the width and run off
        # the screen; stretched to the column, the charts lost their height to the legend.
        long = directions.unpivot(index=["model", "class"], on=["weight_norm", "bias"])
        st.altair_chart(
            alt.Chart(long).mark_bar().encode(
                x=alt.X("class:N", sort=names, title="class", axis=alt.Axis(labelAngle=0)),
                xOffset=alt.XOffset("model:N", sort=order),
                y=alt.Y("value:Q", title=None),
                color=model_color(colours, shown=order, orient="bottom"),
                tooltip=["model", "class", "variable", alt.Tooltip("value:Q", format=".4f")],
            ).properties(width=panel_width(1) - 40, height=150)
            .facet(row=alt.Row("variable:N", title=None)).resolve_scale(y="independent"))

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
            class_pair.tab(model_id, order, cond, class_id, class_a, class_b)
