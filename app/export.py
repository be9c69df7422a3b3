"""Downloads of query results as CSV and Parquet (shared by the Samples and SQL pages)."""

from __future__ import annotations

import io

import polars as pl
import streamlit as st


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV has no lists or bytes: lists become space-separated values, binary columns are dropped."""
    flat = frame.select(pl.exclude(pl.Binary)).with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(" ")
        for c, t in frame.schema.items() if isinstance(t, (pl.List, pl.Array))
    )
    return flat.write_csv().encode()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def download_buttons(frame: pl.DataFrame, name: str, key: str) -> None:
    """CSV and Parquet download buttons, side by side."""
    left, right, _ = st.columns([1, 1, 5])
    left.download_button("CSV", csv_bytes(frame), f"{name}.csv", "text/csv", key=f"{key}_csv",
                         icon=":material/download:")
    right.download_button("Parquet", parquet_bytes(frame), f"{name}.parquet",
                          "application/vnd.apache.parquet", key=f"{key}_parquet",
                          icon=":material/download:")
