"""Schema creation and read-only opening of a store."""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_VERSION = "8"
# Only the current version: version 3 lacks the sweep columns and the summaries every page reads,
# and a store of another version has other metric columns (the catalogue's of its day). Rebuild
# (the trained weights are cached, so a rebuild only re-evaluates).
READABLE_VERSIONS = (SCHEMA_VERSION,)
SCHEMA_SQL = Path(__file__).with_name("schema.sql")


# Every reader opens a store this way: read-only, no file, network or extension access beyond the
# store itself, and the configuration locked, so that not even ad hoc SQL can change it. (DuckDB
# allows one configuration per file per process, so the app's pages and its SQL page share it.)
READ_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "memory_limit": "2GB",
    "lock_configuration": True,
}


class StoreError(Exception):
    """A store that cannot be opened or written; the message says what to do about it."""


def summary_columns() -> list[str]:
    """The `mean_<metric>` columns of `summaries`: one per plottable metric of the catalogue."""
    from store.catalogue import PLOTTABLE

    return [f"mean_{name}" for name in PLOTTABLE]


def metric_columns() -> str:
    """The `metrics` table's metric columns as DDL: the catalogue's, in its order."""
    from store.catalogue import METRICS

    return ",\n".join(f"    {m.name:<15} {m.sql_type.replace('[C]', '[{num_classes}]')}"
                       + ("" if m.nullable else " NOT NULL") for m in METRICS)


def create_schema(con: duckdb.DuckDBPyConnection, num_classes: int) -> None:
    """Create every table and view of the current schema in an empty database."""
    means = "\n".join(f"    {c:<15} DOUBLE,  -- NULL where the metric is undefined for every sample"
                      for c in summary_columns())
    con.execute(SCHEMA_SQL.read_text().replace("{metric_columns}", metric_columns())
                .replace("{num_classes}", str(int(num_classes)))
                .replace("{summary_means}", means))
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def open_store(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a finished store read-only, checking that it is one this code understands."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(
            f"No store at {path}: build one with `python -m compute build configs/demo.toml`."
        )
    try:
        con = duckdb.connect(str(path), read_only=True, config=READ_CONFIG)
    except duckdb.Error as exc:
        raise StoreError(f"{path} is not a readable DuckDB store ({exc}).") from None
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.Error:
        con.close()
        raise StoreError(f"{path} is a DuckDB file but not a Robustness Lottery store.") from None
    if not rows or rows[0][0] not in READABLE_VERSIONS:
        con.close()
        found = rows[0][0] if rows else "none"
        raise StoreError(
            f"{path} has schema version {found}, this code reads versions "
            f"{', '.join(READABLE_VERSIONS)}: "
            "rebuild it with `python -m compute build CONFIG`."
        )
    return con
