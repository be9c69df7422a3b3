"""The Compare-two page's queries: any two models on the same samples under every condition,
paired sample by sample."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl

from store.catalogue import plottable
from store.queries.common import Con, frame, ids

# The geometry a comparison reports per condition: the mean over samples of B's value minus A's
# on the same sample, with the spread of those differences for a paired interval.
SHIFTS = ("length", "angle_true", "margin_distance")


def compare_two(con: Con, a: int, b: int, conditions: list[int],
                shifts: Sequence[str] = SHIFTS) -> pl.DataFrame:
    """Per condition of `conditions`, model `a` (the reference) against model `b` on the same
    samples (a filter on ids, so only those conditions' rows are read): `n`, each
    one's accuracy, the discordant counts (`fragile`: a right and b wrong; `gain`: the reverse),
    and for each metric of SHIFTS the mean and standard deviation of b's value minus a's over
    the samples where both are finite (`<metric>_diff`, `<metric>_sd`, `<metric>_n`), for each
    of `shifts`."""
    return compare_groups(con, [a], [b], conditions, shifts)


def compare_groups(con: Con, a: list[int], b: list[int], conditions: list[int],
                   shifts: Sequence[str] = SHIFTS) -> pl.DataFrame:
    """compare_two for two groups of models (two recipes' seeds): per condition and sample, each
    group's mean over its models (of `correct`, and of each metric of `shifts` over the models
    where it is finite; a page reads the one it shows), then per condition over the samples both
    groups have: `n`, each group's accuracy, `change` (the mean of b's per-sample accuracy minus
    a's, = accuracy_b - accuracy_a) with `change_sd` (their standard deviation: the paired
    per-sample test pooled over the seeds), `fragile` / `gain` (samples every model of a gets
    right and every one of b wrong, and the reverse) and the shifts. For one model each,
    compare_two's figures exactly.

    The models' rows are read once and laid out as a models x conditions x samples grid in numpy
    where they fill one (a built store: every model under every condition on every sample), else
    aggregated by DuckDB over (condition, sample). At 81.6 million rows, one shift, 20
    conditions: two models 31 ms by the grid, 53 by the aggregate; 3 + 3 seeds 78 and 87
    (with every shift, 117 and 150)."""
    both = ids([*a, *b])
    columns = "".join(f", {plottable(m)}" for m in shifts)
    rows = frame(con, f"""
        SELECT model_id, condition_id, sample_id, correct{columns}
        FROM metrics WHERE model_id = ANY($both) AND condition_id = ANY($conditions)
    """, both=both, conditions=ids(conditions))
    described = frame(con, """
        SELECT condition_id, name AS condition, corruption, severity, family FROM conditions
        WHERE condition_id = ANY($conditions) ORDER BY condition_id
    """, conditions=ids(conditions))
    grid = _grid(rows, both, shifts)
    per_condition = (_grid_moments(grid, len(a), shifts) if grid is not None
                     else _aggregate_moments(con, a, b, conditions, shifts))
    return described.join(per_condition, on="condition_id", how="inner").sort("condition_id")


def _positions(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-negative ids of `values` in order, and each value's index among them
    (a lookup table, in linear time: np.unique's sort took longer than the query)."""
    present = np.bincount(values) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[values]


def _grid(rows: pl.DataFrame, models: list[int], shifts: Sequence[str]
          ) -> dict[str, object] | None:
    """`rows` as arrays of (models, conditions, samples), `models` in the given order, conditions
    and samples in id order; None where they do not fill that grid."""
    if rows.is_empty() or len(set(models)) != len(models):
        return None
    model = rows["model_id"].to_numpy()
    if model.min() < 0 or rows["sample_id"].min() < 0 or rows["condition_id"].min() < 0:
        return None
    conditions, condition = _positions(rows["condition_id"].to_numpy())
    sample = rows["sample_id"].to_numpy()
    first, last = int(sample.min()), int(sample.max())
    if rows.height == len(models) * len(conditions) * (last - first + 1):
        # Ids without gaps (a store's samples are 0..n-1): each one's place is its offset.
        samples, sample = np.arange(first, last + 1), sample - first
    else:
        samples, sample = _positions(sample)
    if rows.height != len(models) * len(conditions) * len(samples):
        return None  # some model lacks some (condition, sample): no grid
    # (model, condition, sample) is the metrics table's key, so a full count fills every cell
    # once. Models go in the caller's order.
    lookup = np.full(max(max(models), int(model.max())) + 1, -1, dtype=np.int64)
    lookup[models] = np.arange(len(models))
    at = lookup[model]
    if (at < 0).any():
        return None
    place = (at * len(conditions) + condition) * len(samples) + sample
    shape = (len(models), len(conditions), len(samples))
    out: dict[str, object] = {"conditions": conditions}
    for col in ("correct", *map(plottable, shifts)):
        source = rows[col].to_numpy()
        values = np.empty(len(place), dtype=source.dtype)
        values[place] = source
        out[col] = values.reshape(shape)
    return out


def _grid_moments(grid: dict[str, object], split: int, shifts: Sequence[str]) -> pl.DataFrame:
    """Per condition of `grid`, the figures of compare_groups: the first `split` models are a,
    the rest b."""
    y = grid["correct"]
    ya, yb = y[:split].mean(0, dtype=np.float64), y[split:].mean(0, dtype=np.float64)
    d = yb - ya
    columns = {"condition_id": grid["conditions"], "n": np.full(len(d), d.shape[1]),
               "accuracy_a": ya.mean(1), "accuracy_b": yb.mean(1), "change": d.mean(1),
               "change_sd": d.std(1, ddof=1) if d.shape[1] > 1 else np.full(len(d), np.nan),
               "fragile": ((ya == 1) & (yb == 0)).sum(1), "gain": ((yb == 1) & (ya == 0)).sum(1)}
    for m in shifts:
        values = grid[plottable(m)].astype(np.float64)
        values[~np.isfinite(values)] = np.nan
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a group with no finite value: NaN
            diff = (np.nanmean(values[split:], 0) if len(values) - split > 1 else values[split]) - (
                np.nanmean(values[:split], 0) if split > 1 else values[0])
            n = np.isfinite(diff).sum(1)
            columns[f"{m}_diff"] = np.where(n > 0, np.nanmean(diff, 1), np.nan)
            columns[f"{m}_sd"] = np.where(n > 1, np.nanstd(diff, 1, ddof=1), np.nan)
        columns[f"{m}_n"] = n
    frame_ = pl.DataFrame(columns).with_columns(
        pl.col("condition_id").cast(pl.Int16), pl.col("n", "fragile", "gain").cast(pl.Int64),
        *(pl.col(f"{m}_n").cast(pl.Int64) for m in shifts))
    return frame_.with_columns(pl.col(pl.Float64).fill_nan(None))


def _aggregate_moments(con: Con, a: list[int], b: list[int], conditions: list[int],
                       shifts: Sequence[str] = SHIFTS) -> pl.DataFrame:
    """compare_groups' figures by DuckDB's aggregate over (condition, sample), for rows that do
    not fill a grid."""
    per_group = ",\n".join(
        f"avg({col}) FILTER (WHERE model_id = ANY(${g}){finite}) AS {name}_{g}"
        for col, name, finite in (("correct::DOUBLE", "y", ""),
                                  *((plottable(m), m, f" AND isfinite({plottable(m)})")
                                    for m in shifts))
        for g in ("a", "b"))
    moments = "".join(
        f", avg({m}_b - {m}_a) AS {m}_diff, stddev_samp({m}_b - {m}_a) AS {m}_sd, "
        f"count({m}_b - {m}_a) AS {m}_n" for m in shifts)
    return frame(con, f"""
        WITH per_sample AS (
            SELECT condition_id, sample_id, {per_group}
            FROM metrics
            WHERE model_id = ANY($both) AND condition_id = ANY($conditions)
            GROUP BY ALL
        )
        SELECT condition_id, count(*) AS n, avg(y_a) AS accuracy_a, avg(y_b) AS accuracy_b,
               avg(y_b - y_a) AS change, stddev_samp(y_b - y_a) AS change_sd,
               count(*) FILTER (WHERE y_a = 1 AND y_b = 0) AS fragile,
               count(*) FILTER (WHERE y_b = 1 AND y_a = 0) AS gain
               {moments}
        FROM per_sample
        WHERE y_a IS NOT NULL AND y_b IS NOT NULL
        GROUP BY ALL
    """, a=ids(a), b=ids(b), both=ids([*a, *b]), conditions=ids(conditions))
