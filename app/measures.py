"""How the pages show the published robustness measures: relative mCE as Hendrycks and Dietterich
define it, with the corruptions where that definition is unstable and two readings that avoid
them (store/queries/overview.py computes all three; docs/store.md#named-measures)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from store.queries import UNSTABLE_SE

RELATIVE_MCE = st.column_config.NumberColumn(
    "Relative mCE", format="%.1f",
    help="Hendrycks & Dietterich (2019): per benchmark corruption, the accuracy it takes away "
         "(error minus the model's own clean error, summed over severities) relative to the dense "
         "reference's, averaged over corruptions, x100. 100 = loses as much as the reference; "
         "lower is better. See 'Relative mCE three ways' below where it is unstable.")


def relative_mce_three_ways(models: pl.DataFrame, averaged: bool) -> None:
    """The published relative mCE beside the same average without the corruptions whose
    reference denominator cannot be told from 0, and the pooled ratio of sums."""
    unstable = sorted({c for text in models.get_column("unstable_corruptions", default=pl.Series([]))
                       .drop_nulls().to_list() for c in text.split(", ") if c})
    with st.expander("Relative mCE three ways" + (f": unstable under {', '.join(unstable)}"
                                                  if unstable else ""), expanded=bool(unstable)):
        st.caption(
            "**Relative mCE** is the published average of per-corruption ratios. A corruption "
            "the dense reference barely degrades under (its summed degradation not positive or "
            f"within {UNSTABLE_SE:g} standard errors of 0, over samples) makes its ratio any size "
            "and sign: **without unstable** averages over the other corruptions, and **pooled** "
            "divides the sums over all corruptions (a ratio of sums; not a published measure). "
            "Where the three disagree, the published figure is driven by the unstable "
            "corruptions." + (" Seeds averaged: each seed has its own reference, so the unstable "
                              "corruptions are listed per model with the seeds apart." if averaged
                              else ""))
        st.dataframe(
            models, hide_index=True,
            column_config={
                "model": "Model",
                "relative_mce": RELATIVE_MCE,
                "stable_relative_mce": st.column_config.NumberColumn(
                    "Without unstable", format="%.1f",
                    help="The published average over the corruptions whose reference "
                         "degradation is stable"),
                "pooled_relative_mce": st.column_config.NumberColumn(
                    "Pooled", format="%.1f",
                    help="Sum over corruptions of the model's degradation / the reference's, "
                         "x100 (a ratio of sums)"),
                "unstable_corruptions": "Unstable corruptions (reference)",
            })
