"""How the pages show the published robustness measures: relative mCE as Hendrycks and Dietterich
define it, with the corruptions where that definition is unstable and two readings that avoid
them (store/queries/overview.py computes all three; docs/store.md#named-measures)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from store.queries import UNSTABLE_SE

MAX_COLUMNS = 12  # models in the per-corruption table before it runs off a laptop screen

RELATIVE_MCE = st.column_config.NumberColumn(
    "Relative mCE", format="%.1f",
    help="Hendrycks & Dietterich (2019): per benchmark corruption, the accuracy it takes away "
         "(error minus the model's own clean error, summed over severities) relative to the dense "
         "reference's, averaged over corruptions, x100. 100 = loses as much as the reference; "
         "lower is better. See 'Relative mCE three ways' below where it is unstable.")


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
            "i.e. the test set alone could move the ratio by half or more. **Without unstable** "
            "averages over the other corruptions. **Pooled** divides the sum of the degradations "
            "over all corruptions by the reference's (not a published measure): it weighs each "
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
            })
        shown = ratios["model"].unique(maintain_order=True).to_list()[:MAX_COLUMNS]
        one_reference = ratios["reference"].n_unique() == 1
        st.markdown("**The per-corruption ratios each figure averages** (x100)"
                    + ("; the reference's degradation and its standard error in percentage "
                       "points summed over severities" if one_reference else
                       f"; the first {MAX_COLUMNS} models" if len(shown) < ratios["model"]
                       .n_unique() else ""))
        per = ratios.group_by("corruption", maintain_order=True).agg(
            pl.col("reference_degradation").first(), pl.col("reference_se").first(),
            pl.col("unstable").mean().alias("unstable_share"))
        wide = (ratios.filter(pl.col("model").is_in(shown))
                .pivot(on="model", index="corruption", values="relative_ce", maintain_order=True)
                .join(per.select("corruption",
                                 *([(100 * pl.col("reference_degradation"))
                                    .alias("reference degradation"),
                                    (100 * pl.col("reference_se")).alias("± se")]
                                   if one_reference else []),
                                 (pl.col("unstable_share") > 0).alias("unstable") if one_reference
                                 else pl.col("unstable_share").alias("unstable for (share of "
                                                                     "references)")),
                      on="corruption", how="left"))
        st.dataframe(wide, hide_index=True, column_config={
            c: st.column_config.NumberColumn(c, format="%.1f") for c in wide.columns
            if c not in ("corruption", "unstable")})
