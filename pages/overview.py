"""Overview: every model's clean and corrupted accuracy, side by side."""

import altair as alt
import streamlit as st

from pages.shared import percent, query, require_store
from store import queries

st.title("Overview")
require_store()

summary = query(queries.store_summary)
st.caption(
    f"Data set **{summary.get('dataset', '?')}** · {summary['models']} models · "
    f"{summary['conditions']} conditions · {summary['samples']:,} test samples · "
    f"{summary['metric_rows']:,} metric rows · built {summary.get('created_at', '?')}"
)

models = query(queries.model_overview)
st.subheader("Models")
st.dataframe(
    models.drop("model_id", "params_total"),
    hide_index=True,
    column_config={
        "model": "Model",
        "arch": "Architecture",
        "method": "Method",
        "target_sparsity": percent("Target sparsity"),
        "sparsity": percent("Sparsity", "Measured: zero weights / conv and linear weights"),
        "params_nonzero": st.column_config.NumberColumn("Non-zero params", format="localized"),
        "reference": "Dense reference",
        "clean_accuracy": percent("Clean accuracy"),
        "mean_corruption_accuracy": percent(
            "Mean corruption accuracy", "Mean over the benchmark corruptions and severities stored"
        ),
    },
)

grid = query(queries.accuracy_grid)
if grid.is_empty():
    st.info("This store holds no metric rows yet, so there is no accuracy to draw.")
    st.stop()

model_order = models["model"].to_list()
st.subheader("Accuracy per model and condition")
condition_order = grid.sort("condition_id")["condition"].unique(maintain_order=True).to_list()
heatmap = (
    alt.Chart(grid)
    .mark_rect()
    .encode(
        x=alt.X("condition:N", sort=condition_order, title=None),
        y=alt.Y("model:N", sort=model_order, title=None),
        color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                        legend=alt.Legend(format="%")),
        tooltip=["model", "condition", "family", alt.Tooltip("accuracy:Q", format=".1%"), "n"],
    )
    .properties(height=alt.Step(34))  # one band per model, however many there are
)
st.altair_chart(heatmap, width="stretch")

st.subheader("Accuracy vs severity")
names = query(queries.corruptions)["corruption"].to_list()
choice = st.selectbox("Corruption", ["all corruptions (mean)", *names], key="severity_corruption")
by_severity = query(queries.accuracy_by_severity, None if choice.startswith("all ") else choice)
lines = (
    alt.Chart(by_severity)
    .mark_line(point=True)
    .encode(
        x=alt.X("severity:O", title="severity (0 = clean)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", sort=model_order),
        tooltip=["model", "severity", alt.Tooltip("accuracy:Q", format=".1%")],
    )
    .properties(height=320)
)
st.altair_chart(lines, width="stretch")
