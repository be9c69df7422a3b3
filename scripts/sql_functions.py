"""Classify every function of DuckDB's catalogue for the SQL page: allowed or refused, with why.

    .venv-app/bin/python scripts/sql_functions.py            # rewrite store/sql_functions.txt
    .venv-app/bin/python scripts/sql_functions.py --check    # exit 1 if a function is unclassified

The SQL page runs only functions listed as allowed in store/sql_functions.txt (an allow-list: a
DuckDB upgrade that adds functions adds nothing to what a visitor can call until someone
classifies them; tests/store/test_sandbox.py fails until then). The rules below are the review:
a function is refused when it reads settings, variables, the catalog, the environment, files or
logs, or parses SQL held in a string; everything else computes on its arguments alone. Existing
lines are kept as they are (a hand edit wins); only new names are classified by the rules, and
the script prints them for review.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "store" / "sql_functions.txt"

# name -> why it is refused; then prefixes.
REFUSED = {
    "current_setting": "reads a setting", "getenv": "reads the environment",
    "getvariable": "reads a variable", "set_variable": "sets a variable",
    "version": "names the server's DuckDB", "platform": "names the server's platform",
    "current_database": "names the catalog", "current_catalog": "names the catalog",
    "current_schema": "names the catalog", "current_schemas": "names the catalog",
    "current_user": "names the server's user", "current_role": "names the server's user",
    "session_user": "names the server's user", "user": "names the server's user",
    "in_search_path": "reads the catalog", "get_block_size": "reads the database file",
    "json_serialize_sql": "parses SQL held in a string",
    "json_serialize_plan": "plans SQL held in a string, with the connection's settings",
    "json_deserialize_sql": "turns a string into SQL",
    "json_execute_serialized_sql": "runs SQL held in a string",
    "query": "runs SQL held in a string", "query_table": "reads a table named in a string",
    "sniff_csv": "reads a file", "write_log": "writes to the server's log",
    "nextval": "changes a sequence of the catalog", "currval": "reads a sequence of the catalog",
    "setseed": "changes the connection's random state", "which_secret": "reads secrets",
    "enable_logging": "changes a setting", "disable_logging": "changes a setting",
    "checkpoint": "writes the database", "force_checkpoint": "writes the database",
    "txid_current": "reads the transaction state", "col_description": "reads the catalog",
    "obj_description": "reads the catalog", "shobj_description": "reads the catalog",
    "has_any_column_privilege": "reads the catalog", "format_pg_type": "reads the catalog",
    "sleep_ms": "waits instead of computing (holds a worker for nothing)",
    "current_connection_id": "reads the server's state", "current_query_id": "reads the server's state",
    "current_transaction_id": "reads the server's state",
}
REFUSED_PREFIXES = {
    "duckdb_": "reads the catalog or the server's state", "pragma_": "reads the catalog or settings",
    "read_": "reads files", "glob": "lists files", "parquet_": "reads files",
    "pg_": "reads the catalog (PostgreSQL compatibility)", "has_": "reads the catalog's privileges",
    "__": "DuckDB's internal function",
}
# PostgreSQL-compatibility functions that compute on their argument alone.
ALLOWED_EXCEPTIONS = {"pg_typeof", "pg_size_pretty"}


def classify(name: str) -> tuple[str, str]:
    if name in ALLOWED_EXCEPTIONS:
        return "allowed", "computes on its arguments"
    if name in REFUSED:
        return "refused", REFUSED[name]
    for prefix, why in REFUSED_PREFIXES.items():
        if name.startswith(prefix):
            return "refused", why
    return "allowed", "computes on its arguments"


def catalogue(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every name a query can call as a scalar, aggregate, window function or macro."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
        "WHERE function_type IN ('scalar', 'aggregate', 'window', 'macro') ORDER BY 1").fetchall()]


def read_list(path: Path = LIST) -> dict[str, tuple[str, str]]:
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                name, verdict, why = line.split("\t")
                out[name] = (verdict, why)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    known = read_list()
    names = catalogue(duckdb.connect())
    new = [n for n in names if n not in known]
    if args.check:
        for name in new:
            print(f"unclassified: {name}")
        return 1 if new else 0
    rows = {**{n: classify(n) for n in new}, **known}
    lines = [f"# Functions of DuckDB {duckdb.__version__}'s catalogue and whether the SQL page runs "
             "them; written by scripts/sql_functions.py, reviewed by hand.",
             "# name\tallowed|refused\twhy"]
    lines += [f"{n}\t{v}\t{w}" for n, (v, w) in sorted(rows.items())]
    LIST.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in new:
        print(f"new: {name}\t{rows[name][0]}\t{rows[name][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
