"""Downloads of query results as CSV and Parquet (shared by the Samples and SQL pages)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import polars as pl
import streamlit as st


def _flat(dtype: pl.DataType) -> bool:
    """A list or array of plain values (not of structs, maps or lists)."""
    return (isinstance(dtype, pl.List | pl.Array) and not dtype.inner.is_nested()
            and dtype.inner != pl.Binary)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV has no nesting or bytes: lists of plain values become space-separated values, other
    nested values (structs, maps, lists of them or of bytes) JSON text, bytes hexadecimal
    text."""
    frame = frame.with_columns(pl.col(pl.Binary).bin.encode("hex"))
    flat = frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(" ") if _flat(t)
        else pl.Series(c, [None if v is None else json.dumps(v, default=str)
                           for v in frame[c].to_list()], dtype=pl.String)
        for c, t in frame.schema.items() if t.is_nested()
    )
    return flat.write_csv().encode()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _prepared(make: Callable[[pl.DataFrame], bytes], frame: pl.DataFrame) -> bytes | None:
    """The file's bytes, or None where the frame holds what the format cannot (an infinite
    timestamp, say: Polars panics rather than raising)."""
    try:
        return make(frame)
    except BaseException as exc:  # a Rust panic arrives as a BaseException subclass
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None


def download_buttons(frame: pl.DataFrame, name: str, key: str) -> None:
    """CSV and Parquet download buttons, side by side; one sentence where a format cannot hold
    the result."""
    left, right, note = st.columns([1, 1, 5])
    for column, label, make, mime in ((left, "CSV", csv_bytes, "text/csv"),
                                      (right, "Parquet", parquet_bytes,
                                       "application/vnd.apache.parquet")):
        data = _prepared(make, frame)
        if data is None:
            note.caption(f"No {label} of this result: it holds values {label} cannot store "
                         "(cast them to VARCHAR in the query).")
            continue
        column.download_button(label, data, f"{name}.{label.lower()}", mime,
                               key=f"{key}_{label.lower()}", icon=":material/download:")
