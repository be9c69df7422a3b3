"""The Compare-two page's queries: any two models on the same samples under every condition,
paired sample by sample."""

from __future__ import annotations

import polars as pl

from store.catalogue import plottable
from store.queries.common import Con, frame, ids

# The geometry a comparison reports per condition: the mean over samples of B's value minus A's
# on the same sample, with the spread of those differences for a paired interval.
SHIFTS = ("length", "angle_true", "margin_distance")


def compare_two(con: Con, a: int, b: int, conditions: list[int]) -> pl.DataFrame:
    """Per condition of `conditions`, model `a` (the reference) against model `b` on the same
    samples (a filter on ids, so only those conditions' rows are read): `n`, each
    one's accuracy, the discordant counts (`fragile`: a right and b wrong; `gain`: the reverse),
    and for each metric of SHIFTS the mean and standard deviation of b's value minus a's over
    the samples where both are finite (`<metric>_diff`, `<metric>_sd`, `<metric>_n`)."""
    shifts = ",\n".join(
        f"avg(y.{m} - x.{m}) FILTER (WHERE isfinite(y.{m} - x.{m})) AS {m}_diff, "
        f"stddev_samp(y.{m} - x.{m}) FILTER (WHERE isfinite(y.{m} - x.{m})) AS {m}_sd, "
        f"count(*) FILTER (WHERE isfinite(y.{m} - x.{m})) AS {m}_n"
        for m in map(plottable, SHIFTS))
    return frame(con, f"""
        SELECT c.condition_id, c.name AS condition, c.corruption, c.severity, c.family,
               count(*) AS n,
               avg(x.correct::DOUBLE) AS accuracy_a, avg(y.correct::DOUBLE) AS accuracy_b,
               sum((x.correct AND NOT y.correct)::INT)::BIGINT AS fragile,
               sum((y.correct AND NOT x.correct)::INT)::BIGINT AS gain,
               {shifts}
        FROM metrics x
        JOIN metrics y ON y.sample_id = x.sample_id AND y.condition_id = x.condition_id
        JOIN conditions c ON c.condition_id = x.condition_id
        WHERE x.model_id = $a AND y.model_id = $b
          AND x.condition_id = ANY($conditions) AND y.condition_id = ANY($conditions)
        GROUP BY ALL
        ORDER BY c.condition_id
    """, a=int(a), b=int(b), conditions=ids(conditions))
