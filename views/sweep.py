"""Sweep: what the sparsity and the seed do. Every measure against sparsity per recipe with its
seeds as a band, how much seeds of one recipe and sparsity differ (the robustness lottery), and
calibration under corruption. Per-model numbers come from the summaries the build wrote."""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import empty, model_color, panel_width, recipe_colours
from app.pickers import default_models
from app.shared import catalog, in_percent, percent, query, require_store
from app.uncertainty import few_seeds, head_to_head, seed_intervals, variance_table
from store import queries
from store.derived import CALIBRATION_BINS

st.title("Sweep")
require_store()
state.link_keys("view", "measure", "lottery_measure", "condition", "models",
                "calib_condition", "h2h_sparsity", "h2h_a", "h2h_b")

store = catalog()
members = query(queries.sweep_models)
colours = recipe_colours(members)
seeded = members.group_by("recipe", "target_sparsity").len().filter(pl.col("len") >= 2)
# A recipe with two sparsities or more draws a curve; a single point implies no trend.
swept = (members.filter(pl.col("method") != "dense").group_by("recipe")
         .agg(pl.col("target_sparsity").n_unique().alias("k")).filter(pl.col("k") >= 2)
         ["recipe"].to_list())
levels = members.filter(pl.col("method") != "dense")["target_sparsity"].n_unique()
seeds = members["seed"].drop_nulls().n_unique()


def counted(n: int, what: str, plural: str | None = None) -> str:
    return f"{n} {what if n == 1 else plural or what + 's'}"


pruned_levels = counted(levels, "pruned sparsity", "pruned sparsities")
st.caption(f"{counted(members['recipe'].n_unique(), 'recipe')} · {pruned_levels} · "
           f"{counted(seeds, 'seed') if seeds else 'no seeds'} · {counted(len(members), 'model')}. "
           "A recipe is one `[[models]]` entry of the config; its `seeds = [...]` and list of "
           "sparsities expand it into models.")
if not swept and seeded.is_empty():
    st.info("This store is not a sweep: no recipe has two sparsities or two seeds, so each model "
            "is a point of its own and nothing below is a trend. Build a sweep "
            "(`configs/demo-sweep.toml`: `seeds = [1, 2, 3]` and `sparsity = [0.5, 0.9]` in a "
            "`[[models]]` entry) to see what the sparsity and the seed do.")


def measure_picker(key: str, default: str = "mean_corruption_accuracy") -> str:
    return state.selectbox("Measure", list(queries.MEASURES), key=key, default=default,
                           format_func=queries.metric_label)


def is_fraction(name: str) -> bool:
    return name.endswith("accuracy") or name.endswith("ece")


def axis_format(name: str) -> str:
    return ".0%" if is_fraction(name) else ".3g"


tabs = state.tabs(["Against sparsity", "Seed lottery", "Calibration"])

if tabs[0].open:
    with tabs[0]:
        name = measure_picker("measure")
        curves = query(queries.sparsity_curves, name)
        label = queries.metric_label(name)
        colour = model_color(colours, field="recipe", title="recipe")
        x = alt.X("target_sparsity:Q", title="target sparsity", axis=alt.Axis(format=".0%"),
                  scale=alt.Scale(domain=[0, 1], nice=False))
        # Each method's curve starts from the dense models it was pruned from (or compared
        # with): their mean and band at 0 %, when the store has one dense recipe.
        dense = curves.filter(pl.col("method") == "dense")
        pruned = curves.filter(pl.col("method") != "dense")
        if dense.height == 1:  # only under a line: elsewhere it would take a method's colour
            curves = pl.concat([curves, *[dense.with_columns(pl.lit(r).alias("recipe"))
                                          for r in pruned["recipe"].unique(maintain_order=True)
                                          if r in swept]])
        base = alt.Chart(curves).encode(x=x, color=colour)
        y = alt.Y("mean:Q", title=label, scale=alt.Scale(zero=False),
                  axis=alt.Axis(format=axis_format(name)))
        tooltip = ["recipe", alt.Tooltip("target_sparsity:Q", format=".0%", title="sparsity"),
                   alt.Tooltip("mean:Q", format=".4g"), alt.Tooltip("low:Q", format=".4g"),
                   alt.Tooltip("high:Q", format=".4g"), "seeds"]
        on_curve = pl.col("recipe").is_in(swept)
        band = base.transform_filter(alt.FieldOneOfPredicate(field="recipe", oneOf=swept)).mark_area(
            opacity=0.18).encode(y="low:Q", y2="high:Q")
        line = alt.Chart(curves.filter(on_curve)).mark_line(point=True).encode(
            x=x, y=y, color=colour, tooltip=tooltip)
        dots = alt.Chart(curves.filter(~on_curve)).mark_point(filled=True, size=90).encode(
            x=x, y=y, color=colour, tooltip=tooltip)
        whiskers = base.mark_rule().encode(y="low:Q", y2="high:Q")
        st.altair_chart(alt.layer(band, whiskers, line, dots).properties(height=380))
        st.caption(("Each recipe's mean over its seeds; the band and the whiskers run from its "
                    "lowest to its highest seed. " if not seeded.is_empty() else
                    "One model per point (no seeds here). ")
                   + ("Dense models sit at 0 %; a recipe with two sparsities or more is a line "
                      "from there, one with a single sparsity a point alone. ")
                   + ("Mean corruption accuracy and the corruption means average over the "
                      "benchmark corruptions and severities." if "corrupt" in name else ""))
        shown = seed_intervals(pl.concat([dense, pruned]), percent=is_fraction(name))
        few_seeds(shown)
        st.dataframe(in_percent(shown, "target_sparsity") if not is_fraction(name)
                     else in_percent(shown, "target_sparsity", "mean", "std", "range"),
                     hide_index=True, column_order=["recipe", "method", "target_sparsity", "mean",
                                                    "interval", "std", "range", "seeds"],
                     column_config={
                         "target_sparsity": percent("Sparsity"), "recipe": "Recipe",
                         "method": "Method", "seeds": "Seeds",
                         "interval": st.column_config.TextColumn(
                             "95 % interval", help="Of the mean over the seeds: Student's t "
                                                   "(docs/statistics.md), cut at 0 and 100 % "
                                                   "for accuracies; none for one seed"),
                         **({c: percent(c.capitalize()) for c in ("mean", "std", "range")}
                            if is_fraction(name) else {})}, placeholder="–")

if tabs[1].open:
    with tabs[1]:
        if seeded.is_empty():
            empty("No recipe has two seeds or more at one sparsity: give a `[[models]]` entry "
                  "`seeds = [1, 2, 3]` to see how much the seed decides (configs/demo-sweep.toml).")
        else:
            name = measure_picker("lottery_measure")
            dots = query(queries.seed_values, name).with_columns(
                (pl.col("recipe") + " " + (pl.col("target_sparsity") * 100).round(1).cast(pl.Utf8)
                 + " %").alias("group"))
            order = dots.sort("target_sparsity", "recipe")["group"].unique(maintain_order=True)
            # Every group labelled (Vega-Lite drops overlapping labels by default, which left
            # half the ranges unnamed), and a legend of the recipes' colours.
            enc = dict(x=alt.X("group:N", sort=order.to_list(), title=None,
                               axis=alt.Axis(labelAngle=-40, labelOverlap=False)),
                       color=model_color(colours, field="recipe", title="recipe"))
            y = alt.Y("value:Q", title=queries.metric_label(name), scale=alt.Scale(zero=False),
                      axis=alt.Axis(format=axis_format(name)))
            strip = alt.Chart(dots).mark_circle(size=70, opacity=0.85).encode(
                y=y, tooltip=["model", "seed", alt.Tooltip("value:Q", format=".4g")], **enc)
            ranges = alt.Chart(dots).mark_rule(strokeWidth=2, opacity=0.5).encode(
                y="min(value):Q", y2="max(value):Q", **enc)
            st.altair_chart(alt.layer(ranges, strip).properties(
                height=340, width=panel_width(1, legend=True)))
            head_to_head(dots, name, queries.metric_label(name), is_fraction(name))
            parts = variance_table(dots, query(queries.sampling_variance, name))
            if not parts.is_empty():
                sampled = parts["sample_sd"].is_not_nan().any()
                st.markdown("**How much the seed decides.** Per sparsity, the spread of the "
                            "measure over the models split into what lies between the recipes "
                            "and what lies between seeds of one recipe (a one-way ANOVA's "
                            "variance components), and the F-test of whether the recipes differ "
                            "beyond their seeds (docs/statistics.md). "
                            + ("The seeds' spread holds the test set's noise too: the test "
                               "samples' part (from the models x samples table of per-sample "
                               "accuracies) is apart, and the seeds' is what they add beyond it."
                               if sampled else "For this measure the seeds' part includes the "
                               "test set's noise (only the accuracies have it apart)."))
                if not sampled:
                    parts = parts.drop("sample_sd", "sample_share")
                parts = parts.select(c for c in (
                    "target_sparsity", "recipes", "models", "method_sd", "seed_sd", "sample_sd",
                    "method_share", "seed_share", "sample_share", "F", "p") if c in parts.columns)
                sd = ["method_sd", "seed_sd", *(["sample_sd"] if sampled else [])]
                def column(label: str, help: str) -> st.column_config.NumberColumn:
                    """The measure's unit, one precision in every row."""
                    return (percent(label, help) if is_fraction(name) else
                            st.column_config.NumberColumn(label, help=help, format="%.4g"))

                st.dataframe(
                    in_percent(parts, "target_sparsity", "method_share", "seed_share",
                               "sample_share", *(sd if is_fraction(name) else [])),
                    hide_index=True, placeholder="–", column_config={
                        "target_sparsity": percent("Sparsity"), "recipes": "Recipes",
                        "models": "Models",
                        "method_sd": column("Recipes sd", help="Between recipes: the standard "
                                            "deviation of the recipes' true means"),
                        "seed_sd": column("Seeds sd", help="Between seeds of one recipe" + (
                            ", beyond the test samples' part" if sampled else "")),
                        "sample_sd": column("Samples sd", help="The test samples' part: what "
                                            "drawing another test set of this size would move "
                                            "a model's value by, beyond what all models share"),
                        "method_share": percent("Recipes %", "The recipes' share of the "
                                                "variance (the three shares add up to 100 %)"),
                        "seed_share": percent("Seeds %", "The seeds' share of the variance"),
                        "sample_share": percent("Samples %",
                                                "The test samples' share of the variance"),
                        "F": st.column_config.NumberColumn("F", format="%.3g"),
                        "p": st.column_config.NumberColumn("p", format="%.3g")})
            spread = query(queries.seed_spread, name)
            st.caption("Each recipe's seeds: their mean, lowest, highest, standard deviation and "
                       "range.")
            cols = ["mean", "low", "high", "std", "range"]
            st.dataframe(
                in_percent(spread, "target_sparsity", *(cols if is_fraction(name) else [])),
                hide_index=True, column_order=["recipe", "method", "target_sparsity", "seeds",
                                               *cols],
                column_config={
                    "target_sparsity": percent("Sparsity"), "recipe": "Recipe", "method": "Method",
                    "seeds": "Seeds",
                    **({c: percent(c.replace("_", " ").capitalize()) for c in cols}
                       if is_fraction(name) else {})}, placeholder="–")
            condition = state.selectbox("Per sample, under", list(store.condition_id),
                                        key="condition", default=store.conditions["condition"][-1])
            flips = query(queries.seed_disagreement, store.condition_id[condition])
            st.dataframe(in_percent(flips, "target_sparsity", "predictions_differ",
                                    "correctness_differs"), hide_index=True, column_config={
                "target_sparsity": percent("Sparsity"), "recipe": "Recipe", "method": "Method",
                "seeds": "Seeds", "samples": "Samples",
                "predictions_differ": percent("Predictions differ",
                                              "Samples the seeds predict differently"),
                "correctness_differs": percent("Right for some seeds only",
                                               "Samples some seed gets right and another wrong")},
                placeholder="–")
            st.caption("The samples behind the disagreement between pruned and dense seeds are "
                       "the pruning-identified exemplars on the Samples page.")

if tabs[2].open:
    with tabs[2]:
        top = st.columns([3, 2])
        with top[0]:
            chosen = state.multiselect("Models", members["model"].to_list(), key="models",
                                       default=default_models())
        with top[1]:
            condition = state.selectbox("Condition", list(store.condition_id), key="calib_condition",
                                        default=query(queries.harsh_condition)
                                        or store.conditions["condition"][-1])
        if not chosen:
            empty("Choose at least one model.")
        else:
            picked = [store.model_id[m] for m in chosen]
            bins = query(queries.reliability, picked, store.condition_id[condition])
            diagonal = alt.Chart(pl.DataFrame({"x": [0.0, 1.0]})).mark_line(
                strokeDash=[4, 4], color="#888").encode(x="x:Q", y="x:Q")
            enc = dict(
                x=alt.X("confidence:Q", title="confidence (bin mean)",
                        scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
                color=model_color(store.colours, shown=chosen))
            reliability = alt.layer(
                alt.Chart(bins).mark_line(strokeWidth=1.5).encode(**enc),
                alt.Chart(bins).mark_circle(opacity=0.9).encode(
                    size=alt.Size("share:Q", title="share of samples", legend=None,
                                  scale=alt.Scale(range=[15, 300])),
                    tooltip=["model", "bin", "n", alt.Tooltip("confidence:Q", format=".3f"),
                             alt.Tooltip("accuracy:Q", format=".3f")], **enc))
            by_severity = query(queries.ece_by_severity, picked)
            ece_chart = alt.Chart(by_severity).mark_line(point=True).encode(
                x=alt.X("severity:O", title="severity (0 = clean)", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("ece:Q", title="ECE", axis=alt.Axis(format=".0%")),
                color=model_color(store.colours, shown=chosen, legend=False),
                tooltip=["model", "severity", alt.Tooltip("ece:Q", format=".2%"),
                         alt.Tooltip("accuracy:Q", format=".1%"),
                         alt.Tooltip("confidence:Q", format=".1%")])
            left, right = st.columns([3, 2])
            left.altair_chart((diagonal + reliability).properties(height=360, title=condition))
            right.altair_chart(ece_chart.properties(height=360, title="ECE by severity"))
            st.caption(f"Reliability diagram: {CALIBRATION_BINS} equal-width confidence "
                       "bins; a point below the diagonal is overconfident. ECE = Σ n_b/n "
                       "|accuracy_b − confidence_b| (Guo et al. 2017), averaged over the benchmark "
                       "corruptions at each severity.")
            table = query(queries.ece).filter(pl.col("model").is_in(chosen)
                                                      & (pl.col("condition") == condition))
            table = table.with_columns((pl.col("mean_confidence") - pl.col("accuracy"))
                                       .alias("gap"))
            st.dataframe(in_percent(table.select("model", "ece", "gap", "accuracy",
                                                 "mean_confidence"),
                                    "ece", "gap", "accuracy", "mean_confidence"), hide_index=True,
                         column_config={"model": "Model", "ece": percent("ECE"),
                                        "gap": st.column_config.NumberColumn(
                                            "Confidence − accuracy", format="%+.1f pts",
                                            help="Positive: over-confident (it believes more "
                                                 "than it gets right); negative: under-confident. "
                                                 "ECE is its size bin by bin."),
                                        "accuracy": percent("Accuracy"),
                                        "mean_confidence": percent("Mean confidence")}, placeholder="–")
