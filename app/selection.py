"""A box dragged in a chart, as the sample ids inside it, kept in the URL so that a shared link
reopens the same selection (app/state.py holds the URL's encoding)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def panel_params(prefix: str, order: Sequence[str]) -> dict[str, str]:
    """A box selection per panel of a chart with a panel per model: selection name -> model."""
    return {f"{prefix}{i}": model for i, model in enumerate(order)}


def panel_box(event: Any, params: Mapping[str, str], url_key: str
              ) -> tuple[str | None, dict[str, list[float]] | None]:
    """The box dragged in one panel of a chart whose panels each have a box selection (`params`:
    selection name -> the panel's model), and that panel's model. Kept in the URL as
    `?url_key=x:lo,hi;y:lo,hi&url_key_model=NAME`; only a change of the chart's selections
    replaces it (see `linked_box`). A box without a model (an older link) stands for every panel."""
    selection = dict(event.selection or {}) if event else {}
    current = {p: dict(selection.get(p) or {}) for p in params}
    seen_key = f"_{url_key}_last_selection"
    previous = st.session_state.get(seen_key)
    if previous is not None and current != previous:
        changed = [p for p in params if current[p] and current[p] != previous.get(p)]
        state.set_box(url_key, current[changed[0]] if changed else {})
        if changed:
            st.query_params[f"{url_key}_model"] = params[changed[0]]
        else:
            st.query_params.pop(f"{url_key}_model", None)
    st.session_state[seen_key] = current
    model = st.query_params.get(f"{url_key}_model")
    return (model if model in params.values() else None), state.box(url_key)


def panel_selection(event: Any, params: Mapping[str, str], data: pl.DataFrame,
                    url_key: str) -> tuple[str | None, list[int]]:
    """The samples of the boxed panel's model (`data` has a `model` column) inside the box
    dragged there (`panel_box`); with no model named, of any model."""
    model, box = panel_box(event, params, url_key)
    if not box:
        return None, state.ids(url_key)
    mine = data.filter(pl.col("model") == model) if model else data
    return model, picked_samples(box, mine)


def clear_button(url_key: str) -> None:
    """A button that forgets the box kept under `url_key` (a box whose chart was redrawn is no
    longer on screen to be clicked away)."""
    def clear() -> None:
        state.set_box(url_key, {})
        st.query_params.pop(f"{url_key}_model", None)

    st.button("Clear the pick", key=f"clear_{url_key}", on_click=clear)


def show_picked(picked: list[int], model_ids: list[int], condition_id: int, url_key: str,
                model: str | None = None) -> None:
    """The samples a box picked (in `model`'s panel), with thumbnails and every chosen model's
    prediction, and a button that clears the pick."""
    from app.charts import sample_table
    from app.shared import query
    from store import queries

    if not picked:
        st.caption("Drag a box in a panel to list that model's samples there, with their images, "
                   "and mark them in every panel.")
        return
    where = f" in {model}'s panel" if model else ""
    st.markdown(f"**{len(picked)} samples picked**{where}, marked in every panel (drag a box in "
                "any panel to pick others)")
    clear_button(url_key)
    sample_table(query(queries.sample_cards, picked, model_ids, condition_id))
