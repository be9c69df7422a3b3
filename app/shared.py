"""What every page shares: which store to read, its read-only connection and cached queries.

The app never imports torch or compute; it only opens the store read-only and runs the named
queries of `store.queries`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

from app.charts import model_colours
from store import StoreError, live, queries, remote, sandbox

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = ROOT / "stores" / "demo.duckdb"
STORE_ENV = "RLE_STORE"




def cache_dir() -> Path:
    """Where stores named by URL are downloaded: $RLE_CACHE, else stores/cache/ (ignored by git)."""
    return Path(os.environ.get("RLE_CACHE", ROOT / "stores" / "cache"))
STORES_ENV = "RLE_STORES"


def _secret(name: str) -> object:
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets file at all: Streamlit raises rather than returning None
        return None


def listed_stores() -> dict[str, str]:
    """The stores a deployed app offers (name -> path or URL): $RLE_STORES as `name=URL` pairs
    separated by `;` or new lines, or an `[RLE_STORES]` table in Streamlit's secrets."""
    listed = _secret(STORES_ENV)
    if isinstance(listed, Mapping):
        return {str(k): str(v) for k, v in listed.items()}
    text = os.environ.get(STORES_ENV) or (listed if isinstance(listed, str) else "")
    pairs = (part.partition("=") for part in text.replace("\n", ";").split(";") if "=" in part)
    return {name.strip(): source.strip() for name, _, source in pairs if name.strip()}


def store_source() -> str | None:
    """What names the store: a listed store chosen in the URL (`?store=NAME`), else `--store`
    after `streamlit run streamlit_app.py --`, else $RLE_STORE, else `RLE_STORE` in Streamlit's
    secrets (how Community Cloud passes settings), else the first listed store; a path or an
    http(s) URL. None for the demo store."""
    listed = listed_stores()
    chosen_name = st.query_params.get("store")
    if chosen_name in listed:
        return listed[chosen_name]
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--store")
    args, _ = parser.parse_known_args(sys.argv[1:])
    chosen = args.store or os.environ.get(STORE_ENV) or _secret(STORE_ENV)
    if not chosen and listed:
        chosen = next(iter(listed.values()))
    return str(chosen) if chosen else None


def store_picker() -> None:
    """In the sidebar, when stores are listed: which one to read, kept in the URL as ?store=NAME
    so a shared link opens the same store and view."""
    listed = listed_stores()
    if len(listed) < 2:
        return
    names = list(listed)
    current = st.query_params.get("store")
    choice = st.sidebar.selectbox("Store", names, index=names.index(current) if current in names
                                  else 0, key="_store_choice")
    st.query_params["store"] = choice


def store_path() -> Path:
    """The store's file: the path named, the cached download of the URL named, or the demo."""
    source = store_source()
    if source is None:
        return DEFAULT_STORE
    if remote.is_url(source):
        return remote.cached_path(source, cache_dir())
    return Path(source).expanduser().resolve()


def _store_key() -> tuple[str, tuple[int, int, int]]:
    """The store's path and the version of the file there: a rebuild is a new version."""
    path = store_path()
    return str(path), live.version_key(path) if path.is_file() else (0, 0, 0)


@st.cache_data(show_spinner="Querying the store…", max_entries=512)
def _run(name: str, key: tuple[str, tuple[int, int, int]], args: tuple) -> pl.DataFrame:
    # A cursor per query: DuckDB connections are not shared across Streamlit's threads.
    try:
        with live.current(key[0]).con.cursor() as cur:
            return getattr(queries, name)(cur, *args)
    except duckdb.ConnectionException:  # a rebuild released that version just now: read anew
        with live.current(key[0]).con.cursor() as cur:
            return getattr(queries, name)(cur, *args)


def query(fn: Callable[..., object], *args: object) -> pl.DataFrame:
    """Run a named query of `store.queries` on the current store, cached per store version."""
    return _run(fn.__name__, _store_key(), args)


def sql_pool(**limits: object) -> sandbox.Pool:
    """The SQL page's query workers on the current version of the store: processes of their own,
    each with a read-only connection that exposes nothing of the server (store/sandbox.py)."""
    return live.sql_pool(store_path(), **limits)


def visitor() -> str | None:
    """This browser session's id: the SQL page runs one query of a session at a time, so one
    visitor's slow queries hold at most one of its workers. (Not the address: behind a hosting
    proxy every visitor may share one.)"""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def require_store() -> None:
    """Stop the page with an explanation when there is no readable store."""
    path = store_path()
    source = store_source()
    if source and remote.is_url(source) and not path.exists():
        bar = st.progress(0.0, text=f"Downloading the store from {source.partition('#')[0]}…")

        def shown(done: int, total: int | None) -> None:
            share = min(done / total, 1.0) if total else 0.0
            bar.progress(share, text=f"Downloading the store: {done / 1e6:,.1f}"
                         + (f" of {total / 1e6:,.1f} MB" if total else " MB"))
        try:
            remote.fetch(source, cache_dir(), progress=shown)
        except StoreError as exc:
            bar.empty()
            st.error(str(exc))
            st.stop()
        bar.empty()
    if not path.exists():
        st.markdown(
            "**Robustness Lottery Explorer** compares dense and pruned networks on clean and "
            "corrupted images (CIFAR-10-C style) through the geometry of the last feature layer: "
            "feature length, angles to every class direction, margins. It reads one store, a "
            "DuckDB file that `python -m compute build` writes.")
        st.info(
            f"**No store at `{path}`.** Point the app at one: a path or an https:// URL in "
            f"`{STORE_ENV}` (an environment variable, or a secret on Streamlit Community Cloud), "
            "or `streamlit run streamlit_app.py -- --store PATH_OR_URL`; several as "
            f"`{STORES_ENV}` (`name=URL;name=URL`) to choose among in the sidebar. "
            "docs/deploy.md has the steps.\n\n"
            "On your own machine, build the demo store (about two minutes on a 2-core CPU):\n\n"
            f"```bash\nbash scripts/setup.sh requirements-compute.txt\n"
            f".venv/bin/python -m compute build configs/demo.toml --out {path}\n```"
        )
        st.stop()
    try:
        live.current(path)
    except StoreError as exc:
        st.error(str(exc))
        st.stop()


@dataclass(frozen=True)
class Catalog:
    """What a store holds, as frames and as name -> id maps (widgets show names, queries take ids)."""

    models: pl.DataFrame
    conditions: pl.DataFrame
    classes: pl.DataFrame

    @property
    def colours(self) -> dict[str, str]:
        """Every model's colour, the same on every chart of every page."""
        return model_colours(self.models)

    @property
    def model_id(self) -> dict[str, int]:
        return dict(zip(self.models["model"], self.models["model_id"], strict=True))

    @property
    def condition_id(self) -> dict[str, int]:
        return dict(zip(self.conditions["condition"], self.conditions["condition_id"], strict=True))

    @property
    def class_id(self) -> dict[str, int]:
        return dict(zip(self.classes["class"], self.classes["class_id"], strict=True))


def catalog() -> Catalog:
    """The store's models, conditions and classes (cached like every query)."""
    return Catalog(query(queries.models), query(queries.conditions), query(queries.classes))


def percent(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    """A table column showing a fraction as a percentage with one decimal, the same in every
    row (the frame's column goes through `in_percent` first)."""
    return st.column_config.NumberColumn(label, help=help, format="%.1f %%")


def in_percent(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Fractions (0..1) as percentages (0..100), for columns shown with `percent`."""
    return frame.with_columns(pl.col(c) * 100 for c in columns if c in frame.columns)


def white_box(condition: str) -> bool:
    """Whether `condition` is a white-box attack: each model was given inputs crafted on itself
    (so the build kept no attacked image, and models compared there saw different inputs)."""
    settings = query(queries.attack_settings)
    return not settings.filter((pl.col("condition") == condition)
                               & (pl.col("mode") == "white-box")).is_empty()


def flag_own_inputs(condition: str) -> None:
    """A line where `condition` is a white-box attack: each model saw inputs crafted on itself,
    so what compares models there compares them on different inputs of the same samples."""
    if white_box(condition):
        st.info(f"{condition} is a white-box attack: each model was given inputs crafted on its "
                "own gradients, so these pairs compare the models on different inputs of the same "
                "samples (a transfer attack gives them all the same inputs).",
                icon=":material/bolt:")


def flag_chance(model_ids: list[int], condition: str) -> None:
    """A line naming the chosen models that are near chance under `condition` (their geometry,
    samples and similarities there say little), wherever a page shows them."""
    if condition in condition_budgets():  # under attack a low accuracy is the measurement
        return
    near = query(queries.chance_under, model_ids, catalog().condition_id[condition])
    if not near.is_empty():
        names = ", ".join(f"{m} ({a:.1%})" for m, a in near.iter_rows())
        st.warning(f"Near chance under {condition}: {names}. Below {queries.NEAR_CHANCE:g} x "
                   "chance a model predicts little more than one class, so what is shown for it "
                   "here says little about how it separates them.", icon=":material/info:")


def condition_budgets() -> dict[str, str]:
    """Each attack condition's budget as the pages write it (`pgd_linf-2`: 8/255): its number is
    only the budget's rank."""
    return dict(query(queries.attack_budgets).select("condition", "budget_label").iter_rows())

