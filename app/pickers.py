"""Choosing among many models: a sweep's models by recipe, sparsity and seed instead of by name,
and seeds averaged into one line with a band. A store of a dozen models or fewer keeps the plain
picker by name."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import streamlit as st

from app import state
from app.charts import model_colours
from app.shared import query
from store import queries

MANY = 12  # above this many models, pickers choose by recipe, sparsity and seed


def groups() -> pl.DataFrame:
    """Every model with its seed group (store/queries/sweep.py: seed_groups)."""
    return query(queries.seed_groups)


def has_seeds() -> bool:
    return bool((groups()["seeds"] > 1).any())


def average_toggle(key: str = "avg") -> bool:
    """"Average the seeds" (on by default) where some recipe has several seeds; False elsewhere."""
    if not has_seeds():
        return False
    return state.toggle("Average the seeds", key=key, default=True,
                        help="One line per recipe and sparsity: the mean over its seeds, with "
                             "the lowest and highest seed as a band")


def group_colours() -> dict[str, str]:
    """A colour per seed group, as `model_colours` gives a model: its method's hue, shaded by its
    sparsity."""
    g = groups().unique("group", maintain_order=True)
    return model_colours(g.select(pl.col("group").alias("model"), "method",
                                  pl.col("target_sparsity").alias("sparsity")))


def _percent(s: float) -> str:
    return f"{s * 100:.4g} %"


def pick_models(label: str, key: str, default: Sequence[str] = ()) -> list[str]:
    """Models chosen by name (a dozen or fewer), or by recipe, sparsity and seed: by default every
    recipe at one sparsity (90 % when there is one, else the highest) and the first seed; dense
    models pass any sparsity. The choice is in the URL (`?<key>_recipe=...`)."""
    g = groups()
    if len(g) <= MANY:
        return state.multiselect(label, g["model"].to_list(), key=key, default=default)
    recipes = g["recipe"].unique(maintain_order=True).to_list()
    levels = sorted(s for s in g.filter(pl.col("method") != "dense")["target_sparsity"].unique()
                    if s is not None)
    seeds = sorted(s for s in g["seed"].unique().to_list() if s is not None)
    # Pills, not multiselects: in a third of a laptop's column a multiselect cuts its chips to
    # "d x"; pills wrap onto more lines and every choice stays readable.
    chosen_recipes = state.pills(f"{label}: recipes", recipes, key=f"{key}_recipe",
                                 default=recipes)
    chosen_levels = state.pills("at sparsity", levels, key=f"{key}_sparsity",
                                default=[default_level(levels)] if levels else [],
                                format_func=_percent)
    chosen_seeds = state.pills("seeds", seeds, key=f"{key}_seed", default=seeds[:1])
    picked = g.filter(pl.col("recipe").is_in(chosen_recipes)
                      & ((pl.col("method") == "dense") | pl.col("target_sparsity").is_in(chosen_levels))
                      & (pl.col("seed").is_null() | pl.col("seed").is_in(chosen_seeds)))
    names = picked["model"].to_list()
    st.caption(f"{len(names)} of {len(g)} models" + (f": {', '.join(names)}" if len(names) <= 10
                                                     else ""))
    return names


def default_level(levels: Sequence[float]) -> float | None:
    """The sparsity a page opens on: 90 % when the store has it (the README's), else the highest."""
    return 0.9 if 0.9 in levels else (max(levels) if levels else None)


def default_models(limit: int = 4) -> list[str]:
    """What a page that compares a few models opens on: per recipe (dense first), its model at
    `default_level` and its first seed; at most `limit`."""
    g = groups()
    levels = g.filter(pl.col("method") != "dense")["target_sparsity"].drop_nulls().unique()
    level = default_level(levels.to_list())
    picked = (g.filter((pl.col("method") == "dense") | (pl.col("target_sparsity") == level))
              .sort(pl.col("seed").fill_null(-1), maintain_order=True)
              .unique("recipe", keep="first", maintain_order=True))
    order = g["recipe"].unique(maintain_order=True).to_list()
    return picked.sort(pl.col("recipe").replace_strict(order, list(range(len(order)))))[
        "model"].to_list()[:limit]
