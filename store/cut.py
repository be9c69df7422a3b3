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
from dataclasses import dataclass, field
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


@dataclass
class _Kept:
    """What a cut keeps: ids per table, and notes on what was added to keep it valid."""

    models: list[int]
    conditions: list[int]
    samples: list[int]
    notes: list[str] = field(default_factory=list)


def _check_options(source: Path, target: Path, samples: int | None,
                   classes: Sequence[str] | None, thumbnails: int | None) -> None:
    if source.resolve() == target.resolve():
        raise StoreError("--out must be a new file, not the store being cut.")
    if samples is not None and classes is not None:
        raise StoreError("Give --samples or --classes, not both.")
    if samples is not None and samples < 1:
        raise StoreError(f"--samples must be at least 1, not {samples}.")
    if thumbnails is not None and thumbnails < 0:
        raise StoreError(f"--thumbnails must be 0 or more, not {thumbnails}.")


def _with_references(src: duckdb.DuckDBPyConnection, model_ids: list[int],
                     notes: list[str]) -> list[int]:
    """The chosen models and the dense reference of every pruned one among them."""
    refs = {r for (r,) in src.execute(
        "SELECT DISTINCT reference_model_id FROM models WHERE model_id = ANY($m) "
        "AND reference_model_id IS NOT NULL", {"m": model_ids}).fetchall()}
    added = sorted(refs - set(model_ids))
    if added:
        names = [n for (n,) in src.execute(
            "SELECT name FROM models WHERE model_id = ANY($m)", {"m": added}).fetchall()]
        notes.append(f"kept the dense reference{'s' if len(names) > 1 else ''} "
                     f"{', '.join(names)} of the pruned models chosen")
    return sorted(set(model_ids) | refs)


def _with_clean(src: duckdb.DuckDBPyConnection, condition_ids: list[int],
                notes: list[str]) -> list[int]:
    clean = [c for (c,) in src.execute(
        "SELECT condition_id FROM conditions WHERE corruption = 'clean'").fetchall()]
    if clean and clean[0] not in condition_ids:
        notes.append("kept the clean condition")
        return sorted({*condition_ids, clean[0]})
    return condition_ids


def _sample_ids(src: duckdb.DuckDBPyConnection, samples: int | None,
                classes: Sequence[str] | None) -> list[int]:
    """`samples` spread evenly over the classes (round robin, lowest ids first), else every
    sample of `classes` (all when None)."""
    if samples is not None:
        return sorted(s for (s,) in src.execute("""
            WITH r AS (SELECT sample_id, label,
                              row_number() OVER (PARTITION BY label ORDER BY sample_id) AS k
                       FROM samples)
            SELECT sample_id FROM r ORDER BY k, label LIMIT $n
        """, {"n": samples}).fetchall())
    class_ids = _pick(src, "classes", "class_id", classes, "class")
    return [s for (s,) in src.execute(
        "SELECT sample_id FROM samples WHERE label = ANY($c) ORDER BY sample_id",
        {"c": class_ids}).fetchall()]


def _select(src: duckdb.DuckDBPyConnection, models: Sequence[str] | None,
            conditions: Sequence[str] | None, samples: int | None,
            classes: Sequence[str] | None) -> _Kept:
    notes: list[str] = []
    model_ids = _with_references(src, _pick(src, "models", "model_id", models, "model"), notes)
    condition_ids = _with_clean(
        src, _pick(src, "conditions", "condition_id", conditions, "condition"), notes)
    sample_ids = _sample_ids(src, samples, classes)
    if not sample_ids:
        raise StoreError("The cut would keep no sample: choose other classes.")
    return _Kept(model_ids, condition_ids, sample_ids, notes)


def _copy_rows(con: duckdb.DuckDBPyConnection, kept: _Kept, drop_angles: bool,
               thumbnails: int | None, every_sample: bool) -> None:
    """Copy the kept rows of every table from the attached `src` (one transaction)."""
    keep = {"m": kept.models, "c": kept.conditions, "s": kept.samples}
    con.execute("INSERT INTO meta SELECT * FROM src.meta WHERE key NOT IN "
                "('schema_version', 'fingerprint')")
    con.execute("INSERT INTO classes SELECT * FROM src.classes")
    for table in ("models", "class_directions", "class_pairs"):
        con.execute(f"INSERT INTO {table} SELECT * FROM src.{table} WHERE model_id = ANY($m)",
                    {"m": kept.models})
    con.execute("INSERT INTO conditions SELECT * FROM src.conditions "
                "WHERE condition_id = ANY($c)", {"c": kept.conditions})
    # A transfer attack's source_model_id stays as built, even where the cut leaves that model out.
    con.execute("INSERT INTO attacks SELECT * FROM src.attacks WHERE condition_id = ANY($c)",
                {"c": kept.conditions})
    con.execute("INSERT INTO radii SELECT * FROM src.radii "
                "WHERE model_id = ANY($m) AND sample_id = ANY($s)",
                {"m": kept.models, "s": kept.samples})
    con.execute("INSERT INTO samples SELECT * FROM src.samples WHERE sample_id = ANY($s)",
                {"s": kept.samples})
    angles = "NULL" if drop_angles else "angles"
    con.execute(f"""
        INSERT INTO metrics
        SELECT * REPLACE ({angles} AS angles) FROM src.metrics
        WHERE model_id = ANY($m) AND condition_id = ANY($c) AND sample_id = ANY($s)
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
    """, {"c": kept.conditions, "s": kept.samples, **({"t": thumbnails} if limit else {})})
    if every_sample:
        con.execute("INSERT INTO model_similarity SELECT * FROM src.model_similarity "
                    "WHERE model_a = ANY($m) AND model_b = ANY($m) AND condition_id = ANY($c)",
                    {"m": kept.models, "c": kept.conditions})
    else:  # CKA was over every test sample; the features that would redo it are not stored
        kept.notes.append("left out linear CKA (computed over every test sample, not the ones "
                          "kept)")


def _put_moments(w: StoreWriter, notes: list[str]) -> None:
    """The corruption shifts' moments, where the cut is large enough to need them stored."""
    severities = [s for (s,) in w.con.execute(
        "SELECT DISTINCT severity FROM conditions WHERE severity > 0 ORDER BY 1").fetchall()]
    rows = w.con.execute("SELECT count(*) FROM metrics").fetchall()[0][0]
    if rows >= MOMENTS_FROM_ROWS:
        for metric, severity in shift_moment_views(severities):
            w.put_shift_moments(metric, severity)
    else:
        notes.append(f"left out the stored shift moments: at {rows:,} metric rows the "
                     "corruption-redundancy view computes them as fast from the rows")


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
    _check_options(source, target, samples, classes, thumbnails)
    src = open_store(source)
    try:
        meta = dict(src.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(f"{source} has schema version {meta.get('schema_version')}; "
                             f"rebuild it (version {SCHEMA_VERSION}) before cutting it.")
        kept = _select(src, models, conditions, samples, classes)
        all_samples = src.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        num_classes = src.execute("SELECT count(*) FROM classes").fetchall()[0][0]
    finally:
        src.close()

    target.with_name(target.name + ".partial").unlink(missing_ok=True)
    with StoreWriter(target, f"cut of {meta.get('fingerprint', '?')}", num_classes) as w:
        w.con.execute(f"ATTACH '{_quoted(source)}' AS src (READ_ONLY)")
        with w.transaction() as con:
            _copy_rows(con, kept, drop_angles, thumbnails, len(kept.samples) == all_samples)
        w.put_meta({"cut_from": source.name, "cut": "; ".join(
            [f"{len(kept.models)} models, {len(kept.conditions)} conditions, "
             f"{len(kept.samples)} samples"] + (["angles dropped"] if drop_angles else []))})
        w.con.execute("DETACH src")
        _put_moments(w, kept.notes)
        path = w.commit()
    if drop_angles:
        kept.notes.append("dropped the angles to every class: the class-pair plane needs them")
    return path, kept.notes


def _quoted(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")
