"""How the pages show the published robustness measures: relative mCE as Hendrycks and Dietterich
define it, with the corruptions where that definition is unstable and two readings that avoid
them (store/queries/overview.py computes all three; docs/store.md#named-measures)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from app import state
from app.shared import percent
from store.queries import UNSTABLE_SE

RELATIVE_MCE = st.column_config.NumberColumn(
    "Rel. mCE", format="%.1f",
    help="Relative mCE, Hendrycks & Dietterich (2019): per benchmark corruption, the accuracy "
         "it takes away (error minus the model's own clean error, summed over severities) "
         "relative to the dense reference's, averaged over corruptions, x100. 100 = loses as "
         "much as the reference; lower is better. See 'Relative mCE three ways' below where it is unstable.")

# The Overview's table of models: every column's title and what it measures.
MODEL_COLUMNS = {
    "model": "Model",
    "arch": "Architecture",
    "method": "Method",
    "sparsity": percent("Sparsity", "Measured: zero weights / conv and linear weights"),
    "params_nonzero": st.column_config.NumberColumn(
        "Non-zero", format="localized",
        help="Every parameter that is not zero, biases and BatchNorm included (sparsity counts "
             "the conv and linear weights only, so two models at one sparsity may differ here)"),
    "reference": st.column_config.TextColumn(
        "Reference", help="The dense model mCE and relative mCE compare it with"),
    "seeds": "Seeds",
    "mean_corruption_accuracy_low": percent("Seed low",
                                            "Mean corruption accuracy of the lowest seed"),
    "mean_corruption_accuracy_high": percent("Seed high",
                                             "Mean corruption accuracy of the highest seed"),
    "clean_accuracy": percent("Clean", "Accuracy on the clean test set"),
    "mean_corruption_accuracy": percent(
        "Corruption acc.",
        "Mean corruption accuracy: the accuracy, mean over the benchmark corruptions and "
        "severities stored"
    ),
    "mce": st.column_config.NumberColumn(
        "mCE", format="%.1f",
        help="Corruption error summed over severities, relative to the dense reference's, "
             "averaged over the benchmark corruptions (100 = as robust as the reference; lower "
             "is better)"),
    "relative_mce": RELATIVE_MCE,
    "mean_attack_accuracy": percent(
        "Attack acc.",
        "Mean robust accuracy: the accuracy under every white-box attack stored (each model "
        "attacked on its own gradients) with a budget above 0, mean over attacks and budgets; "
        "transfers are left out, since they break their source model by construction (the "
        "Attacks page draws each attack against its budget)"),
    "reference_attack_accuracy": percent("Reference's", "The dense reference's attack acc."),
    "attack_change": st.column_config.NumberColumn(
        "Change", format="%+.1f pts",
        help="Attack acc. minus the dense reference's, in points of accuracy (each attack at each "
             "budget; a white-box attack runs on each model's own gradients)"),
}


def relative_mce_three_ways(models: pl.DataFrame, ratios: pl.DataFrame, averaged: bool) -> None:
    """The published relative mCE beside the same average without the corruptions whose
    reference denominator is imprecise, the pooled ratio of sums, and the per-corruption ratios
    all three are made of (`ratios`: store.queries.relative_ce)."""
    unstable = sorted(set(ratios.filter(pl.col("unstable"))["corruption"].to_list()))
    with st.expander("Relative mCE three ways" + (f": unstable under {', '.join(unstable)}"
                                                  if unstable else ""), expanded=bool(unstable)):
        st.caption(
            "**Relative mCE** is the published average of per-corruption ratios: each "
            "corruption's degradation (error minus clean error, summed over severities) over the "
            "dense reference's. Where the reference barely degrades, its degradation is measured "
            "imprecisely and the ratio can take any size: a corruption is **unstable** when that "
            f"degradation is under {UNSTABLE_SE:g} of its standard errors (over the test samples), "
            "i.e. the test set alone could move the ratio by half or more. The column **Without "
            "unstable** averages over the other corruptions. **Pooled** divides the sum of the "
            "degradations over all corruptions by the reference's (not a published measure): it weighs each "
            "corruption by how much it hurts the reference, so the harshest ones dominate it, "
            "including conditions where the reference is near chance."
            + (" Seeds averaged: the means over each recipe's seeds." if averaged else ""))
        st.dataframe(
            models.drop("unstable_corruptions", strict=False), hide_index=True,
            column_config={
                "model": "Model",
                "relative_mce": RELATIVE_MCE,
                "stable_relative_mce": st.column_config.NumberColumn(
                    "Without unstable", format="%.1f",
                    help="The published average over the corruptions whose reference "
                         "degradation is measured precisely"),
                "pooled_relative_mce": st.column_config.NumberColumn(
                    "Pooled", format="%.1f",
                    help="Sum over corruptions of the model's degradation / the reference's, "
                         "x100 (a ratio of sums, weighted by the reference's degradation)"),
            }, placeholder="–")
        per_corruption(ratios, averaged)


def per_corruption(ratios: pl.DataFrame, averaged: bool = False) -> None:
    """What one model's three figures average, a row per corruption: a table per model rather
    than a column per model, so that it fits a laptop's column however many models there are.
    Seeds averaged, still one model (one seed) at a time: each has its own reference."""
    names = ratios["model"].unique(maintain_order=True).to_list()
    if not names:
        return
    st.markdown("**The per-corruption ratios each figure averages**, for one model at a time"
                + (" (one seed: each seed is read against its own dense reference, so the "
                   "table above averages these tables' figures over the seeds)" if averaged
                   else ""))
    pruned = ratios.filter(pl.col("model") != pl.col("reference"))["model"]
    model = state.selectbox("Model", names, key="ratios_model",
                            default=pruned[0] if len(pruned) else names[0])
    one = ratios.filter(pl.col("model") == model)
    st.dataframe(
        one.select("corruption", "ce", "relative_ce",
                   (100 * pl.col("reference_degradation")).alias("reference_degradation"),
                   (100 * pl.col("reference_se")).alias("reference_se"), "unstable"),
        hide_index=True,
        column_config={
            "corruption": "Corruption",
            "ce": st.column_config.NumberColumn(
                "CE", format="%.1f", help="Its error summed over severities / the reference's, "
                                          "x100: what mCE averages"),
            "relative_ce": st.column_config.NumberColumn(
                "Relative CE", format="%.1f", help="Its degradation (error minus clean error, "
                "summed over severities) / the reference's, x100: what relative mCE averages"),
            "reference_degradation": st.column_config.NumberColumn(
                "Reference degradation", format="%.1f pts",
                help=f"The dense reference ({one['reference'][0]}): error minus clean error "
                     "summed over severities, in percentage points"),
            "reference_se": st.column_config.NumberColumn(
                "± se", format="%.1f pts", help="Its standard error over the test samples"),
            "unstable": st.column_config.CheckboxColumn(
                "Unstable", help=f"Reference degradation under {UNSTABLE_SE:g} standard errors: "
                                 "left out of 'Without unstable'"),
        }, placeholder="–")


def _interval_text(low: pl.Expr, high: pl.Expr, estimate: pl.Expr, scale: float, unit: str
                   ) -> pl.Expr:
    """'low to high' in the table's unit; 'unbounded' where the estimate exists and a resample's
    reference did not degrade at all (the ratio has no bound); null where there is no figure."""
    fmt = [(low * scale).round(1).cast(pl.String), pl.lit(" to "),
           (high * scale).round(1).cast(pl.String), pl.lit(unit)]
    return (pl.when(low.is_not_null()).then(pl.concat_str(fmt))
            .when(estimate.is_not_null()).then(pl.lit("unbounded")))


def robustness_precision(intervals: pl.DataFrame, shown: pl.DataFrame) -> None:
    """Each model's mean corruption accuracy, mCE and relative mCE with its 95 % bootstrap
    interval over the test samples (store.queries.robustness_intervals), for the models of
    `shown` whose figures the table above shows (near-chance ones left out there stay out)."""
    rows = shown.select("model", "mce").join(intervals.drop("mce"), on="model", how="left")
    if rows.is_empty() or rows["mean_corruption_accuracy"].is_null().all():
        return
    hidden = pl.col("mce").is_null()  # left out above: the same here
    table = rows.select(
        "model",
        _interval_text(pl.col("mean_corruption_accuracy_low"),
                       pl.col("mean_corruption_accuracy_high"),
                       pl.col("mean_corruption_accuracy"), 100, " %").alias("mca"),
        *(pl.when(~hidden).then(_interval_text(pl.col(f"{m}_low"), pl.col(f"{m}_high"),
                                               pl.col(m), 1, ""))
          .alias(m) for m in ("mce", "relative_mce")))
    st.caption(
        "**How precise**: 95 % intervals over the test samples (a percentile bootstrap, 1,000 "
        "resamples of the samples, each carrying the model's and its reference's errors, so the "
        "ratios are paired). They say what drawing another test set of this size could move; "
        "seeds are another lottery (the Sweep page). Where two models' intervals overlap, the "
        "Compare two page tests their difference sample by sample. 'Unbounded': a resample in "
        "which the reference never degrades under some corruption (docs/statistics.md).")
    level = rows.filter(~hidden & (pl.col("mce_low") <= 100) & (pl.col("mce_high") >= 100)
                        & (pl.col("mce_low") < pl.col("mce_high")))["model"].to_list()
    st.dataframe(table, hide_index=True, placeholder="–", column_config={
        "model": "Model",
        "mca": st.column_config.TextColumn("Corruption acc. 95 %",
                                           help="Mean corruption accuracy's interval"),
        "mce": st.column_config.TextColumn("mCE 95 %", help="mCE's interval"),
        "relative_mce": st.column_config.TextColumn(
            "Rel. mCE 95 %", help="Relative mCE's interval (published definition)"),
    })
    if level:
        st.caption(f"mCE's interval holds 100 for **{', '.join(level[:8])}**"
                   f"{', ...' if len(level) > 8 else ''}: on this test set, not told apart from "
                   "its reference's robustness.")
