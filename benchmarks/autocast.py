"""What reduced-precision evaluation (`[evaluation] autocast`) does to the stored geometry.

    .venv/bin/python -m benchmarks.autocast FULL.duckdb AUTOCAST.duckdb

Both stores must come from the same config and the same trained weights (same `--checkpoints`),
one evaluated in float32 and one with `autocast = "bf16"` or `"fp16"`. Per metric, over every
(model, condition, sample), it prints the median and 99th percentile of the absolute difference
(relative to the float32 value's median magnitude for lengths and margins), the share of samples
whose prediction changed, and the largest change of a model's accuracy and ECE under any
condition. Record the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

METRICS = ["length", "angle_true", "angle_gap", "margin_distance", "logit_margin", "confidence",
           "loss"]


def compare(full: str, reduced: str) -> list[tuple[str, str]]:
    """Rows (what, figure) of the comparison."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{full}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{reduced}' AS b (READ_ONLY)")
    pairs = con.execute("""
        SELECT count(*) FROM a.metrics x JOIN b.metrics y USING (model_id, condition_id, sample_id)
    """).fetchall()[0][0]
    total = con.execute("SELECT count(*) FROM a.metrics").fetchall()[0][0]
    if pairs != total or not total:
        raise SystemExit(f"error: the stores do not hold the same rows ({pairs:,} of {total:,} "
                         "match): build both from one config and one --checkpoints folder")
    rows = [("rows compared", f"{total:,}")]
    for m in METRICS:
        med, p99, scale = con.execute(f"""
            SELECT median(abs(x.{m} - y.{m})), quantile_cont(abs(x.{m} - y.{m}), 0.99),
                   median(abs(x.{m}))
            FROM a.metrics x JOIN b.metrics y USING (model_id, condition_id, sample_id)
            WHERE isfinite(x.{m}) AND isfinite(y.{m})
        """).fetchall()[0]
        rows.append((f"|Δ {m}| median / p99", f"{med:.3g} / {p99:.3g}  (median |{m}| {scale:.3g})"))
    changed = con.execute("""
        SELECT avg((x.pred <> y.pred)::DOUBLE)
        FROM a.metrics x JOIN b.metrics y USING (model_id, condition_id, sample_id)
    """).fetchall()[0][0]
    rows.append(("predictions changed", f"{changed:.3%}"))
    acc, ece = con.execute("""
        SELECT max(abs(x.accuracy - y.accuracy)), max(abs(x.ece - y.ece))
        FROM a.summaries x JOIN b.summaries y USING (model_id, condition_id)
    """).fetchall()[0]
    rows.append(("largest accuracy change of a (model, condition)", f"{acc * 100:.2f} points"))
    rows.append(("largest ECE change of a (model, condition)", f"{ece * 100:.2f} points"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("full", help="the store evaluated in float32")
    parser.add_argument("reduced", help="the same build evaluated with autocast")
    args = parser.parse_args(argv)
    for what, figure in compare(args.full, args.reduced):
        print(f"| {what} | {figure} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
