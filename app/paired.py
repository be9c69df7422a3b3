"""Two models on the same samples: one model's per-sample shift under a corruption against the
other's, binned in SQL on one grid for both axes (store.queries.paired_shift_cells), with the
diagonal where the two shift alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import empty, panel_width
from app.shared import catalog, query
from store import queries


def shift_scatter(cells: pl.DataFrame, model_a: str, model_b: str, metric: str) -> alt.LayerChart:
    """Cells coloured by how many samples fall in them (log scale), square, with y = x."""
    lo, hi = float(cells["x0"].min()), float(cells["x1"].max())
    scale = alt.Scale(domain=[lo, hi], nice=False)
    side = panel_width(1, legend=True) * 3 // 5
    rects = alt.Chart(cells).mark_rect().encode(
        x=alt.X("x0:Q", title=f"Δ {metric}, {model_a}", scale=scale), x2="x1",
        y=alt.Y("y0:Q", title=f"Δ {metric}, {model_b}", scale=scale), y2="y1",
        color=alt.Color("n:Q", title="samples", scale=alt.Scale(type="log", scheme="greys")),
        tooltip=[alt.Tooltip("n:Q", title="samples"),
                 alt.Tooltip("x0:Q", title=f"{model_a} from", format=".3g"),
                 alt.Tooltip("y0:Q", title=f"{model_b} from", format=".3g")],
    )
    diagonal = alt.Chart(pl.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
        color="#d55e00", strokeDash=[6, 3]).encode(x=alt.X("x:Q", scale=scale),
                                                   y=alt.Y("y:Q", scale=scale))
    return (rects + diagonal).properties(width=side, height=side)


def model_vs_model(metric: str, order: Sequence[str], model_id: Mapping[str, int], condition: str,
                   class_ids: list[int]) -> None:
    """Two of the chosen models (`order`), picked here, on the same samples under `condition`:
    the caption's share and correlation, and the binned scatter."""
    if len(order) < 2:
        return
    st.markdown(f"**Model against model: each sample's shift in {metric} under {condition}**")
    left, right = st.columns(2)
    with left:
        a = state.selectbox("x: model", order, key="vs_a", default=order[0])
    with right:
        b = state.selectbox("y: model", order, key="vs_b", default=order[1])
    cond = catalog().condition_id[condition]
    cells = query(queries.paired_shift_cells, metric, model_id[a], model_id[b], cond, class_ids)
    if a == b or cells.is_empty():
        empty("Choose two different models with finite shifts here.")
        return
    first = cells.row(0, named=True)
    r = first["r"]
    st.caption(f"{first['samples']:,} samples, binned on one grid for both axes (the 0.5-99.5 % "
               f"range of both; beyond it in the edge cells). Above the dashed diagonal {b}'s "
               f"shift is above {a}'s (a smaller fall where both fall): {first['b_worse']:.0%} of "
               "the samples; correlation of the two "
               "shifts " + (f"r = {r:.2f}." if r is not None and r == r else
                            "undefined (one of them does not vary)."))
    st.altair_chart(shift_scatter(cells, a, b, metric))
