"""Similarity: which pruning methods behave alike, and which corruptions tell the same story."""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.attacks import condition_label
from app.charts import dendrogram, empty, heatmap, heatmap_step, symmetric_domain
from app.pickers import pick_models
from app.shared import catalog, flag_chance, flag_own_inputs, query, require_store
from store import analysis, catalogue, queries

st.title("Similarity")
require_store()
state.link_keys("compare", *state.models_keys("models"), "condition", "shift", "severity",
                "over")

store = catalog()
conditions, model_id, condition_id = store.conditions, store.model_id, store.condition_id

MODEL_MEASURES = {
    "agreement": ("Prediction agreement", "share of samples both models give the same class"),
    "error_jaccard": ("Error overlap", "Jaccard index of the two sets of misclassified samples"),
    "margin_correlation": ("Margin correlation",
                           "Pearson correlation of per-sample margin distance"),
    "linear_cka": ("Linear CKA", "similarity of the penultimate features (Kornblith et al. 2019), "
                                 "computed at build time"),
}

# Lazy tabs (only the open one runs and is drawn; `?compare=` in the URL).
models_tab, corruptions_tab = state.tabs(["Models × models", "Corruptions × corruptions"],
                                         key="compare")
if models_tab.open:
    with models_tab:
        left, right = st.columns([3, 2])
        with left:
            chosen = pick_models("Models", "models", default=list(model_id))
        # Beside single conditions: every corrupted condition pooled, for a verdict that does not hang
        # on one corruption.
        POOLED = "all corrupted conditions"
        # Attacks left out: a white-box attack gives each model inputs of its own.
        corrupted = [condition_id[c] for c in conditions.filter(
            (pl.col("severity") > 0) & (pl.col("family") != "adversarial"))["condition"]]
        with right:
            condition = state.selectbox("Condition", [*condition_id, *([POOLED] if corrupted else [])],
                                        key="condition", format_func=condition_label)
        if len(chosen) < 2:
            empty("Choose at least two models to compare them.")
        else:
            scope = corrupted if condition == POOLED else condition_id[condition]
            if condition != POOLED:
                flag_chance([model_id[m] for m in chosen], condition)
                flag_own_inputs(condition)
            pairs = query(queries.model_similarity, scope, [model_id[m] for m in chosen])
            order = [m for m in model_id if m in chosen]
            cells = st.columns(2)
            for i, (column, (title, help_text)) in enumerate(MODEL_MEASURES.items()):
                with cells[i % 2]:
                    st.markdown(f"**{title}**", help=help_text)
                    values = pairs.drop_nulls(column)
                    if values.is_empty():
                        empty(f"{title} is undefined here (for error overlap: no model errs).")
                        continue
                    st.altair_chart(
                        heatmap(values, "model_b", "model_a", column, x_sort=order, y_sort=order,
                                domain=(min(0.0, values[column].min()), 1.0), fmt=".2f", scheme="viridis"),
                        width="stretch",
                    )

if corruptions_tab.open:
    with corruptions_tab:
        st.caption("Each corruption moves every sample's geometry by some amount against clean; two "
                   "corruptions that move the same samples the same way are redundant for judging a model. "
                   "Correlation of those per-sample shifts, pooled over the chosen models, ordered by "
                   "average-linkage clustering (the tree on the right: corruptions that join near 0 "
                   "are redundant).")
        severities = sorted(s for s in conditions["severity"].unique().to_list() if s > 0)
        if not severities:
            empty("This store holds only the clean condition: there is no corruption to compare.")
            st.stop()
        cols = st.columns(3)
        with cols[0]:
            metric = state.selectbox("Shift of", list(catalogue.PLOTTABLE), key="shift",
                                     default=catalogue.DEFAULT_METRIC)
        with cols[1]:
            level = state.severity("Severity", severities, key="severity")
        with cols[2]:
            # Every model by default: the store keeps each model's moments, so pooling costs nothing.
            pooled = state.multiselect("Over models", list(model_id), key="over",
                                       default=list(model_id))
        if not pooled:
            empty("Choose at least one model whose samples the shifts are measured on.")
            st.stop()
        corr = query(queries.corruption_correlation, metric, [model_id[m] for m in pooled], level)
        if corr.is_empty() or corr["corruption_a"].n_unique() < 2:
            empty("At least two corruptions with finite shifts are needed for a correlation.")
            st.stop()
        order = corr.sort("order_a")["corruption_a"].unique(maintain_order=True).to_list()
        # Centred on 0 and as wide as the strongest correlation between two different corruptions, so
        # a table of positive correlations still spreads over the colours; the tree beside it shows at
        # which distance (1 - r) the corruptions join.
        off_diagonal = corr.filter(pl.col("corruption_a") != pl.col("corruption_b"))["r"]
        grid = heatmap(corr, "corruption_b", "corruption_a", "r", x_sort=order, y_sort=order,
                       domain=symmetric_domain(off_diagonal), fmt=".2f", scheme="redblue",
                       diverging=True).properties(width=alt.Step(30))
        tree = dendrogram(analysis.correlation_dendrogram(corr), len(order),
                          step=heatmap_step(len(order) ** 2), width=80)
        # The legend below, so the tree touches the rows it joins (and the pair fits 1,280 px).
        st.altair_chart(alt.hconcat(grid, tree, spacing=4).configure_legend(orient="bottom"))
        top = (corr.filter(pl.col("order_a") < pl.col("order_b")).sort("r", descending=True).head(5))
        lines = [f"- **{row['corruption_a']}** and **{row['corruption_b']}** move samples alike "
                 f"(r = {row['r']:.2f})" for row in top.iter_rows(named=True) if row["r"] > 0]
        if lines:
            st.markdown("Most redundant pairs:\n" + "\n".join(lines))
        else:
            st.markdown("No two corruptions shift samples in the same direction here.")
