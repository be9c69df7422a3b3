"""A store cut for sharing: some models, conditions, samples or classes of a store, in a smaller
store of the same schema version, with the summaries that depend on what was kept recomputed.

    python -m compute export STORE --out SMALL [--models ...] [--conditions ...]
                                               [--samples N | --classes ...] [--drop-angles]
                                               [--thumbnails N]

Rows keep their ids, so a cut answers every query as the original does on what it keeps. Written
through StoreWriter: `SMALL.partial`, renamed over SMALL only when complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from store.derived import shift_moment_views
from store.schema import SCHEMA_VERSION, StoreError, open_store
from store.writer import StoreWriter

# Below this many metric rows a cut does not store the corruption shifts' moments: the view
# computes them from the rows in tens of milliseconds, and the table with its key costs more
# than the rows themselves (16 of 33 MB in a 200-sample cut of the demo).
MOMENTS_FROM_ROWS = 2_000_000


def _pick(con: duckdb.DuckDBPyConnection, table: str, key: str, wanted: Sequence[str] | None,
          what: str) -> list[int]:
    """Ids of the rows of `table` named in `wanted` (all when None); an unknown name is an error
    that lists the valid ones."""
    rows = dict(con.execute(f"SELECT name, {key} FROM {table} ORDER BY {key}").fetchall())
    if wanted is None:
        return list(rows.values())
    unknown = [w for w in wanted if w not in rows]
    if unknown:
        raise StoreError(f"No {what} named {', '.join(unknown)} in the store; it has "
                         f"{', '.join(rows)}.")
    return sorted(rows[w] for w in dict.fromkeys(wanted))


def cut(source: str | Path, target: str | Path, *, models: Sequence[str] | None = None,
        conditions: Sequence[str] | None = None, samples: int | None = None,
        classes: Sequence[str] | None = None, drop_angles: bool = False,
        thumbnails: int | None = None) -> tuple[Path, list[str]]:
    """Write the cut to `target`; (its path, notes on what was added or left out to keep it
    valid). `samples` keeps that many test samples spread evenly over the classes (the lowest ids
    of each), `classes` the samples of those classes; `thumbnails` caps the corrupted images kept
    per condition (the inspection subset first). Clean is always kept, and so is the dense
    reference of every pruned model kept (mCE and the pruning views need them)."""
    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise StoreError("--out must be a new file, not the store being cut.")
    if samples is not None and classes is not None:
        raise StoreError("Give --samples or --classes, not both.")
    if samples is not None and samples < 1:
        raise StoreError(f"--samples must be at least 1, not {samples}.")
    if thumbnails is not None and thumbnails < 0:
        raise StoreError(f"--thumbnails must be 0 or more, not {thumbnails}.")
    src = open_store(source)
    try:
        meta = dict(src.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(f"{source} has schema version {meta.get('schema_version')}; "
                             f"rebuild it (version {SCHEMA_VERSION}) before cutting it.")
        notes: list[str] = []
        model_ids = _pick(src, "models", "model_id", models, "model")
        refs = {r for (r,) in src.execute(
            "SELECT DISTINCT reference_model_id FROM models WHERE model_id = ANY($m) "
            "AND reference_model_id IS NOT NULL", {"m": model_ids}).fetchall()}
        added = sorted(refs - set(model_ids))
        if added:
            names = [n for (n,) in src.execute(
                "SELECT name FROM models WHERE model_id = ANY($m)", {"m": added}).fetchall()]
            notes.append(f"kept the dense reference{'s' if len(names) > 1 else ''} "
                         f"{', '.join(names)} of the pruned models chosen")
            model_ids = sorted(set(model_ids) | refs)
        condition_ids = _pick(src, "conditions", "condition_id", conditions, "condition")
        clean = [c for (c,) in src.execute(
            "SELECT condition_id FROM conditions WHERE corruption = 'clean'").fetchall()]
        if clean and clean[0] not in condition_ids:
            condition_ids = sorted({*condition_ids, clean[0]})
            notes.append("kept the clean condition")
        class_ids = _pick(src, "classes", "class_id", classes, "class")
        if samples is not None:  # round robin over the classes, lowest ids first
            sample_ids = sorted(s for (s,) in src.execute("""
                WITH r AS (SELECT sample_id, label,
                                  row_number() OVER (PARTITION BY label ORDER BY sample_id) AS k
                           FROM samples)
                SELECT sample_id FROM r ORDER BY k, label LIMIT $n
            """, {"n": samples}).fetchall())
        else:
            sample_ids = [s for (s,) in src.execute(
                "SELECT sample_id FROM samples WHERE label = ANY($c) ORDER BY sample_id",
                {"c": class_ids}).fetchall()]
        if not sample_ids:
            raise StoreError("The cut would keep no sample: choose other classes.")
        all_samples = src.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        num_classes = src.execute("SELECT count(*) FROM classes").fetchall()[0][0]
    finally:
        src.close()

    fingerprint = f"cut of {meta.get('fingerprint', '?')}"
    target.with_name(target.name + ".partial").unlink(missing_ok=True)
    with StoreWriter(target, fingerprint, num_classes) as w:
        con = w.con
        con.execute(f"ATTACH '{_quoted(source)}' AS src (READ_ONLY)")
        keep = {"m": model_ids, "c": condition_ids, "s": sample_ids}
        con.execute("BEGIN")
        con.execute("INSERT INTO meta SELECT * FROM src.meta WHERE key NOT IN "
                    "('schema_version', 'fingerprint')")
        con.execute("INSERT INTO classes SELECT * FROM src.classes")
        con.execute("INSERT INTO models SELECT * FROM src.models WHERE model_id = ANY($m)",
                    {"m": model_ids})
        for table in ("class_directions", "class_pairs"):
            con.execute(f"INSERT INTO {table} SELECT * FROM src.{table} "
                        "WHERE model_id = ANY($m)", {"m": model_ids})
        con.execute("INSERT INTO conditions SELECT * FROM src.conditions "
                    "WHERE condition_id = ANY($c)", {"c": condition_ids})
        con.execute("INSERT INTO samples SELECT * FROM src.samples "
                    "WHERE sample_id = ANY($s)", {"s": sample_ids})
        angles = "NULL" if drop_angles else "angles"
        con.execute(f"""
            INSERT INTO metrics
            SELECT * REPLACE ({angles} AS angles) FROM src.metrics
            WHERE model_id = ANY($m) AND condition_id = ANY($c)
              AND sample_id = ANY($s)
        """, keep)
        # Capped per condition, the inspection subset (kept under every condition) first.
        limit = "" if thumbnails is None else (
            "QUALIFY row_number() OVER (PARTITION BY condition_id ORDER BY n DESC, sample_id) <= $t")
        con.execute(f"""
            INSERT INTO condition_thumbnails
            WITH t AS (SELECT *, count(*) OVER (PARTITION BY sample_id) AS n
                       FROM src.condition_thumbnails
                       WHERE condition_id = ANY($c) AND sample_id = ANY($s))
            SELECT condition_id, sample_id, thumbnail FROM t {limit}
        """, {"c": condition_ids, "s": sample_ids, **({"t": thumbnails} if limit else {})})
        if len(sample_ids) == all_samples:
            con.execute("INSERT INTO model_similarity SELECT * FROM src.model_similarity "
                        "WHERE model_a = ANY($m) AND model_b = ANY($m) "
                        "AND condition_id = ANY($c)", {"m": model_ids, "c": condition_ids})
        else:  # CKA was over every test sample; the features that would redo it are not stored
            notes.append("left out linear CKA (computed over every test sample, not the ones kept)")
        con.execute("COMMIT")
        w.put_meta({"cut_from": source.name, "cut": "; ".join(
            [f"{len(model_ids)} models, {len(condition_ids)} conditions, {len(sample_ids)} samples"]
            + (["angles dropped"] if drop_angles else []))})
        severities = [s for (s,) in con.execute(
            "SELECT DISTINCT severity FROM conditions WHERE severity > 0 ORDER BY 1").fetchall()]
        con.execute("DETACH src")
        rows = con.execute("SELECT count(*) FROM metrics").fetchall()[0][0]
        if rows >= MOMENTS_FROM_ROWS:
            for metric, severity in shift_moment_views(severities):
                w.put_shift_moments(metric, severity)
        else:
            notes.append(f"left out the stored shift moments: at {rows:,} metric rows the "
                         "corruption-redundancy view computes them as fast from the rows")
        path = w.commit()
    if drop_angles:
        notes.append("dropped the angles to every class: the class-pair plane needs them")
    return path, notes


def _quoted(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")
