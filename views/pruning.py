"""Pruning: every pruned model read against its dense reference. Which method keeps robustness
under which corruption, what each corruption takes from the pruned model and from the dense one,
and how many samples pruning breaks or mends under each condition."""

import altair as alt
import polars as pl
import streamlit as st

from app import flips, state
from app.attacks import name_budgets, note_reference_transfers, reference_transfers
from app.charts import empty, heatmap
from app.pickers import average_toggle, groups, has_seeds
from app.shared import catalog, in_percent, percent, query, require_store
from store import queries, statistics

st.title("Pruning vs dense")
require_store()
state.link_keys("severity", "corruption", "seeds")

store = catalog()
changes_all = query(queries.change_vs_dense, None)
if changes_all.is_empty():
    empty("No pruned model with a dense reference in this store: nothing to compare.")
    st.stop()

severities = sorted(s for s in store.conditions["severity"].unique().to_list() if s > 0)
collapsed = query(queries.near_chance_models)
near = set(collapsed["model"].to_list())
if near:
    st.warning(
        "Near chance on clean data (below "
        f"{queries.NEAR_CHANCE:g} × chance = {queries.NEAR_CHANCE * collapsed['chance'][0]:.0%}): "
        + ", ".join(f"**{m}** ({a:.1%})" for m, a in collapsed.select("model", "clean_accuracy")
                    .iter_rows())
        + ". A collapsed model has little left for a corruption to take, so it is left out of "
        "the ranking below unless you include it.")

top = st.columns([2, 3, 2])
with top[0]:
    level = state.severity("Severity", severities, key="severity")
with top[1]:
    corruptions = changes_all["corruption"].unique(maintain_order=True).to_list()
    # Without a benchmark corruption (a store of attacks alone) "all" would rank nothing.
    choice = state.selectbox("Corruption", ["all", *corruptions], key="corruption",
                             default="all" if changes_all["benchmark"].any() else corruptions[0],
                             format_func=lambda c: "all benchmark corruptions (mean)"
                             if c == "all" else c)
with top[2]:
    include = st.toggle("Rank near-chance models", value=False, disabled=not near,
                        key="include_near", help="Models whose clean accuracy is below "
                        f"{queries.NEAR_CHANCE:g} × chance")

changes = query(queries.change_vs_dense, level)
if not include:
    changes = changes.filter(~pl.col("model").is_in(list(near)))
# A sweep's seeds average into one row per recipe and sparsity (each seed is read against its own
# seed's dense model first); the table of links keeps each seed's own exact counts.
averaged = average_toggle("seeds")  # its own key: a widget key shared across pages resets
VALUES = ["accuracy", "reference_accuracy", "change", "drop", "reference_drop"]
PAIRED = ["fragile", "gain", "n", "k"]
if averaged:  # a group is near chance where any of its seeds is
    notes = (changes.join(groups().select("model", "group"), on="model", how="left")
             .group_by(pl.col("group").fill_null(pl.col("model")).alias("model"), "corruption")
             .agg(pl.col("chance").drop_nulls().first(), pl.col("chance_everywhere").any()))
    changes = (queries.average_seeds(changes.drop("reference", "model_id", "chance",
                                                  "chance_everywhere", "change_sd", *PAIRED),
                                     groups(), VALUES)
               .join(notes, on=["model", "corruption"], how="left"))
if changes.is_empty():
    empty("Every pruned model here is near chance: include them to see them ranked.")
    st.stop()
# Each model on its own: at one severity every cell is one condition, whose discordant samples
# give McNemar's test; averaged over severities, each sample's change averaged over them gives a
# paired t-test over samples (its severities are not independent draws, the samples are). A mean
# over seeds pools models that share their samples, and is not tested.
tested = not averaged
if tested:
    changes = (statistics.paired_tests(changes) if level is not None
               else statistics.severity_mean_tests(changes))
TEST = ("McNemar's exact test on the samples the two models disagree on" if level is not None
        else "a paired t-test over the samples of each one's change averaged over the severities")

st.subheader("Who keeps robustness")
picked = (changes.filter(pl.col("benchmark")) if choice == "all"
          else changes.filter(pl.col("corruption") == choice))
ranked = (picked.group_by("model", *(["reference"] if "reference" in picked.columns else []),
                          maintain_order=True)
          .agg(pl.col("accuracy", "reference_accuracy", "change", "drop", "reference_drop").mean(),
               # One corruption: who is near chance (the severities are in the heatmap's
               # tooltip); the mean over all: under how many of them.
               (pl.col("chance").drop_nulls().first()
                .str.replace_all(r" near chance at severit(y|ies) [\d, ]+", "")
                if choice != "all" else
                pl.when(pl.col("chance").is_not_null().sum() > 0)
                .then(pl.format("{} of {} corruptions",
                                pl.col("chance").is_not_null().sum(), pl.len()))
                .otherwise(pl.lit(None))).alias("chance"),
               *([pl.col("p_adjusted", "change_low", "change_high").first()]
                 if tested and choice != "all" else []))
          .sort("accuracy", descending=True)
          .with_row_index("rank", offset=1))
if "p_adjusted" in ranked.columns:  # one compact column, as the change: points
    ranked = ranked.with_columns(
        pl.format("{} to {}", *(pl.col(c).mul(100).round(1).map_elements(
            lambda v: f"{v:+.1f}", return_dtype=pl.String) for c in ("change_low", "change_high")))
        .alias("interval")).drop("change_low", "change_high")
ranked = ranked.select(c for c in ["rank", "model", "reference", "accuracy", "reference_accuracy",
                                   "change", "interval", "p_adjusted", "drop", "reference_drop",
                                   "chance"] if c in ranked.columns)  # the test by its change
st.caption("Pruned models ranked by accuracy under the corruption; the change is against the "
           "model's dense reference under the same corruption, and the drop is what the corruption "
           "takes from clean accuracy, the pruned model's beside its reference's (percentage "
           "points)." + (" The change's interval and test pair the two models on the same samples "
                         "(docs/statistics.md)." if "p_adjusted" in ranked.columns else
                         " An interval and a test appear for one corruption"
                         + (" with the seeds apart" if averaged else "")
                         + ": a mean over corruptions pools the same samples.")
           + ("" if averaged else " Each row is one trained model (one seed): the Sweep page "
              "shows how much a seed alone moves these figures, where a store has seeds."))
# One reference, or each seed its own seed's dense model (the names say which): not a column
# (the table must fit a laptop's column beside the interval and p).
if "reference" in ranked.columns and (ranked["reference"].n_unique() == 1 or has_seeds()):
    ranked = ranked.drop("reference")
if ranked["chance"].null_count() == ranked.height:  # no model near chance: nothing to say
    ranked = ranked.drop("chance")
st.dataframe(
    in_percent(ranked, "accuracy", "reference_accuracy", "change", "drop", "reference_drop"),
    hide_index=True,
    column_config={
        "rank": st.column_config.NumberColumn("#", width=40),
        "model": "Model", "reference": "Dense reference",
        "accuracy": percent("Accuracy"),
        "reference_accuracy": percent("Dense"),
        "change": st.column_config.NumberColumn(
            "Change", format="%+.1f pts", help="Accuracy minus the dense reference's"),
        "drop": st.column_config.NumberColumn(
            "Drop", format="%.1f pts", help="What the corruption takes from clean accuracy"),
        "reference_drop": st.column_config.NumberColumn("Dense drop", format="%.1f pts"),
        "interval": st.column_config.TextColumn(
            "95 % interval", help="Of the change, in points: paired on the same samples ("
            + ("Bonett-Price adjusted Wald)" if level is not None else
               "t interval of the per-sample change averaged over severities)")),
        "p_adjusted": st.column_config.NumberColumn(
            "p (BH)", format="%.3g", help=f"{TEST}, adjusted with Benjamini-Hochberg over every "
                                          "cell of the heatmap below"),
        "chance": st.column_config.TextColumn(
            "Near chance" if choice != "all" else "Near chance under",
            help="Where the pruned model or its reference is below "
                 f"{queries.NEAR_CHANCE:g} × chance: a tie there ranks nothing"),
    },
    placeholder="–",
)

st.subheader("Change versus dense, per corruption")
near_note = (f"the pruned model, its dense reference or both are **near chance** (below "
             f"{queries.NEAR_CHANCE:g} × chance)")
st.caption("Accuracy of the pruned model minus its dense reference's under each corruption, in "
           "percentage points (red: pruning lost robustness there, blue: gained). "
           + (f"A **grey** cell: {near_note} there"
              + (" at every severity averaged" if level is None else "")
              + f", or the change is **not significant**: {TEST}, adjusted for the heatmap's "
              f"cells with Benjamini-Hochberg at a {statistics.ALPHA:.0%} false discovery rate "
              "(docs/statistics.md); the tooltip gives the adjusted p and the change's 95 % "
              "interval." + (f" A **\\***: {near_note} at some of the severities averaged."
                             if level is None else "") if tested else
              f"A **\\***: {near_note} at some of the severities averaged (the tooltip says "
              "which); a **grey** cell: at every one, so the change says little. No cell is "
              "tested with the seeds averaged (their models share the samples): turn seed "
              "averaging off to test each model's."))
models_shown = changes["model"].unique(maintain_order=True).to_list()
if transfers := reference_transfers():
    st.caption(f"**{', '.join(transfers)}** (marked \\*): crafted on the dense reference, so "
               "the reference's accuracy there is its white-box one and a pruned model's gain "
               "says how little the perturbation transfers, not that pruning made it more "
               "robust (the Attacks page has each model's own white-box accuracy).")
points, order = name_budgets(note_reference_transfers(changes), changes.sort("first_id")[
    "corruption"].unique(maintain_order=True).to_list(), level)
points = points.with_columns(
    (100 * pl.col("change")).alias("change_pts"),
    (pl.col("chance_everywhere") | (~pl.col("real") if tested else pl.lit(False))).alias("faded"),
    *([(100 * pl.col(c)).alias(f"{c}_pts") for c in ("change_low", "change_high")]
      if tested else []))
extreme = max(float(points["change_pts"].abs().max() or 0), 1.0)
st.altair_chart(
    heatmap(points, "corruption", "model", "change_pts", x_sort=order, y_sort=models_shown,
            domain=(-extreme, extreme), fmt="+.1f", scheme="redblue", diverging=True,
            title="change (pts)", note="chance", fade="faded",
            tooltip=["family", alt.Tooltip("accuracy:Q", title="pruned", format=".1%"),
                     alt.Tooltip("reference_accuracy:Q", title="dense", format=".1%"),
                     *([alt.Tooltip("p_adjusted:Q", title="p (BH)", format=".3g"),
                        alt.Tooltip("change_low_pts:Q", title="95 % low (pts)", format="+.1f"),
                        alt.Tooltip("change_high_pts:Q", title="95 % high (pts)", format="+.1f")]
                       if tested else [])]),
    width="stretch",
)

st.subheader("Samples pruning breaks and mends")
flips.section(changes, models_shown, level, len(severities) > 1, averaged, choice)
