"""The writer compute uses: bulk Arrow loads into a partial file, renamed over the target when done.

A build never touches the target until it is complete, so an interrupted build leaves the previous
store byte-identical and a running app keeps reading it. The partial file carries the build's
fingerprint; a rerun with the same fingerprint resumes it, skipping (model, condition) pairs that
are already in it (each condition is written in one transaction, `put_condition`, so it is either
whole or absent; every write goes through `transaction`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from store import derived
from store.catalogue import METRICS
from store.records import AttackRecord, ConditionRecord, ConditionResults, ModelRecord
from store.schema import SCHEMA_VERSION, create_schema, summary_columns

# Columns of `metrics` after the keys and `angles`, with their Arrow types, from the catalogue.
METRIC_COLUMNS: dict[str, pa.DataType] = {m.name: m.arrow_type for m in METRICS
                                          if m.name != "angles"}


def _nullable(values: np.ndarray, dtype: pa.DataType) -> pa.Array:
    """NaN means 'undefined' in the compute arrays and NULL in the store."""
    mask = np.isnan(values) if np.issubdtype(values.dtype, np.floating) else None
    return pa.array(values, type=dtype, mask=mask)


class StoreWriter:
    """Create (or resume) one store build and commit it atomically.

    Use as a context manager: leaving the block without `commit()` keeps the partial file, so the
    next run with the same fingerprint resumes where this one stopped.
    """

    def __init__(self, target: str | Path, fingerprint: str, num_classes: int) -> None:
        self.target = Path(target)
        self.partial = self.target.with_name(self.target.name + ".partial")
        self.fingerprint = fingerprint
        self._in_transaction = False
        self._intervals_put = False
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.resumed = self._can_resume()
        if not self.resumed:
            for leftover in (self.partial, self.partial.with_name(self.partial.name + ".wal")):
                leftover.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.partial))
        if not self.resumed:
            create_schema(self.con, num_classes)
            self.put_meta({"fingerprint": fingerprint})

    def _can_resume(self) -> bool:
        if not self.partial.exists():
            return False
        try:
            with duckdb.connect(str(self.partial), read_only=True) as con:
                rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except duckdb.Error:
            return False
        return (
            rows.get("fingerprint") == self.fingerprint
            and rows.get("schema_version") == SCHEMA_VERSION
        )

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the partial file: everything in the block is stored, or (an error
        inside) nothing of it, so a resumed build never sees half a pair or half a model."""
        if self._in_transaction:  # a step of a larger write: the outer block commits
            yield self.con
            return
        self.con.execute("BEGIN")
        self._in_transaction = True
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self.con.execute("COMMIT")

    def _insert(self, table: str, data: pa.Table) -> None:
        """Bulk-append an Arrow table (columns named as in the schema) inside the open transaction."""
        if table == "metrics":  # what the stored intervals were computed from has changed
            self._intervals_put = False
        self.con.register("_incoming", data)
        try:
            cols = ", ".join(data.column_names)
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    # --- dimension tables -------------------------------------------------------------------

    def put_meta(self, values: Mapping[str, str]) -> None:
        self.con.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
        )

    def _replace(self, table: str, data: pa.Table) -> None:
        """Replace all rows of a small dimension table."""
        with self.transaction():
            self.con.execute(f"DELETE FROM {table}")
            self._insert(table, data)

    def put_classes(self, names: Sequence[str]) -> None:
        self._replace("classes", pa.table({
            "class_id": pa.array(np.arange(len(names)), pa.int16()), "name": list(names)}))

    def put_conditions(self, conditions: Sequence[ConditionRecord]) -> None:
        self._replace("conditions", pa.table({
            "condition_id": pa.array([c.condition_id for c in conditions], pa.int16()),
            "name": [c.name for c in conditions],
            "corruption": [c.corruption for c in conditions],
            "severity": pa.array([c.severity for c in conditions], pa.int8()),
            "family": [c.family for c in conditions],
            "benchmark": [bool(c.benchmark) for c in conditions],
        }))

    def put_attacks(self, attacks: Sequence[AttackRecord]) -> None:
        """The attack conditions' parameters (after the models: a transfer names its source)."""
        column = lambda name: [getattr(a, name) for a in attacks]  # noqa: E731
        self._replace("attacks", pa.table({
            "condition_id": pa.array(column("condition_id"), pa.int16()),
            "attack": pa.array(column("attack"), pa.string()),
            "norm": pa.array(column("norm"), pa.string()),
            "budget": pa.array(column("budget"), pa.float64()),
            "steps": pa.array(column("steps"), pa.int16()),
            "step_size": pa.array(column("step_size"), pa.float64()),
            "random_start": pa.array(column("random_start"), pa.bool_()),
            "mode": pa.array(column("mode"), pa.string()),
            "source_model_id": pa.array(column("source_model_id"), pa.int16()),
            "samples": pa.array(column("samples"), pa.int32()),
        }))

    def put_radii(self, model_id: int, sample_ids: np.ndarray, method: str, norm: str,
                  radius: np.ndarray) -> None:
        """One model's input-space radii (NaN: none found, stored as NULL), in one transaction."""
        with self.transaction():
            self.con.execute("DELETE FROM radii WHERE model_id = ?", [model_id])
            n = len(sample_ids)
            self._insert("radii", pa.table({
                "model_id": pa.array(np.full(n, model_id), pa.int16()),
                "sample_id": pa.array(sample_ids, pa.int32()),
                "method": [method] * n, "norm": [norm] * n,
                "radius": pa.array(radius, pa.float64(), mask=np.isnan(radius)),
            }))

    def radii_done(self) -> set[int]:
        """The models whose radii a resumed build already holds."""
        return {m for (m,) in self.con.execute("SELECT DISTINCT model_id FROM radii").fetchall()}

    def put_samples(self, labels: np.ndarray, sources: Sequence[str], thumbnails: Sequence[bytes],
                    split: str = "test") -> None:
        """The samples in order (sample_id = position), with their clean PNG thumbnails."""
        n = len(labels)
        self._replace("samples", pa.table({
            "sample_id": pa.array(np.arange(n), pa.int32()),
            "split": [split] * n,
            "label": pa.array(np.asarray(labels), pa.int16()),
            "source": list(sources),
            "thumbnail": pa.array(list(thumbnails), pa.binary()),
        }))

    def put_model(self, record: ModelRecord, weight: np.ndarray, bias: np.ndarray) -> None:
        """Record one model with its class directions and their Gram (weight: C x d, bias: C)."""
        row = dataclasses.asdict(record)  # clean_accuracy is filled in at commit
        row["recipe"] = record.recipe or record.name
        model_id = int(record.model_id)
        weight = np.asarray(weight, dtype=np.float64)
        bias = np.asarray(bias, dtype=np.float64)
        norms = np.linalg.norm(weight, axis=1)
        gram = weight @ weight.T
        safe = np.where(norms > 0, norms, 1.0)  # a zero direction is at 90 degrees to all, as in geometry
        angle = np.degrees(np.arccos(np.clip(gram / np.outer(safe, safe), -1.0, 1.0)))
        c = len(bias)
        a, b = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
        directions = pa.table({
            "model_id": pa.array(np.full(c, model_id), pa.int16()),
            "class_id": pa.array(np.arange(c), pa.int16()),
            "weight_norm": norms,
            "bias": bias,
        })
        pairs = pa.table({
            "model_id": pa.array(np.full(c * c, model_id), pa.int16()),
            "class_a": pa.array(a.ravel(), pa.int16()),
            "class_b": pa.array(b.ravel(), pa.int16()),
            "angle": angle.ravel(),
            "dot": gram.ravel(),
        })
        model = pa.table({k: [v] for k, v in row.items()})
        with self.transaction():
            for table in ("models", "class_directions", "class_pairs"):
                self.con.execute(f"DELETE FROM {table} WHERE model_id = ?", [model_id])
            self._insert("models", model)
            self._insert("class_directions", directions)
            self._insert("class_pairs", pairs)

    def put_condition_thumbnails(
        self, condition_id: int, sample_ids: np.ndarray, pngs: Sequence[bytes]
    ) -> None:
        """Replace one condition's inspection thumbnails (PNG bytes per sample)."""
        with self.transaction():
            self.con.execute("DELETE FROM condition_thumbnails WHERE condition_id = ?", [condition_id])
            self._insert("condition_thumbnails", pa.table({
                "condition_id": pa.array(np.full(len(sample_ids), condition_id), pa.int16()),
                "sample_id": pa.array(sample_ids, pa.int32()),
                "thumbnail": pa.array(list(pngs), pa.binary()),
            }))

    def put_similarity(self, condition_id: int, model_ids: Sequence[int], cka: np.ndarray) -> None:
        """Replace one condition's linear CKA between every ordered pair of `model_ids`."""
        cka = np.asarray(cka, dtype=np.float64)
        ids = np.asarray(model_ids, dtype=np.int16)
        a, b = np.meshgrid(ids, ids, indexing="ij")
        with self.transaction():
            self.con.execute("DELETE FROM model_similarity WHERE condition_id = ?", [condition_id])
            self._insert("model_similarity", pa.table({
                "model_a": pa.array(a.ravel(), pa.int16()),
                "model_b": pa.array(b.ravel(), pa.int16()),
                "condition_id": pa.array(np.full(a.size, condition_id), pa.int16()),
                "linear_cka": _nullable(cka.ravel(), pa.float64()),
            }))

    # --- metrics ----------------------------------------------------------------------------

    def correct(self, condition_id: int, model_ids: Sequence[int], samples: int) -> np.ndarray:
        """Which samples each model got right under a written condition ((models, samples) bool,
        in `model_ids` order): what a resumed build needs of conditions it does not re-run."""
        out = np.zeros((len(model_ids), samples), dtype=bool)
        rows = self.con.execute(
            "SELECT model_id, sample_id FROM metrics WHERE condition_id = ? AND correct",
            [condition_id]).fetchnumpy()
        row_of = {m: i for i, m in enumerate(model_ids)}
        for m, s in zip(rows["model_id"], rows["sample_id"], strict=True):
            if int(m) in row_of:
                out[row_of[int(m)], s] = True
        return out

    def done_pairs(self) -> set[tuple[int, int]]:
        q = "SELECT DISTINCT model_id, condition_id FROM metrics"
        return {(int(m), int(c)) for m, c in self.con.execute(q).fetchall()}

    def put_metrics(
        self,
        model_id: int,
        condition_id: int,
        sample_ids: np.ndarray,
        metrics: Mapping[str, np.ndarray],
    ) -> None:
        """Append every sample's metrics for one (model, condition) pair in one transaction.

        `metrics["angles"]` is (N, C) float with rows of NaN where the feature length is 0.
        """
        self.put_metrics_many([(model_id, condition_id, sample_ids, metrics)])

    def put_metrics_many(
        self, pairs: Sequence[tuple[int, int, np.ndarray, Mapping[str, np.ndarray]]]
    ) -> None:
        """Append several (model, condition) pairs in one transaction: one large insert is much
        faster than many small ones (docs/benchmarks.md), and each pair is still whole or absent."""
        if not pairs:
            return
        data = pa.concat_tables([self._metric_table(*pair) for pair in pairs])
        with self.transaction():
            self._insert("metrics", data)

    @staticmethod
    def _metric_table(model_id: int, condition_id: int, sample_ids: np.ndarray,
                      metrics: Mapping[str, np.ndarray]) -> pa.Table:
        n = len(sample_ids)
        angles = np.ascontiguousarray(metrics["angles"], dtype=np.float32)
        undefined = np.isnan(angles).any(axis=1)
        columns: dict[str, pa.Array] = {
            "model_id": pa.array(np.full(n, model_id), pa.int16()),
            "condition_id": pa.array(np.full(n, condition_id), pa.int16()),
            "sample_id": pa.array(sample_ids, pa.int32()),
            "angles": pa.FixedSizeListArray.from_arrays(
                pa.array(np.nan_to_num(angles).ravel()), angles.shape[1], mask=pa.array(undefined)
            ),
        }
        for name, dtype in METRIC_COLUMNS.items():
            columns[name] = _nullable(np.asarray(metrics[name]), dtype)
        return pa.table(columns)

    def put_condition(self, results: ConditionResults) -> None:
        """One evaluated condition: its similarity, its kept thumbnails and its metrics, all in one
        transaction, so that a resumed build finds a condition whole or absent."""
        with self.transaction():
            self.put_similarity(results.condition_id, results.model_ids, results.cka)
            if results.thumbnail_ids is not None and len(results.thumbnail_ids):
                self.put_condition_thumbnails(results.condition_id, results.thumbnail_ids,
                                              results.thumbnails)
            self.put_metrics_many([(m, results.condition_id, results.sample_ids, metrics)
                                   for m, metrics in results.metrics])

    # --- derived summaries ------------------------------------------------------------------

    def put_shift_moments(self, metric: str, severity: int | None) -> None:
        """Replace the stored moments of every model's corruption shifts of one metric, at one
        severity or (None) averaged over severities, from the metrics written so far (what the
        corruption-redundancy view pools). `derived.shift_moment_views` lists the calls a
        build makes."""
        models = [m for (m,) in self.con.execute("SELECT model_id FROM models").fetchall()]
        rows = derived.corruption_shift_moments(self.con, metric, models, severity)
        with self.transaction():
            self.con.execute("DELETE FROM shift_moments WHERE metric = ? AND severity = ?",
                             [metric, derived.stored_severity(severity)])
            if rows.height:
                self._insert("shift_moments", rows.to_arrow())

    # --- finishing --------------------------------------------------------------------------

    def put_summaries(self) -> None:
        """Replace the per-(model, condition) summaries and calibration bins with those of the
        metrics written so far: one pass over `metrics` here, so that no page needs one."""
        with self.transaction():
            for table in ("summaries", "calibration", "severity_changes", "sample_accuracy"):
                self.con.execute(f"DELETE FROM {table}")
            self.con.execute(f"INSERT INTO calibration {derived.calibration_sql()}")
            cols = ", ".join(["model_id", "condition_id", "n", "accuracy", "ece", "fragile", "gain",
                              *summary_columns()])
            self.con.execute(f"INSERT INTO summaries ({cols}) {derived.summaries_sql()}")
            self.con.execute(f"INSERT INTO severity_changes {derived.severity_changes_sql()}")
            self.con.execute(f"INSERT INTO sample_accuracy {derived.sample_accuracy_sql()}")
            noise = derived.sampling_noise(self.con)
            self.con.execute("DELETE FROM sampling_noise")
            if noise.height:
                self._insert("sampling_noise", noise.to_arrow())

    def put_robustness_intervals(self, each: Callable[[Iterable], Iterable] = iter) -> None:
        """Replace every model's robustness figures and their bootstrap intervals with those of
        the metrics written so far (about a second per model; `each` wraps the loop over
        models, for a progress bar)."""
        rows = derived.robustness_intervals(self.con, each)
        with self.transaction():
            self.con.execute("DELETE FROM robustness_intervals")
            if rows.height:
                self._insert("robustness_intervals", rows.to_arrow())
        self._intervals_put = True

    def commit(self) -> Path:
        """Fill the summaries, the robustness intervals (unless put since the last metrics) and
        the derived model columns, then atomically put the finished store at the target."""
        self.put_summaries()
        if not self._intervals_put:
            self.put_robustness_intervals()
        self.con.execute("""
            UPDATE models SET clean_accuracy = a.accuracy
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.corruption = 'clean' AND a.model_id = models.model_id
        """)
        self.con.execute("CHECKPOINT")
        self.close()
        os.replace(self.partial, self.target)
        return self.target


def pairs_written(target: str | Path, fingerprint: str) -> dict[int, int]:
    """Condition id -> number of models whose metrics the partial build of `target` already holds,
    if a build with `fingerprint` would resume it (else nothing): what a plan counts as done."""
    partial = Path(target).with_name(Path(target).name + ".partial")
    if not partial.exists():
        return {}
    try:
        with duckdb.connect(str(partial), read_only=True) as con:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("fingerprint") != fingerprint:
                return {}
            return dict(con.execute("SELECT condition_id, count(DISTINCT model_id) FROM metrics "
                                    "GROUP BY ALL").fetchall())
    except duckdb.Error:
        return {}
