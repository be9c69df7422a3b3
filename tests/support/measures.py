"""mCE and relative mCE recomputed in numpy from a store's raw per-sample rows, not from the
summaries the queries read: what the store and compute lanes hold `model_overview` to."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from store import queries
from store.records import ConditionRecord, ModelRecord
from store.writer import StoreWriter
from tests.support.geometry import reference_geometry

N = 10
LABELS = np.arange(N) % 3
CONDITIONS = [("clean", 0)] + [(c, s) for c in ("a_noise", "b_blur", "c_fog") for s in (1, 2)]
# wrong samples (the first k) per condition, in CONDITIONS order
WRONG = {"dense": [1, 6, 9, 1, 2, 2, 2], "pruned": [2, 7, 10, 4, 6, 2, 3]}


def hand_measures_store(path) -> str:
    """Ten samples of three classes, a dense model and a pruned one read against it, three
    benchmark corruptions at two severities; each model gets the first k samples wrong, k chosen
    per condition (WRONG)."""
    weight, bias = np.eye(3), np.zeros(3)
    with StoreWriter(path, "hand-measures", num_classes=3) as w:
        w.put_classes(["x", "y", "z"])
        w.put_conditions([ConditionRecord(i, c if s == 0 else f"{c}-{s}", c, s,
                                          "clean" if s == 0 else "noise", s > 0)
                          for i, (c, s) in enumerate(CONDITIONS)])
        w.put_samples(LABELS, ["hand"] * N, [b"\x89PNG"] * N)
        for m, name in enumerate(WRONG):
            w.put_model(ModelRecord(m, name, "hand", "dense" if m == 0 else "magnitude", None,
                                    0.5 * m, 9, 9, 0 if m else None, 3, 3), weight, bias)
            for c, k in enumerate(WRONG[name]):
                pred = np.where(np.arange(N) < k, (LABELS + 1) % 3, LABELS)
                features = np.eye(3)[pred] * 2.0 + 0.1
                w.put_metrics(m, c, np.arange(N, dtype=np.int32),
                              reference_geometry(features, weight, bias, LABELS))
        w.commit()
    return str(path)


def assert_overview_follows_the_definitions(con: duckdb.DuckDBPyConnection) -> None:
    """Every model's mCE, relative mCE (published, without unstable corruptions, pooled) and its
    unstable corruptions equal their definitions (docs/store.md#named-measures), and so do the
    estimates the store keeps with their bootstrap intervals, each inside its interval."""
    rows = con.sql("""
        SELECT mt.model_id, c.corruption, c.severity, c.benchmark, mt.sample_id, mt.correct
        FROM metrics mt JOIN conditions c USING (condition_id)
    """).pl()
    wrong: dict[tuple, np.ndarray] = {}
    for (model, corruption, severity), part in rows.group_by(
            ["model_id", "corruption", "severity"]):
        wrong[(model, corruption, severity)] = ~part.sort("sample_id")["correct"].to_numpy()
    benchmark = sorted(set(rows.filter(pl.col("benchmark"))["corruption"]))
    severities = sorted(set(rows.filter(pl.col("severity") > 0)["severity"]))
    reference = dict(con.execute(
        "SELECT model_id, coalesce(reference_model_id, model_id) FROM models").fetchall())

    def degradation(model: int, corruption: str) -> np.ndarray:  # per sample
        return sum(wrong[(model, corruption, s)].astype(int) - wrong[(model, "clean", 0)]
                   for s in severities)

    def err(model: int, corruption: str) -> float:
        return sum(wrong[(model, corruption, s)].mean() for s in severities)

    intervals = {r["model_id"]: r for r in queries.robustness_intervals(con).iter_rows(named=True)}
    for row in queries.model_overview(con).iter_rows(named=True):
        assert_intervals_hold(row, intervals[row["model_id"]])
        m, r = row["model_id"], reference[row["model_id"]]
        num = np.array([degradation(m, c).mean() for c in benchmark])
        den_samples = [degradation(r, c) for c in benchmark]
        den = np.array([d.mean() for d in den_samples])
        se = np.array([d.std(ddof=1) / np.sqrt(len(d)) for d in den_samples])
        unstable = (den <= 0) | (den < queries.UNSTABLE_SE * se)
        assert row["mce"] == pytest.approx(
            100 * np.mean([err(m, c) / err(r, c) for c in benchmark])), row["model"]
        if (den != 0).all():
            assert row["relative_mce"] == pytest.approx(100 * np.mean(num / den)), row["model"]
        else:
            assert row["relative_mce"] is None
        assert row["pooled_relative_mce"] == pytest.approx(100 * num.sum() / den.sum())
        if (~unstable).any():
            assert row["stable_relative_mce"] == pytest.approx(
                100 * np.mean((num / den)[~unstable])), row["model"]
        assert row["unstable_corruptions"] == ", ".join(np.array(benchmark)[unstable])


def assert_intervals_hold(overview: dict, stored: dict) -> None:
    """The stored robustness figures are model_overview's, and each lies in its interval (a
    dense model's ratios against itself, 100, with no spread)."""
    for measure in ("mean_corruption_accuracy", "mce", "relative_mce", "pooled_relative_mce"):
        expected, value = overview[measure], stored[measure]
        if expected is None:
            assert value is None and stored[f"{measure}_low"] is None, (overview["model"], measure)
            continue
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), (overview["model"], measure)
        low, high = stored[f"{measure}_low"], stored[f"{measure}_high"]
        if low is not None:
            assert low <= value + 1e-9 and value <= high + 1e-9, (overview["model"], measure)
        if overview["reference"] is None and measure != "mean_corruption_accuracy":
            assert low == high == value == pytest.approx(100), (overview["model"], measure)
