"""How the pages name and flag attacks: an attack's severity is only its budget's rank, and a
transfer crafted on a dense reference is white-box for that reference (docs/attacks.md)."""

from __future__ import annotations

import polars as pl

from app.shared import catalog, condition_budgets, query
from store import queries


def name_budgets(data: pl.DataFrame, order: list[str], level: int | None,
                 column: str = "corruption") -> tuple[pl.DataFrame, list[str]]:
    """`data` and its column `order` with each attack named with its budget, for a heatmap whose
    columns are corruptions at severity `level` (None: the mean over its severities). An
    attack's severity is only its budget's rank, so two attacks at one severity can be at
    different budgets (PGD at 1/255 beside AutoAttack at 8/255): the name says which."""
    budgets = query(queries.attack_budgets)
    names: dict[str, str] = {}
    for (attack,), rows in budgets.group_by("corruption", maintain_order=True):
        labels = (rows if level is None else rows.filter(pl.col("severity") == level))[
            "budget_label"].to_list()
        if len(labels) == 1:
            names[attack] = f"{attack} at {labels[0]}"
        elif labels:
            names[attack] = f"{attack}, mean {labels[0]} to {labels[-1]}"
    return (data.with_columns(pl.col(column).replace(names)),
            [names.get(c, c) for c in order])


def condition_label(condition: str) -> str:
    """A condition as a picker or chart names it: an attack's with its budget."""
    budget = condition_budgets().get(condition)
    return f"{condition} ({budget})" if budget else condition


def reference_transfers() -> list[str]:
    """Transfer attacks crafted on a model that is another's dense reference: there the
    reference's accuracy is its white-box one, so a pruned model's change against it says how
    little the perturbation transfers, not that pruning made the model more robust."""
    references = set(catalog().models["reference"].drop_nulls())
    settings = query(queries.attack_settings).filter(
        (pl.col("mode") == "transfer") & pl.col("source").is_in(list(references)))
    return settings["attack_name"].unique(maintain_order=True).to_list()


TRANSFER_NOTE = ("the dense reference is this attack's source: white-box for it, a transfer for "
                 "the pruned model")


def note_reference_transfers(data: pl.DataFrame, note: str = "chance") -> pl.DataFrame:
    """`data` (a `corruption` column) with TRANSFER_NOTE added to the `note` of every row under
    a transfer crafted on a dense reference (`reference_transfers`)."""
    return data.with_columns(
        pl.when(pl.col("corruption").is_in(reference_transfers()))
        .then(pl.concat_str([pl.col(note), pl.lit(TRANSFER_NOTE)], separator="; ",
                            ignore_nulls=True))
        .otherwise(pl.col(note)).alias(note))
