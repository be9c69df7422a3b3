"""The Pruning page's "Samples pruning breaks and mends": per pruned model and condition, the
samples its dense reference gets right and it gets wrong (pruning-fragile) and the reverse
(pruning-gain), as a heatmap per corruption and as a table whose rows link to those samples."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from app.attacks import name_budgets, note_reference_transfers
from app.charts import heatmap
from app.export import download_buttons
from app.pickers import groups
from app.shared import catalog, query
from store import queries

LINK_ROWS = 200  # rows of the table of links to samples


def section(changes: pl.DataFrame, models_shown: list[str], level: int | None, several: bool,
            averaged: bool, choice: str) -> None:
    """The heatmap and the table of links, for the models shown at severity `level` (None: all
    of them, `several` when there are); `changes` gives each cell's near-chance note, `choice`
    the corruption picked above ("all": every one)."""
    mean = level is None and several
    st.caption("Per condition, the samples the dense reference gets right and the pruned model "
               "wrong (pruning-fragile), and the reverse (pruning-gain)"
               + (": the heatmap shows the **mean per severity** of each corruption (so a cell "
                  "need not be a whole number), the table one row per condition with its exact "
                  "counts, as the Samples page lists them." if mean else f", at severity {level}."
                  if level is not None else "."))
    flips = exact = query(queries.pruning_flips, level)
    if averaged:
        flips = queries.average_seeds(flips.drop("model_id", "chance"), groups(),
                                      ["fragile", "gain"]).with_columns(pl.lit(None).alias("chance"))
    flips = flips.filter(pl.col("model").is_in(models_shown))
    per_corruption = (flips.group_by("model", "corruption", maintain_order=True)
                      .agg(pl.col("fragile", "gain").mean(), pl.col("n").first(),
                           pl.col("condition_id").min().alias("first_id"))
                      # The same note and fading as the change heatmap's, cell for cell.
                      .join(changes.select("model", "corruption", "chance", "chance_everywhere"),
                            on=["model", "corruption"], how="left"))
    per_corruption, columns = name_budgets(
        note_reference_transfers(per_corruption),
        per_corruption.sort("first_id")["corruption"].unique(maintain_order=True).to_list(), level)
    whole = ".1f" if mean or averaged else ".0f"
    st.altair_chart(
        heatmap(per_corruption, "corruption", "model", "fragile", x_sort=columns,
                y_sort=models_shown, fmt=whole, scheme="orangered",
                # A short legend title: a long one is cut at the legend's width.
                title=["pruning-fragile", "(mean per severity)" if mean else "samples"],
                note="chance", fade="chance_everywhere",
                tooltip=[alt.Tooltip("gain:Q", format=whole), "n"]),
        width="stretch",
    )
    # One row per model (each seed its own) and condition, with its exact counts and a link
    # that opens exactly those samples, images and all.
    members = (groups().filter(pl.col("group").is_in(models_shown))["model"].to_list()
               if averaged else models_shown)
    links_table(exact.filter(pl.col("model").is_in(members)), choice)


def links_table(exact: pl.DataFrame, choice: str) -> None:
    """`pruning_flips` rows as a table of links to their samples, the most fragile first; a
    picked row links to its samples and to Compare two."""
    links = exact.with_columns(
        (pl.col("fragile") - pl.col("gain")).alias("net"),
        *(pl.format(f"/samples?category=pruning-{kind}&model={{}}&condition={{}}", "model",
                    "condition").alias(f"open_{kind}") for kind in ("fragile", "gain")))
    if choice != "all":  # the corruption picked above, and clean to compare with
        links = links.filter(pl.col("corruption").is_in([choice, "clean"]))
    everything = (links.with_columns(pl.col("chance").fill_null(""))
                  .select("model", "condition", "fragile", "open_fragile", "gain", "open_gain",
                          "net", "n", "chance")
                  .sort("fragile", descending=True))
    # A sweep has thousands of (model, condition) rows: every one sent each visit was 2 MB at
    # 81.6M rows. The table holds the most fragile ones; the download, all of them.
    table = everything.head(LINK_ROWS)
    st.caption("Pick a row for links to its samples and to Compare two, on this tab; an **open** "
               "link opens the samples in a new one."
               + (f" The {LINK_ROWS} conditions with the most pruning-fragile samples of "
                  f"{len(everything):,}" + ("" if choice == "all" else f" under {choice} and clean")
                  + "; the download holds every one." if len(everything) > LINK_ROWS else ""))
    number = st.column_config.NumberColumn
    picked = st.dataframe(
        table, hide_index=True, height=280, on_select="rerun", selection_mode="single-row",
        key="flip_row", placeholder="–",
        column_config={
            "model": "Model", "condition": "Condition",
            "fragile": number("Pruning-fragile", format="%d"),
            "gain": number("Pruning-gain", format="%d"),
            "net": number("Fragile − gain", format="%+d"), "n": number("Samples"),
            "chance": "Near chance",
            "open_fragile": st.column_config.LinkColumn(
                "", display_text="open", help="The pruning-fragile samples of this condition, in "
                                              "a new tab"),
            "open_gain": st.column_config.LinkColumn(
                " ", display_text="open", help="The pruning-gain samples of this condition, in a "
                                               "new tab"),
        },
    )
    rows = picked.selection.rows if picked is not None else []
    if rows and rows[0] < len(table):
        row_links(table.row(rows[0], named=True))
    if len(everything) > LINK_ROWS:
        download_buttons(everything.drop("open_fragile", "open_gain"), "pruning-flips", "flips")


def row_links(row: dict) -> None:
    """Links from one (model, condition) row: its pruning-fragile and pruning-gain samples, and
    the model against its reference on Compare two."""
    for kind in ("fragile", "gain"):
        st.page_link("views/samples.py", icon=":material/photo_library:",
                     label=f"The {row[kind]:,} pruning-{kind} samples of **{row['model']}** "
                           f"under {row['condition']}",
                     query_params={"category": f"pruning-{kind}", "model": row["model"],
                                   "condition": row["condition"]}, disabled=not row[kind])
    store = catalog()
    reference = dict(store.models.select("model", "reference").iter_rows())[row["model"]]
    severity = dict(store.conditions.select("condition", "severity").iter_rows())[
        row["condition"]]
    st.page_link("views/compare.py", icon=":material/compare_arrows:",
                 label=f"**{row['model']}** against **{reference}**, condition by condition, "
                       "with paired tests",
                 query_params={"a": reference, "b": row["model"],
                               **({"severity": str(severity)} if severity else {})})
