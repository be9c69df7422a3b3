"""Overview: every model's clean and corrupted accuracy, mCE against its dense reference, and
where robustness goes as sparsity grows."""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.attacks import name_budgets
from app.charts import heatmap, model_color, panel_width, spread
from app.measures import MODEL_COLUMNS, relative_mce_three_ways, robustness_precision
from app.pickers import average_toggle, group_colours, groups
from app.shared import catalog, in_percent, query, require_store
from store import queries, statistics

st.title("Overview")
require_store()
state.link_keys("severity", "section", "corruption", "avg", "ratios_model")

summary = query(queries.store_summary)
st.caption(
    f"Data set **{summary.get('dataset', '?')}** · {summary['models']} models · "
    f"{summary['conditions']} conditions · {summary['samples']:,} test samples · "
    f"{summary['metric_rows']:,} metric rows · built {summary.get('created_at', '?')}"
)

models = query(queries.model_overview).with_columns(pl.col("reference").fill_null("—"))
colours = catalog().colours
# A sweep's seeds average into one row and one line per recipe and sparsity, with a band.
averaged = average_toggle()
if averaged:
    colours = group_colours()


def by_group(data: pl.DataFrame, *values: str) -> pl.DataFrame:
    """`data` per seed group when the seeds are averaged, as it is otherwise."""
    return queries.average_seeds(data, groups(), list(values)) if averaged else data


RATIOS = ("mce", "relative_mce", "stable_relative_mce", "pooled_relative_mce")
# The adversarial family, where the store has attacks (the Attacks page has them per budget).
ATTACKS = ("mean_attack_accuracy", "reference_attack_accuracy", "attack_change")
if models["mean_attack_accuracy"].is_null().all():
    models = models.drop(*ATTACKS)
    ATTACKS = ()
attacked = not query(queries.attack_settings).is_empty()
# Without a benchmark corruption (a store of attacks alone) the corruption measures are undefined:
# no columns of dashes, no panels about them.
benchmarked = not models["mean_corruption_accuracy"].is_null().all()
st.subheader("Models")
# A collapsed model loses little to corruptions because it has little to lose: its (relative) mCE
# would rank it among the most robust, so it gets none unless asked.
near = query(queries.near_chance_models)["model"].to_list()
if near:
    keep = st.toggle("Give near-chance models an mCE", value=False, key="near_mce")
    st.warning(f"Near chance on clean data (below {queries.NEAR_CHANCE:g} × chance): "
               f"**{', '.join(near)}**. " + ("Their mCE is shown but says little." if keep else
                                            "Their mCE is left out: it would look best."))
    if not keep:
        models = models.with_columns(
            pl.when(pl.col("model").is_in(near)).then(None).otherwise(pl.col(c)).alias(c)
            for c in RATIOS)
# One architecture is the common case: then it goes in the caption, not in every row.
archs = models["arch"].unique().to_list()
if len(archs) == 1:
    st.caption(f"Architecture: **{archs[0]}** for every model.")
if averaged:  # the reference differs by seed (each has its own dense model)
    models = by_group(models.drop("model_id", "reference", "params_total", "arch",
                                  "unstable_corruptions"), "sparsity",
                      "params_nonzero", "clean_accuracy", "mean_corruption_accuracy",
                      *RATIOS, *ATTACKS).select(
        "model", "method", "seeds", "sparsity", "params_nonzero", "clean_accuracy",
        "mean_corruption_accuracy", "mean_corruption_accuracy_low",
        "mean_corruption_accuracy_high", *RATIOS, *ATTACKS).with_columns(
        pl.col("params_nonzero").round(0))
three_ways = models.select("model", *RATIOS[1:],
                           *(["unstable_corruptions"] if not averaged else []))
st.dataframe(
    in_percent(models, "sparsity", "clean_accuracy", "mean_corruption_accuracy",
               *(["mean_corruption_accuracy_low", "mean_corruption_accuracy_high"] if averaged
                 else []))
    .drop(*(c for c in ("model_id", "params_total", "target_sparsity", *RATIOS[2:],
                        "unstable_corruptions") if c in models.columns), *ATTACKS,
          *(["arch"] if len(archs) == 1 and not averaged else []),
          *([] if benchmarked else ["mean_corruption_accuracy", *RATIOS[:2]])),
    hide_index=True,
    column_config=MODEL_COLUMNS,
    placeholder="–",
)
intervals = query(queries.robustness_intervals)
if not benchmarked:
    st.caption("No benchmark corruption in this store: mean corruption accuracy and (relative) "
               "mCE are undefined." + (" Its attacks follow." if ATTACKS else ""))
elif not averaged:  # a seed group's figures have the seeds' spread above instead
    robustness_precision(intervals, models)
else:
    st.caption("Seeds averaged: the lowest and highest seed give the spread. Each model's own "
               "95 % intervals over the test samples show with the seeds apart (turn off "
               "averaging).")
# Relative mCE can call a model that errs more than its reference robust, even below 0 (unstable
# ratios, a poor clean accuracy): said beside the table, not only in the expander, where the
# intervals tell the two apart (each model's own; a seed group's by its mean).
inverted = models.filter((pl.col("relative_mce") < 100) & (pl.col("mce") > 100))
if not averaged and not intervals.is_empty():
    inverted = inverted.join(intervals.select("model", "mce_low", "relative_mce_high"),
                             on="model", how="left").filter(
        (pl.col("mce_low") > 100) & (pl.col("relative_mce_high") < 100))
if not inverted.is_empty():
    st.caption(
        "**Relative mCE and mCE disagree** for "
        + ", ".join(f"**{m}** ({r:.1f} against mCE {c:.1f})" for m, r, c in
                    inverted.select("model", "relative_mce", "mce").head(6).iter_rows())
        + (", ..." if len(inverted) > 6 else "")
        + ": relative mCE averages, per corruption, what it takes from the model's own clean "
          "accuracy over what it takes from the reference's. Where the reference barely degrades "
          "that ratio takes any size and sign (the unstable corruptions), and a model poor on "
          "clean data has little left to lose: either reads as robust. That is the published "
          "definition; mCE, and relative mCE without the unstable corruptions ('Relative mCE "
          "three ways' below), say how much it errs.")
if benchmarked:
    relative_mce_three_ways(three_ways, query(queries.relative_ce), averaged)
if ATTACKS:  # its own table: beside the others the models table no longer fits a laptop
    st.markdown("**Under attack** (the adversarial family): each model's accuracy averaged over "
                "the white-box attacks and budgets stored, beside its dense reference's (the "
                "Attacks page has each attack at each budget, transfers included).")
    st.dataframe(in_percent(models.select("model", *ATTACKS), *ATTACKS[:2]), hide_index=True,
                 column_config=MODEL_COLUMNS, placeholder="–")

grid = query(queries.accuracy_grid)
if grid.is_empty():
    st.info("This store holds no metric rows yet, so there is no accuracy to draw.")
    st.stop()

model_order = models["model"].to_list()  # seed groups, when averaged
severities = sorted(s for s in grid["severity"].unique().to_list() if s > 0)

st.subheader("Accuracy per model and " + ("corruption or attack" if attacked else "corruption"))
level = state.severity("Severity", severities, key="severity")
by_corruption = by_group(query(queries.accuracy_by_corruption, level), "accuracy")
by_corruption, corruption_order = name_budgets(
    by_corruption, by_corruption.sort("first_id")["corruption"].unique(maintain_order=True).to_list(),
    level)
counted = level is not None and not averaged  # each cell one count of n samples
if counted:
    low, high = statistics.accuracy_interval(
        (by_corruption["accuracy"] * by_corruption["n"]).round().to_numpy(),
        by_corruption["n"].to_numpy())
    by_corruption = by_corruption.with_columns(pl.Series("low", low), pl.Series("high", high))
st.altair_chart(
    heatmap(by_corruption, "corruption", "model", "accuracy", x_sort=corruption_order,
            y_sort=model_order, domain=(0, 1),
            tooltip=["family", "n", *([alt.Tooltip("low:Q", title="95 % low", format=".1%"),
                                        alt.Tooltip("high:Q", title="95 % high", format=".1%")]
                                       if counted else [])]),
    width="stretch",
)
if counted:
    st.caption("Hover a cell for its 95 % interval (Clopper-Pearson, over the test samples; "
               "docs/statistics.md).")



def severity_lines(data: pl.DataFrame, *extra: str) -> alt.Chart:
    """Accuracy against severity (0 = clean), one line per model, or per seed group with the
    band from its lowest to its highest seed."""
    data = by_group(data, "accuracy")
    x = alt.X("severity:O", title="severity (0 = clean)", axis=alt.Axis(labelAngle=0))
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=x, y=alt.Y("accuracy:Q", title="accuracy", axis=alt.Axis(format="%"),
                     scale=alt.Scale(zero=False)),
        color=model_color(colours),
        tooltip=["model", *extra, "severity", alt.Tooltip("accuracy:Q", format=".1%"),
                 *(["seeds", alt.Tooltip("accuracy_low:Q", format=".1%"),
                    alt.Tooltip("accuracy_high:Q", format=".1%")] if averaged else [])],
    )
    if not averaged:
        return lines
    band = alt.Chart(data).mark_area(opacity=0.15).encode(
        x=x, y=alt.Y("accuracy_low:Q", title="accuracy"), y2="accuracy_high:Q",
        color=model_color(colours))  # a legend: one layer without drops the merged one
    return alt.layer(band, lines)


# Lazy tabs (only the open one runs and is drawn; `?section=` in the URL): the first screen is the
# table and the heatmap, the rest a click away.
by_family, one, sparsity = state.tabs(["Severity by family", "One corruption",
                                       "Sparsity vs robustness"], key="section")
corrupted = query(queries.corruptions).filter(pl.col("family") != "adversarial")["corruption"]
if (by_family.open or one.open) and corrupted.is_empty():  # an attacks-only store
    (by_family if by_family.open else one).info("This store has no corruption to draw against severity."
            + (" Its attacks are drawn on the Attacks page, against their budgets."
               if attacked else ""))
elif by_family.open:
    with by_family:
        families = query(queries.accuracy_by_family)
        st.altair_chart(
            severity_lines(families, "family")
            .properties(width=panel_width(3, legend=True), height=180)
            .facet(facet=alt.Facet("family:N", title=None), columns=3),
        )
        st.caption("Families as the benchmark groups its corruptions"
                   + ("; **extra** holds its four held-out corruptions (speckle noise, Gaussian "
                      "blur, spatter, saturate), which mean corruption accuracy and mCE leave out"
                      if "extra" in families["family"].to_list() else "")
                   + ". The severities stored are spaced evenly, whatever their numbers."
                   + (" Attacks are drawn on the Attacks page, against their budgets."
                      if attacked else ""))
elif one.open:
    with one:
        choice = state.selectbox("Corruption", ["all", *corrupted], key="corruption",
                                 format_func=lambda c: "the benchmark corruptions (mean)"
                                 if c == "all" else c)
        by_severity = query(queries.accuracy_by_severity, None if choice == "all" else choice)
        st.altair_chart(severity_lines(by_severity).properties(height=300), width="stretch")

if sparsity.open:
    with sparsity:
        scatter = models.select("model", "method", "sparsity", "clean_accuracy",
                                "mean_corruption_accuracy", "mce").drop_nulls("mean_corruption_accuracy")
        if averaged:
            st.caption("Seeds averaged: the Sweep page draws each recipe against sparsity with the "
                       "seeds' spread.")
        if scatter.is_empty():
            st.info("No benchmark corruption in this store: mean corruption accuracy is undefined.")
        else:
            # Names beside the points, pushed apart where models of one sparsity sit close together,
            # and on the left of points in the right half so they stay inside the chart.
            span = scatter["mean_corruption_accuracy"].max() - scatter["mean_corruption_accuracy"].min()
            scatter = scatter.with_columns(
                pl.Series("label_y", spread(scatter["mean_corruption_accuracy"].to_list(),
                                            0.055 * (span or 0.1))),
                (pl.col("sparsity") > 0.5).alias("left"))
            base = alt.Chart(scatter).encode(
                x=alt.X("sparsity:Q", axis=alt.Axis(format="%"), title="measured sparsity",
                        scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("mean_corruption_accuracy:Q", axis=alt.Axis(format="%"),
                        scale=alt.Scale(zero=False), title="mean corruption accuracy"),
            )
            points = base.mark_point(size=120, filled=True).encode(
                color=model_color(colours, legend=False),
                tooltip=["model", "method", alt.Tooltip("sparsity:Q", format=".1%"),
                         alt.Tooltip("clean_accuracy:Q", format=".1%"),
                         alt.Tooltip("mean_corruption_accuracy:Q", format=".1%"),
                         alt.Tooltip("mce:Q", format=".1f")],
            )
            label = {"text": "model:N", "y": "label_y:Q", "color": model_color(colours, legend=False)}
            labels = [base.transform_filter(f"{'' if left else '!'}datum.left")
                      .mark_text(align="right" if left else "left", dx=-10 if left else 10, fontSize=11)
                      .encode(**label) for left in (True, False)]
            st.altair_chart(alt.layer(points, *labels).properties(height=300), width="stretch")
            st.caption(("Each point is a recipe at one sparsity" if averaged else
                        "Each point is a model") + ": up and to the right keeps robustness at high "
                       "sparsity.")
