"""Widgets whose values live in the URL query string, so a shared link reopens the same view.

Each widget takes its first value from the query string (when it names valid options; anything
else falls back to the default, with one line saying so, so a stale or hand-edited link never
breaks a page nor silently shows something else) and writes its current value back after every
run. Values are the names users see, not internal ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st


def _seed(key: str, value: Any) -> None:
    # Only before the widget first exists in this session: afterwards the widget owns its state.
    if key not in st.session_state:
        st.session_state[key] = value


def follow(key: str, value: Any, driver: Any) -> None:
    """Reset the widget `key` to `value` whenever `driver` (what its default depends on) changes,
    so a choice made for one condition does not linger under the next."""
    marker = f"_{key}_follows"
    if marker in st.session_state and st.session_state[marker] != driver:
        st.session_state[key] = value
        st.query_params[key] = str(value)
    st.session_state[marker] = driver


def _from_url(key: str) -> list[str]:
    return [v for v in st.query_params.get_all(key) if v != ""]


def _unknown(key: str, label: str, asked: Sequence[str], shown: str) -> None:
    """One line, on the run that reads the link, for values the link names that are not choices
    here (a typo, a model of another store), and what is shown instead."""
    if asked and key not in st.session_state:
        st.warning(f"The link asks for {label.lower()} {', '.join(map(repr, asked))}, which "
                   f"this store does not offer here; showing {shown} instead.",
                   icon=":material/link_off:")


APP_KEYS = frozenset({"store"})  # read by the app around every page (app/shared.py)


def link_keys(*keys: str) -> frozenset[str]:
    """Declare every URL key the page can read, in any of its tabs; a link naming another (a
    hand-edited link, or one meant for another page) gets one line saying the page ignores it,
    rather than silence, and loses it. Navigating between pages clears the
    query string, so only links carry foreign keys. The keys, with the app's own."""
    known = APP_KEYS | frozenset(keys)
    foreign = [k for k in st.query_params if k not in known]
    if foreign:
        shown = ", ".join(f"`{k}={st.query_params.get(k)}`" for k in foreign)
        st.warning(f"This page does not read {shown} from the link, so it does not change what "
                   f"you see here, and it is left out of the page's link. Its link keys: "
                   f"{', '.join(sorted(keys)) or 'none'}.", icon=":material/link_off:")
        for k in foreign:  # said once: a link copied from here no longer carries it
            del st.query_params[k]
    st.session_state["_link_keys"] = known  # what a test checks the page writes against
    return known


def models_keys(key: str) -> tuple[str, ...]:
    """The URL keys of `pickers.pick_models(..., key)`: names, or recipes, sparsities and seeds."""
    return key, f"{key}_recipe", f"{key}_sparsity", f"{key}_seed"


def box_keys(*keys: str) -> tuple[str, ...]:
    """The URL keys of chart selections kept by app/selection.py: each box and its panel's model."""
    return tuple(k for key in keys for k in (key, f"{key}_model"))


def tabs(labels: Sequence[str], key: str = "view") -> list[Any]:
    """Lazy tabs (only the open one runs) whose open tab is `?key=<label>` in the URL, so a link
    opens it. A link naming no tab of the page gets one line and the first tab, as a stale
    selectbox value does, rather than Streamlit's silent fallback."""
    wanted = _from_url(key)
    if wanted and wanted[-1] not in labels and key not in st.session_state:
        st.warning(f"The link asks for the tab {wanted[-1]!r}, which this page does not have "
                   f"(its tabs: {', '.join(labels)}); showing {labels[0]!r} instead.",
                   icon=":material/link_off:")
    return st.tabs(list(labels), key=key, bind="query-params")


def selectbox(label: str, options: Sequence[Any], key: str, default: Any = None,
              format_func: Callable[[Any], str] = str, **kwargs: Any) -> Any:
    """A selectbox whose choice is `?key=value` in the URL."""
    options = list(options)
    wanted = _from_url(key)
    by_text = {str(o): o for o in options}
    fallback = default if default in options else (options[0] if options else None)
    if wanted and wanted[-1] not in by_text and fallback is not None:
        _unknown(key, label, wanted[-1:], repr(format_func(fallback)))
    _seed(key, by_text.get(wanted[-1], fallback) if wanted else fallback)
    value = st.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    st.query_params[key] = str(value) if value is not None else ""
    return value


def _several(key: str, options: Sequence[Any], default: Sequence[Any]) -> None:
    """Seed a widget that holds several of `options` from `?key=a&key=b` (or `default`)."""
    by_text = {str(o): o for o in options}
    fallback = [d for d in default if d in options]
    if key in st.query_params:
        chosen = [by_text[v] for v in _from_url(key) if v in by_text]
        unknown = [v for v in _from_url(key) if v not in by_text]
        # A link naming nothing valid opens on the default, not on an empty page (`?key=`, no
        # value, is an explicit "none" and stays one).
        shown = "the others"
        if unknown and not chosen:
            chosen, shown = fallback, "the default" if fallback else "none"
        _unknown(key, key, unknown, shown)
    else:
        chosen = fallback
    _seed(key, chosen)


def _keep_several(key: str, values: Sequence[Any] | None) -> list[Any]:
    values = list(values or [])
    st.query_params[key] = [str(v) for v in values] if values else ""
    return values


def multiselect(label: str, options: Sequence[Any], key: str, default: Sequence[Any] = (),
                **kwargs: Any) -> list[Any]:
    """A multiselect whose choices are `?key=a&key=b` in the URL (`?key=` for none). Its chips
    wrap onto more rows: in a column Streamlit would keep them on one scrolling row, where all
    but the first few are hidden."""
    options = list(options)
    _several(key, options, default)
    kwargs.setdefault("wrap", True)
    return _keep_several(key, st.multiselect(label, options, key=key, **kwargs))


def pills(label: str, options: Sequence[Any], key: str, default: Sequence[Any] = (),
          **kwargs: Any) -> list[Any]:
    """Pills, several of which can be on, with the choices in the URL as `multiselect` keeps
    them. Pills wrap onto more lines in a narrow column where a multiselect's chips are cut."""
    options = list(options)
    _several(key, options, default)
    return _keep_several(key, st.pills(label, options, selection_mode="multi", key=key, **kwargs))


def toggle(label: str, key: str, default: bool = False, **kwargs: Any) -> bool:
    """A toggle whose state is `?key=1` / `?key=0` in the URL."""
    wanted = _from_url(key)
    _seed(key, wanted[-1] == "1" if wanted and wanted[-1] in ("0", "1") else default)
    value = st.toggle(label, key=key, **kwargs)
    st.query_params[key] = "1" if value else "0"
    return value


def text_area(label: str, key: str, default: str = "", **kwargs: Any) -> str:
    """A text area whose text is `?key=...` in the URL."""
    wanted = st.query_params.get_all(key)
    _seed(key, wanted[-1] if wanted else default)
    value = st.text_area(label, key=key, **kwargs)
    # Text that is not valid UTF-8 (a lone surrogate) has no URL form: it stays off the link.
    st.query_params[key] = value.encode("utf-8", errors="replace").decode("utf-8")
    return value


def number(key: str, default: float | None = None) -> float | None:
    """A number from the URL that no widget owns (for example a bound of a chart selection)."""
    try:
        return float(st.query_params[key])
    except (KeyError, ValueError):
        return default


def ids(key: str) -> list[int]:
    """Integer ids from the URL (`?key=3&key=17`), e.g. samples picked in a chart."""
    out = []
    for v in _from_url(key):
        try:
            out.append(int(v))
        except ValueError:
            continue
    return out


def encode_box(box: Mapping[str, Sequence[float]]) -> str:
    """A chart's interval selection as a short predicate for the URL: `x:lo,hi;y:lo,hi` (9
    significant digits: the same samples fall inside), however many samples it holds."""
    return ";".join(f"{field}:{float(min(v)):.9g},{float(max(v)):.9g}"
                    for field, v in sorted(box.items()) if len(v) == 2)


def decode_box(text: str) -> dict[str, list[float]] | None:
    """`encode_box`'s inverse; None for anything that is not such a predicate."""
    box: dict[str, list[float]] = {}
    for part in text.split(";"):
        field, _, bounds = part.partition(":")
        lo, _, hi = bounds.partition(",")
        try:
            values = [float(lo), float(hi)]
        except ValueError:
            return None
        if not field.isidentifier() or not all(math.isfinite(v) for v in values):
            return None
        box[field] = values
    return box or None


def box(key: str) -> dict[str, list[float]] | None:
    """The interval selection kept as `?key=x:lo,hi;y:lo,hi`, or None."""
    values = _from_url(key)
    return decode_box(values[0]) if len(values) == 1 else None


def set_box(key: str, selection: Mapping[str, Sequence[float]]) -> None:
    text = encode_box(selection) if selection else ""
    if text:
        st.query_params[key] = text
    else:
        st.query_params.pop(key, None)


def number_input(label: str, key: str, **kwargs: Any) -> float | None:
    """A number input that may be left empty (None), kept as `?key=value` in the URL."""
    # The URL always holds the current value, so passing it as `value` never resets the widget.
    value = st.number_input(label, key=key, value=number(key), **kwargs)
    if value is None:
        st.query_params.pop(key, None)
    else:
        st.query_params[key] = f"{value:g}"
    return value


MEAN = "mean"  # the URL's word for "averaged over severities", which queries take as None


def severity(label: str, severities: Sequence[int], key: str) -> int | None:
    """A severity picker ("mean over severities" first) whose choice is `?key=` in the URL; the
    severity, or None for the mean over all of them."""
    choice = selectbox(label, [MEAN, *map(str, severities)], key=key,
                       format_func=lambda s: "mean over severities" if s == MEAN else f"severity {s}")
    return None if choice == MEAN else int(choice)
