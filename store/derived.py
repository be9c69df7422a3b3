"""Summaries derived from `metrics` when a store is written, so pages need not read every metric
row: per (model, condition) the accuracy, calibration and metric means (`summaries`,
`calibration`), and the moments of each model's per-sample corruption shifts (`shift_moments`).
The writer calls these; a cut without the moments computes the same numbers live. Per model,
the Overview's robustness figures with their bootstrap intervals over the samples
(`robustness_intervals`), which need every sample's counts and so cannot be a page's query."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import polars as pl

from store import analysis, statistics
from store.catalogue import PLOTTABLE, plottable
from store.frames import CLEAN_ID, Con, frame, ids

# "Averaged over severities" is `severity=None` in every function of the store; `shift_moments`
# keeps those rows under this severity (a key cannot be NULL, and no corruption has severity 0).
STORED_ALL_SEVERITIES = 0

# Equal-width confidence bins of the reliability diagram and of the ECE (Guo et al. 2017 use 15).
CALIBRATION_BINS = 15


def calibration_sql(bins: int = CALIBRATION_BINS) -> str:
    """Every (model, condition, bin) of `metrics`: the bin's count, mean confidence and accuracy.
    Bin b holds confidences in (b/bins, (b+1)/bins], as in Guo et al.'s reference code; a
    confidence of exactly 0 (impossible for a softmax maximum) would fall in bin 0."""
    return f"""
        SELECT model_id, condition_id,
               greatest(ceil(confidence::DOUBLE * {bins})::INTEGER - 1, 0)::TINYINT AS bin,
               count(*)::INTEGER AS n, avg(confidence::DOUBLE) AS confidence,
               avg(correct::DOUBLE) AS accuracy
        FROM metrics GROUP BY ALL
    """


def summaries_sql() -> str:
    """Every (model, condition) of `metrics` with the columns of `summaries`; reads `calibration`,
    which must be written first (the ECE is a sum over its bins)."""
    means = ", ".join(f"avg({name}) AS mean_{name}" for name in PLOTTABLE)
    return f"""
        WITH rows AS (
            SELECT model_id, condition_id, count(*)::INTEGER AS n, avg(correct::DOUBLE) AS accuracy,
                   {means}
            FROM metrics GROUP BY ALL
        ), ece AS (
            SELECT model_id, condition_id,
                   -- In bin order: the calibration rows come in whatever order DuckDB's threads
                   -- wrote them, and a float sum in another order differs in its last bit.
                   sum(n * abs(accuracy - confidence) ORDER BY bin) / sum(n) AS ece
            FROM calibration GROUP BY ALL
        ), flips AS (  -- against the dense reference, sample by sample
            SELECT m.model_id, p.condition_id,
                   count(*) FILTER (WHERE r.correct AND NOT p.correct)::INTEGER AS fragile,
                   count(*) FILTER (WHERE NOT r.correct AND p.correct)::INTEGER AS gain
            FROM models m
            JOIN metrics p ON p.model_id = m.model_id
            JOIN metrics r ON r.model_id = m.reference_model_id AND r.sample_id = p.sample_id
                          AND r.condition_id = p.condition_id
            GROUP BY ALL
        )
        SELECT r.model_id, r.condition_id, r.n, r.accuracy, e.ece, f.fragile, f.gain,
               {", ".join(f"r.mean_{name}" for name in PLOTTABLE)}
        FROM rows r JOIN ece e USING (model_id, condition_id)
        LEFT JOIN flips f USING (model_id, condition_id)
    """


def severity_changes_sql() -> str:
    """Every pruned model and corruption of `metrics` with the columns of `severity_changes`:
    the moments over samples of each sample's change against the reference, averaged over the
    corruption's severities."""
    # From integer sums, exact in any order: the store is the same however DuckDB's threads split
    # the work (a float sum or a streaming variance is not, in its last bits).
    return """
        WITH per_sample AS (  -- per sample, the severities' summed change and their number
            SELECT m.model_id, c.corruption, p.sample_id,
                   sum(p.correct::INT - r.correct::INT) AS d, count(*) AS k
            FROM models m
            JOIN metrics p ON p.model_id = m.model_id
            JOIN metrics r ON r.model_id = m.reference_model_id AND r.sample_id = p.sample_id
                          AND r.condition_id = p.condition_id
            JOIN conditions c ON c.condition_id = p.condition_id
            WHERE c.severity > 0
            GROUP BY ALL
        ), sums AS (
            SELECT model_id, corruption, count(*) AS n, max(k) AS k, sum(d)::HUGEINT AS s1,
                   sum(d * d)::HUGEINT AS s2
            FROM per_sample GROUP BY ALL
        )
        SELECT model_id, corruption, n::INTEGER AS n, s1::DOUBLE / (n * k) AS mean,
               CASE WHEN n > 1 THEN sqrt((n * s2 - s1 * s1)::DOUBLE / n / (n - 1)) / k END AS sd
        FROM sums
    """


def stored_severity(severity: int | None) -> int:
    """The `shift_moments.severity` of a severity, None meaning averaged over all of them."""
    return STORED_ALL_SEVERITIES if severity is None else int(severity)


def shift_moment_views(severities: Sequence[int]) -> list[tuple[str, int | None]]:
    """Every (metric, severity) the corruption-redundancy view can ask for, given the severities a
    store holds: each plottable metric at each severity and averaged over them (None)."""
    return [(metric, s) for metric in PLOTTABLE for s in [None, *sorted(set(severities))]]


def corruption_shifts(con: Con, metric: str, model_ids: list[int],
                      severity: int | None = None) -> pl.DataFrame:
    """Per (model, sample), each corruption's shift of `metric` against clean: at one severity or
    averaged over severities. Wide: one column per corruption, in build order."""
    col = plottable(metric)
    long = frame(con, f"""
        WITH clean AS (
            SELECT model_id, sample_id, {col} AS v FROM metrics
            WHERE condition_id = {CLEAN_ID} AND model_id = ANY($models)
        )
        SELECT mt.model_id, mt.sample_id, c.corruption, min(c.condition_id) AS first_id,
               avg(mt.{col}) - any_value(cl.v) AS shift
        FROM metrics mt
        JOIN conditions c USING (condition_id)
        JOIN clean cl USING (model_id, sample_id)
        WHERE c.severity > 0 AND ($severity IS NULL OR c.severity = $severity)
          AND mt.model_id = ANY($models)
          AND isfinite(mt.{col}) AND isfinite(cl.v)
        GROUP BY mt.model_id, mt.sample_id, c.corruption
    """, models=ids(model_ids), severity=severity)
    if long.is_empty():
        return pl.DataFrame()
    order = long.group_by("corruption").agg(pl.col("first_id").min()).sort("first_id")["corruption"]
    wide = long.pivot(on="corruption", index=["model_id", "sample_id"], values="shift")
    return wide.select("model_id", "sample_id", *order.to_list()).sort("model_id", "sample_id")


def corruption_shift_moments(con: Con, metric: str, model_ids: list[int],
                             severity: int | None = None) -> pl.DataFrame:
    """Rows of `shift_moments` for each of `model_ids`: the moments of its per-sample corruption
    shifts of `metric`, at one severity or (None) averaged over severities."""
    wide = corruption_shifts(con, metric, model_ids, severity)
    rows = []
    if not wide.is_empty():
        names = [c for c in wide.columns if c not in ("model_id", "sample_id")]
        for (model,), part in wide.group_by("model_id", maintain_order=True):
            n, mean, products = analysis.column_moments(part.select(names).to_numpy())
            rows += [(model, metric, stored_severity(severity), a, b, n, float(mean[i]),
                      float(products[i, j]))
                     for i, a in enumerate(names) for j, b in enumerate(names)]
    return pl.DataFrame(rows, orient="row", schema={
        "model_id": pl.Int16, "metric": pl.String, "severity": pl.Int8, "corruption_a": pl.String,
        "corruption_b": pl.String, "n": pl.Int64, "mean_a": pl.Float64, "products": pl.Float64})


def sample_errors(con: Con, model_id: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """What one model's robustness figures are made of, per sample (in id order): the benchmark
    corruptions (by name), how many severities each has, the (corruptions, samples) count of
    severities the sample is misclassified under, and (samples) 1 where it is misclassified on
    clean data. Empty where the model has no clean or no benchmark rows."""
    rows = frame(con, """
        SELECT c.corruption, mt.sample_id, count(*) FILTER (WHERE NOT mt.correct) AS errors,
               count(*) AS k
        FROM metrics mt JOIN conditions c USING (condition_id)
        WHERE mt.model_id = $m AND c.benchmark
        GROUP BY ALL ORDER BY c.corruption, mt.sample_id
    """, m=model_id)
    clean = frame(con, f"""
        SELECT (NOT correct)::INT AS wrong FROM metrics
        WHERE model_id = $m AND condition_id = {CLEAN_ID} ORDER BY sample_id
    """, m=model_id)["wrong"].to_numpy()
    names = rows["corruption"].unique(maintain_order=True).to_list()
    if not names or not len(clean) or rows.height != len(names) * len(clean):
        return [], np.zeros(0), np.zeros((0, 0)), np.zeros(0)
    severities = rows["k"].to_numpy().reshape(len(names), -1)[:, 0]
    return names, severities, rows["errors"].to_numpy().reshape(len(names), -1), clean


def robustness_intervals(con: Con, each: Callable[[Iterable], Iterable] = iter) -> pl.DataFrame:
    """Rows of `robustness_intervals`: every model's statistics.ROBUSTNESS_MEASURES against its
    reference with their bootstrap intervals over the test samples, paired with the reference's.
    `each` wraps the loop over models (a progress bar)."""
    models = con.execute("SELECT model_id, coalesce(reference_model_id, model_id) FROM models "
                         "ORDER BY model_id").fetchall()
    counts: dict[int, tuple] = {}  # a megabyte or so per model: references are read once
    rows = []
    for model, reference in each(models):
        for m in (model, reference):
            if m not in counts:
                counts[m] = sample_errors(con, m)
        (names, severities, errors, clean), (ref_names, _, ref_errors, ref_clean) = (
            counts[model], counts[reference])
        if not names or names != ref_names or errors.shape != ref_errors.shape:
            continue
        figures = statistics.robustness_bootstrap(errors, clean, ref_errors, ref_clean,
                                                  severities)
        if model == reference:  # its own reference: a ratio of a count to itself, no spread
            figures = {m: (v[0], v[0], v[0]) if m != "mean_corruption_accuracy" else v
                       for m, v in figures.items()}
        rows += [(model, measure, *values) for measure, values in figures.items()]
    return pl.DataFrame(rows, orient="row", schema={
        "model_id": pl.Int16, "measure": pl.String, "estimate": pl.Float64, "low": pl.Float64,
        "high": pl.Float64}).with_columns(pl.col(c).fill_nan(None) for c in ("estimate", "low",
                                                                              "high"))


# The accuracy measures whose per-sample form is a mean of `correct` over some conditions, so a
# two-way table of models x samples holds them (the Sweep's variance parts): measure -> those
# conditions.
SAMPLED_MEASURES = {"mean_corruption_accuracy": "c.benchmark",
                    "clean_accuracy": "c.corruption = 'clean'"}


def sample_accuracy_sql() -> str:
    """Every (model, measure of SAMPLED_MEASURES, sample) of `metrics` with the columns of
    `sample_accuracy`: under how many of the measure's conditions the sample is classified right,
    of how many."""
    return " UNION ALL ".join(f"""
        SELECT mt.model_id, '{measure}' AS measure, mt.sample_id,
               count(*) FILTER (WHERE mt.correct)::SMALLINT AS correct, count(*)::SMALLINT AS k
        FROM metrics mt JOIN conditions c USING (condition_id)
        WHERE {where}
        GROUP BY ALL""" for measure, where in SAMPLED_MEASURES.items())


def sampling_noise(con: Con) -> pl.DataFrame:
    """Rows of `sampling_noise`: per pruned target sparsity of two models or more and measure of
    SAMPLED_MEASURES, the interaction mean square of its models x samples table of per-sample
    accuracies (statistics.interaction_mean_square), over how many models and samples. Reads
    `sample_accuracy`, which must be written first."""
    pruned = frame(con, """
        SELECT model_id, target_sparsity FROM models
        WHERE reference_model_id IS NOT NULL AND target_sparsity IS NOT NULL ORDER BY model_id
    """)
    rows = []
    groups = pruned.group_by("target_sparsity", maintain_order=True).agg("model_id")
    for measure in SAMPLED_MEASURES:
        per_sample = frame(con, """
            SELECT model_id, sample_id, correct / k AS y FROM sample_accuracy
            WHERE measure = $measure AND model_id = ANY($models)
            ORDER BY model_id, sample_id
        """, measure=measure, models=ids(pruned["model_id"]))
        for sparsity, models in groups.iter_rows():
            part = per_sample.filter(pl.col("model_id").is_in(models))
            samples = part["sample_id"].n_unique()
            if len(models) < 2 or part.height != len(models) * samples or samples < 2:
                continue
            table = part["y"].to_numpy().reshape(len(models), samples)
            rows.append((sparsity, measure, len(models), samples,
                         statistics.interaction_mean_square(table)))
    return pl.DataFrame(rows, orient="row", schema={
        "target_sparsity": pl.Float64, "measure": pl.String, "models": pl.Int32,
        "samples": pl.Int32, "interaction_ms": pl.Float64})
