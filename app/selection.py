"""A box dragged in a chart, as the sample ids inside it, kept in the URL so that a shared link
reopens the same selection (app/state.py holds the URL's encoding)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import streamlit as st

from app import state


def picked_samples(selection: Mapping[str, Any], data: pl.DataFrame, x: str = "x",
                   y: str = "y") -> list[int]:
    """Sample ids of `data` inside an Altair interval selection ({x: [lo, hi], y: [lo, hi]}); an
    empty selection picks nothing."""
    if not selection or x not in selection:
        return []
    x_lo, x_hi = sorted(selection[x])
    inside = pl.col(x).is_between(x_lo, x_hi)
    if y in selection:
        y_lo, y_hi = sorted(selection[y])
        inside &= pl.col(y).is_between(y_lo, y_hi)
    return sorted(set(data.filter(inside)["sample_id"].to_list()))


def linked_box(event: Any, param: str, url_key: str) -> dict[str, list[float]] | None:
    """The box dragged in a chart (field -> [lo, hi]), kept in the URL as the box itself
    (`?url_key=x:lo,hi;y:lo,hi`: a few dozen characters however many samples it holds).

    A link opened fresh carries its box in the URL while the chart has no selection yet, so only
    a change of the chart's selection (compared with the previous run) replaces it.
    """
    selection = (event.selection or {}).get(param, {}) if event else {}
    seen_key = f"_{url_key}_last_selection"
    previous = st.session_state.get(seen_key)
    if previous is not None and selection != previous:
        state.set_box(url_key, selection)
    st.session_state[seen_key] = selection
    return state.box(url_key)


def linked_selection(event: Any, param: str, data: pl.DataFrame, url_key: str) -> list[int]:
    """The samples of `data` inside the box dragged in a chart (see `linked_box`); an older link
    that lists sample ids still opens them."""
    kept = linked_box(event, param, url_key)
    return picked_samples(kept, data) if kept else state.ids(url_key)
