"""The Margins view: each sample's feature-space margin (its signed distance to the nearest
decision boundary of the last layer, clean) against its input-space radius (the smallest
adversarial perturbation found), per model. Does a larger feature margin mean a larger radius,
and does pruning change that relation?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.attacks import condition_label
from app.charts import empty, heatmap, model_color, panel_width
from app.shared import query
from store import queries

EXTREMES = 5  # samples listed at each end of the disagreement between the two margins


def summary(model_ids: list[int]) -> None:
    table = query(queries.margin_radius_summary, model_ids)
    number = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, placeholder="–", column_config={
        "model": "Model", "samples": number("Samples", help="Right on clean, with a radius sought"),
        "found": number("Found", help="Of those, the ones the search flipped"),
        "median_margin": number("Median margin", format="%.3f",
                                help="Feature-space margin distance, clean"),
        "median_radius": number("Median radius", format="%.4f",
                                help="Input-space radius, in pixels of [0, 1]"),
        "spearman": number("Spearman ρ", format="%.2f",
                           help="Rank correlation of the two margins over the samples found"),
    })


def scatter(data: pl.DataFrame, order: Sequence[str], colours: Mapping[str, str],
            norm: str) -> alt.FacetChart:
    """A panel per model, each on its own scales: the ranks, not the units, are compared."""
    columns = min(len(order), 3)
    return alt.Chart(data).mark_circle(size=28, opacity=0.7).encode(
        x=alt.X("margin_distance:Q", title="feature margin (clean)"),
        y=alt.Y("radius:Q", title=f"input radius ({norm})"),
        color=model_color(colours, shown=order, legend=False),
        tooltip=["model", "sample_id", "label", alt.Tooltip("margin_distance:Q", format=".3f"),
                 alt.Tooltip("radius:Q", format=".4f")],
    # Narrower than panel_width's: each panel carries its own y axis.
    ).properties(width=panel_width(columns) - 40, height=200).facet(
        facet=alt.Facet("model:N", sort=list(order), title=None), columns=columns,
    ).resolve_scale(x="independent", y="independent")


def extremes(data: pl.DataFrame, order: Sequence[str]) -> pl.DataFrame:
    """Per model, the samples whose two margins disagree most: far from the boundary in feature
    space but close in the input (and the reverse), by the difference of their rank shares."""
    ranked = data.with_columns(
        (pl.col(c).rank().over("model") / pl.len().over("model")).alias(f"{c}_share")
        for c in ("margin_distance", "radius")
    ).with_columns((pl.col("margin_distance_share") - pl.col("radius_share")).alias("gap"))
    top = ranked.sort("gap", descending=True).group_by("model", maintain_order=True).head(EXTREMES)
    low = ranked.sort("gap").group_by("model", maintain_order=True).head(EXTREMES)
    return pl.concat([
        top.with_columns(pl.lit("large feature margin, small radius").alias("which")),
        low.with_columns(pl.lit("small feature margin, large radius").alias("which")),
    ]).with_columns((100 * pl.col("gap").abs()).alias("gap")).select(
        "model", "which", "sample_id", "label", "margin_distance", "radius", "gap").sort(
        pl.col("model").replace_strict(list(order), list(range(len(order)))), maintain_order=True)


def tab(model_ids: dict[str, int], order: Sequence[str], colours: Mapping[str, str]) -> None:
    data = query(queries.margin_radius, [model_ids[m] for m in order])
    if data.is_empty():
        empty("This store has no input-space radii. Add a `[radius]` table to the build's config "
              "(FAB or DeepFool on a number of samples; docs/attacks.md) and rebuild.")
        return
    method, norm = data["method"][0], data["norm"][0]
    st.caption(f"The input radius is the size ({norm}) of the smallest adversarial perturbation "
               f"{method.upper()} found for the sample: an upper bound on the true one, not a "
               "certificate. Only samples the model gets right clean, and for which the search "
               "flipped the prediction, are drawn. Each panel has its own scales: a feature "
               "margin is in its model's feature units (a model with longer features has larger "
               "margins), so compare the two margins' ranks within a model, not their medians "
               "across models.")
    summary([model_ids[m] for m in order])
    found = data.filter(pl.col("correct") & pl.col("radius").is_not_null()
                        & pl.col("margin_distance").is_finite())
    if found.is_empty():
        empty("No sample of the chosen models has a radius to draw.")
        return
    st.altair_chart(scatter(found, [m for m in order if m in set(found["model"])], colours, norm))
    st.markdown("**Where the two margins disagree most**", help="Per model, by the difference "
                "between the sample's rank share in feature margin and in radius.")
    st.caption("The gap is in points of rank share (a sample at the 90th percentile of feature "
               "margin and the 60th of radius: 30). Where ρ is near 1 the gaps are small and "
               "these lists show little more than noise; a large gap is the case worth opening.")
    st.dataframe(extremes(found, order), hide_index=True, placeholder="–", column_config={
        "model": "Model", "which": "Which end", "sample_id": "Sample", "label": "Label",
        "margin_distance": st.column_config.NumberColumn("Feature margin", format="%.3f"),
        "radius": st.column_config.NumberColumn("Radius", format="%.4f"),
        "gap": st.column_config.NumberColumn("Rank gap", format="%.0f",
                                             help="Difference of the two rank shares, in points"),
    })


def overlap(model_ids: dict[str, int], order: Sequence[str], conditions: pl.DataFrame) -> None:
    """Whether the samples an attack breaks are the ones a corruption breaks, for one model."""
    shifted = conditions.filter(pl.col("severity") > 0)
    attacked = shifted.filter(pl.col("family") == "adversarial")
    severities = sorted(shifted.filter(pl.col("family") != "adversarial")["severity"].unique())
    if attacked.is_empty() or not severities:
        missing = " and no ".join(what for what, none in (
            ("attack", attacked.is_empty()), ("corruption", not severities)) if none)
        empty(f"This store has no {missing} to compare: the overlap needs a build whose "
              "`[conditions]` holds both attacks and corruptions (docs/attacks.md).")
        return
    left, right = st.columns(2)
    with left:
        model = state.selectbox("Model", list(order), key="overlap_model")
    with right:
        options = ["every severity", *[str(s) for s in severities]]
        chosen = state.selectbox("Corruption severity", options, key="overlap_severity",
                                 default=options[-1])
    severity = None if chosen == "every severity" else int(chosen)
    cells = query(queries.broken_overlap, model_ids[model], severity).with_columns(
        pl.col("attack").map_elements(condition_label, return_dtype=pl.String))
    if cells.is_empty():
        empty("This store has no attack and corruption to compare.")
        return
    st.caption(f"Of the {cells['right_clean'][0]:,} samples {model} gets right clean: how much "
               "more often an attack and a corruption break the same ones than chance would "
               "(lift = both / (attacked x corrupted / right); 1 is chance)."
               + (" Pooled over severities, a sample counts as broken by a corruption at any "
                  "of them." if severity is None else "") + " Where an "
               "attack breaks almost every sample, the lift cannot rise far above 1 (its ceiling "
               "is right / attacked); a cell of few samples says little: the tooltip has the "
               "counts and the Jaccard index. A blank cell: one of the two breaks none of them, "
               "so there is no lift.")
    attacks, corruptions = cells["attack"].unique(maintain_order=True).to_list(), \
        cells["corruption"].unique(maintain_order=True).to_list()
    st.altair_chart(heatmap(
        cells.with_columns(pl.col("lift").fill_null(float("nan"))), "corruption", "attack",
        "lift", x_sort=corruptions, y_sort=attacks, fmt=".1f", scheme="orangered",
        title="lift", tooltip=["attacked", "corrupted", "both",
                               alt.Tooltip("jaccard:Q", format=".2f")],
    ).properties(width=alt.Step(34)))
