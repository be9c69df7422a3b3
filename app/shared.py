"""What every page shares: which store to read, its read-only connection and cached queries.

The app never imports torch or compute; it only opens the store read-only and runs the named
queries of `store.queries`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
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


CACHE_DIR = Path(os.environ.get("RLE_CACHE", ROOT / "stores" / "cache"))


def store_source() -> str | None:
    """What names the store: `--store` after `streamlit run streamlit_app.py --`, else
    $RLE_STORE, else `RLE_STORE` in Streamlit's secrets (how Community Cloud passes settings);
    a path or an http(s) URL. None for the demo store."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--store")
    args, _ = parser.parse_known_args(sys.argv[1:])
    chosen = args.store or os.environ.get(STORE_ENV)
    if not chosen:
        try:
            chosen = st.secrets.get(STORE_ENV)
        except Exception:  # no secrets file at all: Streamlit raises rather than returning None
            chosen = None
    return str(chosen) if chosen else None


def store_path() -> Path:
    """The store's file: the path named, the cached download of the URL named, or the demo."""
    source = store_source()
    if source is None:
        return DEFAULT_STORE
    if remote.is_url(source):
        return remote.cached_path(source, CACHE_DIR)
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
            remote.fetch(source, CACHE_DIR, progress=shown)
        except StoreError as exc:
            bar.empty()
            st.error(str(exc))
            st.stop()
        bar.empty()
    if not path.exists():
        st.info(
            f"**No store at `{path}`.** Build it from the demo config (about two minutes on a "
            "2-core CPU; set up with `bash scripts/setup.sh requirements-compute.txt`):\n\n"
            f"```bash\n.venv/bin/python -m compute build configs/demo.toml --out {path}\n```\n\n"
            "or point the app at another store with "
            f"`.venv/bin/streamlit run streamlit_app.py -- --store PATH` (or `{STORE_ENV}=PATH`)."
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
