"""Ad hoc SQL over a store that cannot hurt anyone, even when the app is shared publicly.

Layers, each enough on its own for most attacks, together for all of them:
1. The connection: read-only, external access off (no files, no network, no extensions), the
   configuration locked after a memory limit is set (`store.schema.READ_CONFIG`).
2. The statement: exactly one, and a plain read query (SELECT / WITH ... SELECT / VALUES).
3. What it names, from DuckDB's own parse tree: only the store's tables and views (and the
   query's own CTEs), only harmless table functions, no settings or environment readers.
4. Running it: a timer interrupts it at the time limit, and at most `row_limit` rows come back.
Every refusal is a `Refused` whose message is one sentence saying why.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import duckdb
import polars as pl
import pyarrow as pa

TIME_LIMIT_S = 10.0
ROW_LIMIT = 10_000

# Table functions that read nothing but their arguments.
TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
# Scalar functions that read settings, variables or the environment (files are already closed).
DENIED_FUNCTIONS = {"current_setting", "getenv", "getvariable", "current_schemas", "version"}
DENIED_PREFIXES = ("duckdb_", "pragma_", "read_", "glob")
READABLE_SCHEMAS = {"", "main", "information_schema"}
SETTINGS_TABLES = {"pg_settings", "duckdb_settings", "duckdb_secrets", "duckdb_extensions"}


class Refused(Exception):
    """A query the SQL page will not run; the message is one sentence for the user."""


@dataclass
class Result:
    frame: pl.DataFrame
    truncated: bool      # more rows existed than were returned
    seconds: float


def _one_line(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return first if first.endswith(".") else first + "."


def _walk(node: object, found: dict[str, list]) -> None:
    if isinstance(node, dict):
        if node.get("class") == "FUNCTION":
            found["functions"].append(str(node.get("function_name", "")).lower())
        if node.get("type") == "TABLE_FUNCTION":
            found["table_functions"].append(str(node["function"].get("function_name", "")).lower())
        if node.get("type") == "BASE_TABLE":
            found["tables"].append((str(node.get("catalog_name") or ""),
                                    str(node.get("schema_name") or "").lower(),
                                    str(node.get("table_name", "")).lower()))
        if "cte_map" in node:
            found["ctes"].extend(str(e.get("key", "")).lower() for e in node["cte_map"].get("map", []))
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def check(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one read statement of `sql`, or `Refused` saying why not."""
    if not sql.strip():
        raise Refused("The query is empty: write a SELECT statement.")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"DuckDB cannot parse this: {_one_line(str(exc))}") from None
    if len(statements) != 1:
        raise Refused(f"One statement per run, please: this text holds {len(statements)}.")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.replace("_", " ")
        raise Refused(f"Only read queries (SELECT, WITH, VALUES) run here, not {kind}.")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [statement.query]).fetchall()[0][0])
    if tree.get("error"):
        raise Refused(f"DuckDB cannot parse this: {_one_line(tree.get('error_message', ''))}")
    found: dict[str, list] = {"functions": [], "table_functions": [], "tables": [], "ctes": []}
    _walk(tree, found)
    for name in found["table_functions"]:
        if name not in TABLE_FUNCTIONS:
            raise Refused(f"The table function {name}() is not available here (only "
                          f"{', '.join(sorted(TABLE_FUNCTIONS))}); query the store's tables instead.")
    for name in found["functions"]:
        if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
            raise Refused(f"The function {name}() reads settings, files or the environment, "
                          "which this page does not allow.")
    known = _readable_tables(con)
    for catalog, schema, table in found["tables"]:
        if table in found["ctes"] and not schema:
            continue
        if catalog or schema not in READABLE_SCHEMAS or table in SETTINGS_TABLES or (
                schema != "information_schema" and table not in known):
            shown = ".".join(p for p in (catalog, schema, table) if p)
            raise Refused(f"'{shown}' is not a table of this store; the tables are listed beside "
                          "the editor.")
    return statement.query


def _readable_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("""
        SELECT lower(table_name) FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal
        UNION ALL
        SELECT lower(view_name) FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
    """).fetchall()
    return {r[0] for r in rows}


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (a join of a table with itself repeats them): a, a_2, a_3."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def run(con: duckdb.DuckDBPyConnection, sql: str, time_limit: float = TIME_LIMIT_S,
        row_limit: int = ROW_LIMIT) -> Result:
    """Check and run one read query on a cursor of `con`, interrupted at `time_limit` seconds,
    returning at most `row_limit` rows."""
    query = check(con, sql)
    cur = con.cursor()
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        cur.interrupt()

    timer = threading.Timer(time_limit, stop)
    start = time.perf_counter()
    timer.start()
    try:
        reader = cur.sql(query).to_arrow_reader(min(row_limit + 1, 100_000))
        batches, rows = [], 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            if rows > row_limit:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.InterruptException:
        raise Refused(f"The query ran past the {time_limit:g} s limit and was stopped; "
                      "filter or aggregate more.") from None
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise Refused(f"The query ran past the {time_limit:g} s limit and was stopped; "
                          "filter or aggregate more.") from None
        raise Refused(_one_line(str(exc))) from None
    finally:
        timer.cancel()
        cur.close()
    seconds = time.perf_counter() - start
    truncated = table.num_rows > row_limit
    frame = pl.from_arrow(table.slice(0, row_limit).rename_columns(_unique(table.column_names)))
    if not isinstance(frame, pl.DataFrame):
        frame = frame.to_frame()
    return Result(frame, truncated, seconds)


# Starting points for the SQL page, each a question a user of this tool asks.
EXAMPLE_QUERIES: dict[str, str] = {
    "Accuracy per model and corruption": """SELECT model, corruption, avg(correct::INT) AS accuracy
FROM metrics_named
WHERE severity > 0
GROUP BY ALL
ORDER BY model, accuracy""",
    "Samples pruning breaks (dense right, pruned wrong on clean)": """SELECT p.model, p.sample_id,
       d.margin_distance AS dense_margin, p.margin_distance AS pruned_margin
FROM metrics_named d
JOIN metrics_named p USING (sample_id, condition)
JOIN models m ON m.name = p.model
WHERE d.condition = 'clean' AND d.model_id = m.reference_model_id
  AND d.correct AND NOT p.correct
ORDER BY dense_margin DESC
LIMIT 100""",
    "How far each corruption pushes features towards the boundary": """SELECT model, corruption, severity,
       avg(margin_distance) FILTER (WHERE isfinite(margin_distance)) AS mean_margin_distance,
       avg(length) AS mean_length, avg(angle_true) AS mean_angle_true
FROM metrics_named
GROUP BY ALL
ORDER BY model, corruption, severity""",
    "Logits rebuilt from the stored geometry (sample 0)": """SELECT m.model_id, k - 1 AS class_id,
       d.weight_norm * m.length * cos(radians(m.angles[k])) + d.bias AS logit
FROM metrics m, range(1, (SELECT count(*) FROM classes) + 1) r(k)
JOIN class_directions d ON d.model_id = m.model_id AND d.class_id = k - 1
WHERE m.condition_id = 0 AND m.sample_id = 0
ORDER BY m.model_id, class_id""",
    "Class directions: the most similar pairs per model": """SELECT m.name AS model, a.name AS class_a,
       b.name AS class_b, p.angle
FROM class_pairs p
JOIN models m USING (model_id)
JOIN classes a ON a.class_id = p.class_a
JOIN classes b ON b.class_id = p.class_b
WHERE p.class_a < p.class_b
ORDER BY model, p.angle
LIMIT 30""",
}
