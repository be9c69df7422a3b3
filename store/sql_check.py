"""The SQL page's first layer: what a query may name, checked on DuckDB's own parse tree.

One read statement; every FROM item, table, table function and function in its parse tree on an
allow-list, tables resolved with DuckDB's own scoping of CTEs (store/sandbox.py runs what passes,
in a worker; docs/store.md#ad-hoc-sql-safely has the layers). Every refusal is a `Refused` whose
message is one sentence saying why.
"""

from __future__ import annotations

import json
import json.scanner
import sys
from pathlib import Path

import duckdb

MAX_QUERY_CHARS = 20_000
# DuckDB folds the case of names in ASCII only: Python's str.lower() would also fold the Kelvin
# sign (U+212A) to "k" and make a name the check treats as a CTE one DuckDB looks up elsewhere.
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# Table functions that read nothing but their arguments.
TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
FUNCTIONS_LIST = Path(__file__).with_name("sql_functions.txt")


def _function_list() -> dict[str, tuple[str, str]]:
    """store/sql_functions.txt: every function of DuckDB's catalogue, allowed or refused and why
    (scripts/sql_functions.py writes it; a function missing from it is refused)."""
    out = {}
    for line in FUNCTIONS_LIST.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, verdict, why = line.split("\t")
            out[name] = (verdict, why)
    return out


FUNCTIONS = _function_list()
READABLE_SCHEMAS = {"", "main", "information_schema"}
# What may stand in a FROM clause: tables and views (checked by name), joins, subqueries, VALUES,
# table functions (checked by name), PIVOT / UNPIVOT, nothing. Not SHOW_REF: SHOW, DESCRIBE and
# SUMMARIZE name a setting, a database list or a table outside the query's scope.
FROM_ITEMS = {"BASE_TABLE", "JOIN", "SUBQUERY", "EXPRESSION_LIST", "TABLE_FUNCTION", "PIVOT",
              "EMPTY"}
# Expression kinds and query node kinds of the parse tree that compute on what the query holds
# (an allow-list: a kind a DuckDB upgrade adds is refused until it is looked at). Not PARAMETER
# ($1, ?: nothing binds them here) or DEFAULT.
EXPRESSIONS = {"BETWEEN", "CASE", "CAST", "COLLATE", "COLUMN_REF", "COMPARISON", "CONJUNCTION",
               "CONSTANT", "FUNCTION", "LAMBDA", "LAMBDA_REF", "OPERATOR", "POSITIONAL_REFERENCE",
               "STAR", "SUBQUERY", "TYPE", "WINDOW"}
QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
# information_schema views a researcher needs (the store's tables and columns); the others
# describe the catalog and the database around the store (`views` holds DuckDB's own system
# views' SQL too).
INFORMATION_SCHEMA = {"tables", "columns"}
SETTINGS_TABLES = {"pg_settings", "duckdb_settings", "duckdb_secrets", "duckdb_extensions"}


class Refused(Exception):
    """A query the SQL page will not run or could not finish; one sentence for the user."""


def _one_line(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    first = first if len(first) <= 300 else first[:297] + "..."
    return first if first.endswith(".") else first + "."


def _folded(name: object) -> str:
    return str(name or "").translate(ASCII_LOWER)


def _names(tree: dict) -> dict[str, list]:
    """What a parse tree names: functions, table functions, table references of kinds other than
    tables, joins and subqueries, and every base table with the CTE names visible where it
    stands, by DuckDB's scoping: a WITH's main query sees all its CTEs; a CTE's body sees only the
    CTEs declared before it (a reference to itself or a later one is to the catalog); a
    recursive CTE sees itself in its recursive part only. Iterative: deep trees do not recurse."""
    found: dict[str, list] = {"functions": [], "table_functions": [], "tables": [], "refs": [],
                              "bare": [], "kinds": []}
    stack: list[tuple[object, frozenset]] = [(tree, frozenset())]
    while stack:
        node, visible = stack.pop()
        if isinstance(node, list):
            stack.extend((v, visible) for v in node)
            continue
        if not isinstance(node, dict):
            continue
        rest = dict(node)
        if isinstance(node.get("cte_map"), dict):
            entries = node["cte_map"].get("map", [])
            earlier = visible
            for entry in entries:
                stack.append((entry.get("value"), earlier))
                earlier = earlier | {str(entry.get("key", "")).translate(ASCII_LOWER)}
            visible = earlier
            rest.pop("cte_map")
        if node.get("type") == "RECURSIVE_CTE_NODE":
            name = _folded(node.get("cte_name", ""))
            stack.append((rest.pop("right", None), visible | {name}))
        if node.get("class") == "FUNCTION":
            found["functions"].append((str(node.get("catalog") or ""),
                                       str(node.get("schema") or "").translate(ASCII_LOWER),
                                       str(node.get("function_name", "")).translate(ASCII_LOWER)))
        if node.get("class") == "COLUMN_REF" and len(node.get("column_names") or []) == 1:
            found["bare"].append(str(node["column_names"][0]).translate(ASCII_LOWER))
        kind = node.get("type")
        if "class" in node:
            found["kinds"].append(str(node["class"]))
        elif isinstance(kind, str) and kind.endswith("_NODE"):
            found["kinds"].append(kind)
        if kind == "TABLE_FUNCTION":
            found["table_functions"].append(_folded(node["function"].get("function_name", "")))
        if kind == "BASE_TABLE":
            found["tables"].append((str(node.get("catalog_name") or ""),
                                    str(node.get("schema_name") or "").translate(ASCII_LOWER),
                                    str(node.get("table_name", "")).translate(ASCII_LOWER), visible))
        if "sample" in node and "class" not in node and "modifiers" not in node:  # a FROM item
            found["refs"].append(str(kind))
        stack.extend((v, visible) for v in rest.values())
    return found


# json's C decoder stops at a depth set by the interpreter (Python 3.11 refuses the parse tree
# of a 400-term sum, 3.12 and 3.13 decode it), so the tree is decoded by json's pure-Python
# scanner under a frame budget of our own: the same answer on every Python. DuckDB bounds the
# nesting itself (max_expression_depth 1,000, which the locked connection keeps: about 3,000
# JSON levels at 2 frames each), so every tree it serialises fits.
_TREE_DECODER = json.JSONDecoder()
_TREE_DECODER.scan_once = json.scanner.py_make_scanner(_TREE_DECODER)
TREE_FRAMES = 20_000


def parse_tree(text: str) -> dict:
    """DuckDB's JSON parse tree as Python objects, at any depth up to TREE_FRAMES / 2, on any
    Python version; RecursionError beyond."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, TREE_FRAMES))
    try:
        return _TREE_DECODER.decode(text)
    finally:
        sys.setrecursionlimit(before)


def _statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """Layer 1: the text holds exactly one plain read statement of reasonable length."""
    if not sql.strip():
        raise Refused("The query is empty: write a SELECT statement.")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("The query holds characters that are not valid text; type it again or "
                      "paste it as plain text.") from None
    if len(sql) > MAX_QUERY_CHARS:
        raise Refused(f"The query is {len(sql):,} characters long; this page takes up to "
                      f"{MAX_QUERY_CHARS:,}.")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"DuckDB cannot parse this: {_one_line(str(exc))}") from None
    if len(statements) != 1:
        raise Refused(f"One statement per run, please: this text holds {len(statements)}.")
    statement = statements[0]
    if statement.type == duckdb.StatementType.MULTI:
        raise Refused("A PIVOT without an IN list runs as several statements, which this page "
                      "does not run; name the values: PIVOT t ON c IN ('a', 'b') USING ...")
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.replace("_", " ")
        raise Refused(f"Only read queries (SELECT, WITH, VALUES) run here, not {kind}.")
    return statement


def _tree(con: duckdb.DuckDBPyConnection, query: str) -> dict:
    try:
        text = con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()[0][0]
        tree = parse_tree(text)
    except (duckdb.Error, RecursionError, ValueError):
        raise Refused("The query is nested too deeply to check; write it more simply.") from None
    if tree.get("error"):
        raise Refused(f"DuckDB cannot parse this: {_one_line(tree.get('error_message', ''))}")
    return tree


def _check_kinds(found: dict) -> None:
    """Expressions and FROM items of allowed kinds only."""
    for kind in found["kinds"]:
        if kind == "PARAMETER":
            raise Refused("Parameters ($1, ?) have no values on this page; write the values into "
                          "the query.")
        if kind not in EXPRESSIONS | QUERY_NODES:
            raise Refused(f"This page does not run queries with {kind.replace('_', ' ').lower()} "
                          "expressions; write the query another way.")
    for kind in found["refs"]:
        if kind not in FROM_ITEMS:
            shown = "SHOW, DESCRIBE and SUMMARIZE" if kind == "SHOW_REF" else kind.replace("_", " ")
            raise Refused(f"{shown} cannot be used here; the store's tables and their columns are "
                          "listed beside the editor (or query information_schema.columns).")


def _check_functions(found: dict) -> None:
    """Table functions, bare keyword calls and functions from the allow-lists only."""
    for name in found["table_functions"]:
        if name not in TABLE_FUNCTIONS:
            raise Refused(f"The table function {name}() is not available here (only "
                          f"{', '.join(sorted(TABLE_FUNCTIONS))}); query the store's tables instead.")
    for name in found["bare"]:  # current_user, current_catalog, user: calls without parentheses
        if FUNCTIONS.get(name, ("",))[0] == "refused":
            raise Refused(f"'{name}' reads as the function {name}(), which {FUNCTIONS[name][1]}; "
                          "this page does not allow it (alias a column otherwise).")
    for catalog, schema, name in found["functions"]:
        verdict, why = FUNCTIONS.get(name, ("unknown", ""))
        if name in TABLE_FUNCTIONS:  # unnest(angles), range(3) in a SELECT list: lists alone
            verdict = "allowed"
        if catalog or schema not in ("", "main"):
            shown = ".".join(p for p in (catalog, schema, name) if p)
            raise Refused(f"Call functions by their plain name here, not as {shown}().")
        if verdict == "refused":
            raise Refused(f"The function {name}() {why}, which this page does not allow.")
        if verdict != "allowed":
            raise Refused(f"The function {name}() is not one this page knows to be harmless "
                          f"(DuckDB {duckdb.__version__}'s functions are listed in "
                          "store/sql_functions.txt).")


def _check_tables(con: duckdb.DuckDBPyConnection, found: dict) -> None:
    """The store's tables and views, the allowed information_schema views, visible CTEs."""
    known = _readable_tables(con)
    # Defence in depth for the scoping above: a CTE may not take a name DuckDB's own catalog
    # resolves (duckdb_settings, pg_settings, schemata, ...), so no reading of a scope can turn
    # such a name into the catalog's view.
    system = _system_views(con) - known
    for catalog, schema, table, ctes in found["tables"]:
        if not catalog and not schema and table in ctes:
            if table in system:
                raise Refused(f"A CTE may not be named '{table}', a name of DuckDB's own "
                              "catalog; call it something else.")
            continue
        if catalog or schema not in READABLE_SCHEMAS or table in SETTINGS_TABLES or (
                schema == "information_schema" and table not in INFORMATION_SCHEMA) or (
                schema != "information_schema" and table not in known):
            shown = ".".join(p for p in (catalog, schema, table) if p)
            raise Refused(f"'{shown}' is not a table of this store; the tables are listed beside "
                          "the editor.")


def check(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one read statement of `sql`, or `Refused` saying why not."""
    statement = _statement(con, sql)
    found = _names(_tree(con, statement.query))
    _check_kinds(found)
    _check_functions(found)
    _check_tables(con, found)
    return statement.query


def _readable_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("""
        SELECT lower(table_name) FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal
        UNION ALL
        SELECT lower(view_name) FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
    """).fetchall()
    return {r[0] for r in rows}


def _system_views(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT lower(view_name) FROM duckdb_views() WHERE internal").fetchall()
    return {r[0] for r in rows} | SETTINGS_TABLES
