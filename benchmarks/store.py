"""How fast the store is written and read at CIFAR-10-C size, and how small it is.

    .venv/bin/python -m benchmarks.store [--models 8] [--samples 10000] [--out /tmp/rle-bench.duckdb]
    .venv/bin/python -m benchmarks.store --models 85 --keep    # a study: 81.6 million rows
    .venv-app/bin/python -m benchmarks.store --models 85 --reuse   # read side only, no torch

Builds a synthetic store of CIFAR-10-C size (8 models x 96 conditions x 10,000
samples = 7.7 million metric rows) with the real writer, the metrics computed by the real
geometry code from random features (so the columns compress like real ones). The models are
shaped like a sweep: a dense model, then the seven methods at 50, 80, 90 and 95 % with three
seeds each, in that order, as many as asked (85: all of them, 81.6 million rows). Then:
- write speed: metric rows per second through `StoreWriter.put_metrics` (the Arrow load and its
  transaction; the geometry itself is timed apart), and bytes per metric row on disk with and
  without the FLOAT[C] `angles` column;
- read speed: every query the pages run, with the arguments a page starts with, each run warm
  20 times, reported as p50 / p95 milliseconds (the app caches results, so this is what the first
  view of a choice costs).
Targets (docs/benchmarks.md): >= 2 million rows/s written, <= 32 bytes per row without `angles`,
every page query <= 100 ms p95 on a 2-core machine, and the reading process's peak memory (RSS)
below 2 GB. `--reuse` skips the build and reads the store at `--out` (in the app's environment,
without torch: the memory is then the read side's alone); `--keep` leaves it for that.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from store import open_store, queries
from store import statistics as tests

CORRUPTIONS = [
    ("gaussian_noise", "noise"), ("shot_noise", "noise"), ("impulse_noise", "noise"),
    ("defocus_blur", "blur"), ("glass_blur", "blur"), ("motion_blur", "blur"), ("zoom_blur", "blur"),
    ("snow", "weather"), ("frost", "weather"), ("fog", "weather"), ("brightness", "weather"),
    ("contrast", "digital"), ("elastic_transform", "digital"), ("pixelate", "digital"),
    ("jpeg_compression", "digital"), ("speckle_noise", "extra"), ("gaussian_blur", "extra"),
    ("spatter", "extra"), ("saturate", "extra"),
]
CLASSES, DIM = 10, 64
METHODS = ["magnitude", "gmp", "ltr", "random", "snip", "edgepopup", "biprop"]
SPARSITIES = [0.5, 0.8, 0.9, 0.95]
SEEDS = [1, 2, 3]


def population(n: int) -> list[tuple[str, str, str, float | None, int | None]]:
    """(name, recipe, method, target sparsity, seed) of the first `n` models of a sweep."""
    out = [("dense", "dense", "dense", None, None)]
    out += [(f"{m}-{round(s * 100)}-s{seed}", m, m, s, seed)
            for m in METHODS for s in SPARSITIES for seed in SEEDS]
    if n > len(out):
        raise SystemExit(f"error: --models goes up to {len(out)}")
    return out[:n]


def build(path: Path, n_models: int, n_samples: int) -> tuple[float, float, int]:
    """Write the synthetic store; returns (seconds in put_metrics, seconds in geometry, rows).
    The derived shift moments are timed and printed apart."""
    import torch

    from compute.geometry import geometry
    from store.derived import shift_moment_views
    from store.records import ConditionRecord, ModelRecord
    from store.writer import StoreWriter

    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n_samples) % CLASSES
    conditions = [("clean", 0, "clean")] + [(c, s, f) for c, f in CORRUPTIONS for s in range(1, 6)]
    means = torch.randn(CLASSES, DIM, generator=gen, dtype=torch.float64) * 2
    weights = [torch.randn(CLASSES, DIM, generator=gen, dtype=torch.float64) for _ in range(n_models)]
    biases = [torch.randn(CLASSES, generator=gen, dtype=torch.float64) * 0.1 for _ in range(n_models)]
    put_s = geo_s = 0.0
    rows = 0
    with StoreWriter(path, "bench", CLASSES) as w:
        w.put_classes([f"class{k}" for k in range(CLASSES)])
        w.put_conditions([ConditionRecord(cid, "clean" if s == 0 else f"{c}-{s}", c, s, f,
                                          s > 0 and f != "extra")
                          for cid, (c, s, f) in enumerate(conditions)])
        w.put_samples(labels.numpy(), [f"test/{i}.png" for i in range(n_samples)],
                      [b"\x89PNG" + bytes(200)] * n_samples)
        for m, (name, recipe, method, target, seed) in enumerate(population(n_models)):
            w.put_model(ModelRecord(m, name, "synthetic", method, target, target or 0.0, 1, 1,
                                    None if m == 0 else 0, CLASSES, DIM, recipe=recipe, seed=seed),
                        weights[m].numpy(), biases[m].numpy())
        for cid, (_, severity, _) in enumerate(conditions):
            base = means[labels] + torch.randn(n_samples, DIM, generator=gen, dtype=torch.float64) * (
                1 + 0.3 * severity)
            pairs = []
            for m in range(n_models):
                f = (base + 0.3 * torch.randn(n_samples, DIM, generator=gen, dtype=torch.float64)).relu()
                start = time.perf_counter()
                out = geometry(f, means + 0.5 * weights[m], biases[m], labels)
                pairs.append((m, cid, np.arange(n_samples, dtype=np.int32),
                              {k: v.numpy() for k, v in out.items()}))
                geo_s += time.perf_counter() - start
                rows += n_samples
            start = time.perf_counter()
            w.put_metrics_many(pairs)  # as a build writes: every model of a condition at once
            put_s += time.perf_counter() - start
            ids = list(range(n_models))
            w.put_similarity(cid, ids, np.eye(n_models))
        start = time.perf_counter()
        keys = shift_moment_views(range(1, 6))
        for metric, severity in keys:
            w.put_shift_moments(metric, severity)
        moments_s = time.perf_counter() - start
        print(f"shift moments, as a build derives them: {len(keys)} (metric, severity) views "
              f"in {moments_s:.1f} s")
        start = time.perf_counter()
        w.put_robustness_intervals()
        print(f"robustness intervals (bootstrap, {n_models} models): "
              f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        w.commit()
        commit_s = time.perf_counter() - start
        print(f"summaries, severity changes, sampling noise and commit: {commit_s:.1f} s")
        put_s += commit_s
    return put_s, geo_s, rows


def bytes_without_angles(path: Path, rows: int) -> float:
    """On-disk bytes per metric row of a copy of `metrics` without `angles`."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "no-angles.duckdb"
        con = duckdb.connect(str(copy))
        con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        con.execute("CREATE TABLE metrics AS SELECT * EXCLUDE (angles) FROM src.metrics")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
        con.close()
        return copy.stat().st_size / rows


def page_queries(con: duckdb.DuckDBPyConnection) -> dict[str, callable]:
    """Every query the pages run, with the arguments a page starts with: on a sweep of more than
    a dozen models, the model pickers start at every recipe at 90 % with the first seed
    (app/pickers.py), the Overview averages the seeds."""
    all_models = [r[0] for r in con.execute("SELECT model_id FROM models").fetchall()]
    if len(all_models) > 12:
        models = [r[0] for r in con.execute(
            "SELECT model_id FROM models WHERE method = 'dense' OR (target_sparsity = 0.9 "
            "AND coalesce(seed, 1) = 1)").fetchall()]
    else:
        models = all_models[:3]
    picked = models if len(all_models) > 12 else all_models
    classes = list(range(CLASSES))
    noisy = con.execute(
        "SELECT condition_id FROM conditions WHERE name = 'gaussian_noise-5'").fetchall()[0][0]
    last = con.execute("SELECT max(condition_id) FROM conditions").fetchall()[0][0]
    groups = queries.seed_groups(con)
    pruned = models[1] if len(models) > 1 else 0
    at_five = [r[0] for r in con.execute(
        "SELECT condition_id FROM conditions WHERE severity IN (0, 5)").fetchall()]
    # Two recipes at 90 % with all their seeds (the Compare two and head-to-head choices).
    at_90 = groups.filter(pl.col("target_sparsity") == 0.9)
    names = at_90["group"].unique(maintain_order=True).to_list()
    recipes = tuple(at_90.filter(pl.col("group") == g)["model_id"].to_list()
                    for g in (names * 2)[:2]) if names else ([0], [0])
    return {
        "overview: store_summary": lambda: queries.store_summary(con),
        "overview: model_overview (mCE), seeds averaged": lambda: queries.average_seeds(
            queries.model_overview(con).drop("reference", "arch"), groups,
            ["sparsity", "clean_accuracy", "mean_corruption_accuracy", "mce", "relative_mce"]),
        "overview: robustness_intervals": lambda: queries.robustness_intervals(con),
        "overview: accuracy_by_corruption": lambda: queries.average_seeds(
            queries.accuracy_by_corruption(con, None), groups, ["accuracy"]),
        "overview: accuracy_by_family": lambda: queries.average_seeds(
            queries.accuracy_by_family(con), groups, ["accuracy"]),
        "overview: accuracy_by_severity": lambda: queries.average_seeds(
            queries.accuracy_by_severity(con, None), groups, ["accuracy"]),
        "pruning: change_vs_dense + near_chance + tests": lambda: (
            tests.severity_mean_tests(queries.change_vs_dense(con, None)),
            queries.near_chance_models(con)),
        "pruning: pruning_flips": lambda: queries.pruning_flips(con, 5),
        "compare: compare_two (severity 5) + tests": lambda: tests.paired_tests(
            queries.compare_two(con, models[0], pruned, at_five, ("margin_distance",))),
        "compare: two recipes (3 seeds each, severity 5) + tests": lambda: (
            tests.severity_mean_tests(queries.compare_groups(con, *recipes, at_five,
                                                             ("margin_distance",))),
            queries.accuracy_grid(con)),
        "sweep: head to head, the per-sample test pooled over 3 seeds": lambda: (
            queries.pooled_sample_difference(con, "mean_corruption_accuracy", *recipes)),
        "sweep: sparsity_curves": lambda: queries.sparsity_curves(con, "mean_corruption_accuracy"),
        "sweep: seed_spread + seed_values": lambda: (
            queries.seed_spread(con, "mean_corruption_accuracy"),
            queries.seed_values(con, "mean_corruption_accuracy")),
        "sweep: variance parts (seed_values + sampling_variance)": lambda: (
            queries.seed_values(con, "mean_corruption_accuracy"),
            queries.sampling_variance(con, "mean_corruption_accuracy")),
        "sweep: seed_disagreement (last condition)": lambda: queries.seed_disagreement(con, last),
        "sweep: reliability + ECE (4 models)": lambda: (
            queries.reliability(con, all_models[:4], last),
            queries.ece_by_severity(con, all_models[:4]), queries.ece(con)),
        "geometry: metric_histogram x4": lambda: [
            queries.metric_histogram(con, m, models, noisy, classes)
            for m in ("length", "angle_true", "angle_gap", "margin_distance")],
        "geometry: selection_size": lambda: queries.selection_size(con, models, noisy, classes),
        "geometry: angle_length_bins": lambda: queries.angle_length_bins(con, models, noisy, classes),
        "geometry: angle_length_points (1 class)":
            lambda: queries.angle_length_points(con, models, noisy, [0]),
        "geometry: shift_summary": lambda: queries.shift_summary(con, models, noisy, classes),
        "geometry: shift_histogram": lambda: queries.shift_histogram(con, "margin_distance", models,
                                                                    noisy, classes),
        "geometry: class_directions + pair angles": lambda: (queries.class_directions(con, models),
                                                             queries.class_pair_angles(con, models)),
        "geometry: class_pair_plane + boundary": lambda: (
            queries.class_pair_plane(con, models, noisy, 3, 5),
            queries.class_pair_boundary(con, models, 3, 5)),
        "geometry: class_pair_bins + boundary": lambda: (
            queries.class_pair_bins(con, models, noisy, 3, 5),
            queries.class_pair_boundary(con, models, 3, 5)),
        "geometry: angle_length_points, each model on its own scale (1 class)":
            lambda: queries.angle_length_points(con, models, noisy, [0], per_model=True),
        "geometry: paired_shift_cells": lambda: queries.paired_shift_cells(
            con, "margin_distance", models[0], models[-1], noisy, classes),
        "geometry: chance_under": lambda: queries.chance_under(con, models, noisy),
        f"similarity: model_similarity ({len(picked)} models)":
            lambda: queries.model_similarity(con, 0, picked),
        "similarity: corruption_correlation (1 model, mean)":
            lambda: queries.corruption_correlation(con, "margin_distance", [0], None),
        "similarity: corruption_correlation (1 model, sev 3)":
            lambda: queries.corruption_correlation(con, "margin_distance", [0], 3),
        f"similarity: corruption_correlation ({len(all_models)} models, mean)":
            lambda: queries.corruption_correlation(con, "margin_distance", all_models, None),
        "samples: sample_category (pruning-fragile)": lambda: queries.sample_category(
            con, "pruning-fragile", pruned, 0, picked, classes),
        "samples: sample_category (always-right)": lambda: queries.sample_category(
            con, "always-right", pruned, 0, picked, classes),
        "samples: exemplars of a recipe (3 seeds)": lambda: (
            queries.sample_category(con, "pruning-identified", pruned, noisy, picked, classes),
            queries.exemplar_modes(con, pruned, noisy)),
        "samples: sample_metrics + path + images": lambda: (
            queries.sample_metrics(con, 17, "fog"), queries.sample_path(con, 17, "fog"),
            queries.sample_images(con, 17)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "rle-bench.duckdb"))
    parser.add_argument("--keep", action="store_true", help="leave the store at --out")
    parser.add_argument("--reuse", action="store_true",
                        help="read the store already at --out instead of building one")
    args = parser.parse_args()
    path = Path(args.out)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"duckdb {duckdb.__version__}")
    if not args.reuse:
        import torch

        path.unlink(missing_ok=True)
        torch.set_num_threads(os.cpu_count() or 1)
        start = time.perf_counter()
        put_s, geo_s, rows = build(path, args.models, args.samples)
        print(f"\nwrote {rows:,} metric rows in {time.perf_counter() - start:,.0f} s: "
              f"{rows / put_s / 1e6:.2f} million rows/s through the writer "
              f"(geometry apart: {rows / geo_s / 1e6:.2f} million rows/s)")
    con = open_store(path)  # as the app opens it: read-only, DuckDB's memory capped at 2 GB
    rows = con.execute("SELECT sum(n) FROM summaries").fetchall()[0][0]
    print(f"\n{'query':52s} {'p50 ms':>8s} {'p95 ms':>8s}")
    worst = 0.0
    for name, fn in page_queries(con).items():
        fn()  # warm
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        worst = max(worst, p95)
        print(f"{name:52s} {statistics.median(times):8.1f} {p95:8.1f}")
    print(f"\nslowest p95: {worst:.1f} ms (target: 100 ms)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"peak memory (RSS) of this process{' (read side only)' if args.reuse else ''}: "
          f"{peak:.2f} GiB (target: below 2 GB)")
    con.close()
    # After the memory figure: the copy it measures with is not what the app does.
    size = path.stat().st_size
    print(f"file {size / 2**20:,.0f} MiB: {size / rows:.1f} bytes per metric row with angles, "
          f"{bytes_without_angles(path, rows):.1f} without (the rest of the store included above)")
    if not (args.keep or args.reuse):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
