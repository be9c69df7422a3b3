"""SQL: any question the pages do not answer, asked of the store directly, safely.

One read statement per run, checked against DuckDB's own parse tree, run in a worker process of
its own with a read-only connection, stopped for certain at the time limit (the worker is killed
if need be), its memory bounded, and the result cut at a row and a byte limit (store/sandbox.py).
Every refusal or failure is one sentence on the page."""

import os

import polars as pl
import streamlit as st

from app import quick_chart, state
from app.export import download_buttons
from app.shared import query, require_store, sql_pool, visitor
from store import queries, sandbox

TIME_LIMIT = float(os.environ.get("RLE_SQL_TIME_LIMIT", sandbox.TIME_LIMIT_S))
ROW_LIMIT = int(os.environ.get("RLE_SQL_ROW_LIMIT", sandbox.ROW_LIMIT))

st.title("SQL")
require_store()
state.link_keys("q")
st.caption(f"Read-only queries over the whole store: one statement per run, at most "
           f"{TIME_LIMIT:g} s and {ROW_LIMIT:,} rows returned. Files, settings and extensions are "
           "out of reach. `metrics_named` joins model and condition names into `metrics`.")


def load_example() -> None:
    """An example picked loads into the editor; the box then reads "—" again, since the text is
    the user's to edit from there."""
    choice = st.session_state["example"]
    if choice in sandbox.EXAMPLE_QUERIES:
        st.session_state["q"] = sandbox.EXAMPLE_QUERIES[choice]
    st.session_state["example"] = "—"


editor, schema = st.columns([3, 1])
with schema:
    columns = query(queries.schema_overview)
    tables = columns["table"].unique(maintain_order=True).to_list()
    listed = st.selectbox("Columns of", tables, key="schema_table",
                          index=tables.index("metrics_named") if "metrics_named" in tables else 0)
    st.dataframe(columns.filter(pl.col("table") == listed).drop("table"), hide_index=True,
                 width="stretch", height=260, placeholder="NULL")
with editor:
    st.selectbox("Examples", ["—", *sandbox.EXAMPLE_QUERIES], key="example",
                 on_change=load_example)
    sql = state.text_area("Query", key="q", default=next(iter(sandbox.EXAMPLE_QUERIES.values())),
                          height=220)
    st.button("Run", type="primary", icon=":material/play_arrow:",
              help="Runs the query (so does Ctrl+Enter in the editor).")

if sql.strip():
    try:
        with st.spinner("Running…"):
            result = sql_pool(time_limit=TIME_LIMIT, row_limit=ROW_LIMIT).run(sql, visitor())
    except sandbox.Refused as refusal:
        st.error(str(refusal))
        st.stop()
    frame = result.frame
    st.markdown(f"**{len(frame):,} row{'' if len(frame) == 1 else 's'}** in "
                f"{result.seconds * 1000:.0f} ms")
    if result.truncated:
        st.warning(f"The result was {result.note}: add a LIMIT or aggregate for the rest.")
    elif result.note:
        st.caption(f"Columns {result.note}.")
    # Bytes (a thumbnail's PNG) as their size: the bytes themselves would only be noise here;
    # the downloads hold them. The chart never offers them.
    st.dataframe(frame.with_columns(
        pl.col(pl.Binary).bin.size().map_elements(lambda n: f"{n:,} bytes", return_dtype=pl.String)),
        hide_index=True, placeholder="NULL")
    shown = frame.select(pl.exclude(pl.Binary))
    download_buttons(frame, "query", "sql")
    axes = quick_chart.default_axes(shown) if len(shown) else None
    if axes is not None:
        st.markdown("**Quick chart**")
        cols = st.columns(3)
        names = quick_chart.drawable_columns(shown)
        x = cols[0].selectbox("x", names, key="chart_x", index=names.index(axes[0]))
        y_options = [c for c in names if c != x]
        y = cols[1].selectbox("y", y_options, key="chart_y",
                              index=y_options.index(axes[1]) if axes[1] in y_options else 0)
        colour = cols[2].selectbox("colour", ["—", *[c for c in names if c not in (x, y)]],
                                   key="chart_colour")
        st.altair_chart(quick_chart.quick_chart(shown, x, y, None if colour == "—" else colour),
                        width="stretch")
        if len(names) < len(shown.columns):
            st.caption("The chart offers the columns it can draw: numbers, text, dates and "
                       "times (not lists, structs or bytes).")
