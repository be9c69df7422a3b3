"""How sure a page's figures are, drawn beside them: intervals as text in a table's unit and
warnings where a figure rests on too few seeds. The statistics are store/statistics.py's."""

from __future__ import annotations

import numpy as np
import polars as pl
import streamlit as st

from store import statistics


def seed_intervals(curves: pl.DataFrame, percent: bool) -> pl.DataFrame:
    """`curves` (a group's `mean`, `std`, `low`, `high` over its `seeds`) with its seeds' range and
    the t interval of its mean as text, `interval`, in points where the measure is a fraction
    shown in percent (`percent`), cut to 0-100 % (a t interval knows no bounds, an accuracy
    does); none for one seed."""
    low, high = statistics.mean_interval(curves["mean"].to_numpy(), curves["std"].to_numpy(),
                                         curves["seeds"].to_numpy())
    if percent:
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    scale, digits = (100, ".1f") if percent else (1, ".4g")
    text = [None if lo != lo else f"{lo * scale:{digits}} to {hi * scale:{digits}}"
            for lo, hi in zip(low, high, strict=True)]
    return curves.with_columns((pl.col("high") - pl.col("low")).alias("range"),
                               pl.Series("interval", text, dtype=pl.String))


def few_seeds(curves: pl.DataFrame) -> None:
    """A warning naming the groups (`recipe`, `method`, `target_sparsity`, `seeds`) whose figures
    rest on two seeds: their spread and interval are there, but too loose to tell the seed's
    part from the method's."""
    two = curves.filter(pl.col("seeds") == 2)
    if two.is_empty():
        return
    names = [r if m == "dense" else f"{r} at {s:.0%}" for r, m, s in
             two.select("recipe", "method", "target_sparsity").iter_rows()]
    st.warning(f"**{len(names)} of {len(curves)} rest on two seeds** ({', '.join(names[:6])}"
               f"{', ...' if len(names) > 6 else ''}): with one degree of freedom a 95 % "
               "interval reaches 12.7 standard errors either side of the mean, too loose to tell "
               "the seed's part from the method's. Three seeds narrow it to 4.3, five to 2.8.")
