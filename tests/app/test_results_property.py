"""Whatever a query returns, the SQL page shows it: hypothesis draws result columns of every kind
of DuckDB value (limits, NaN, infinities, nesting, odd and repeated names) and sends them through
the functions the page calls: the sandbox's result, the table, the quick chart and both
downloads."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import export, quick_chart
from store import sandbox

SCALARS = st.sampled_from([
    "0::TINYINT", "127::TINYINT", "-32768::SMALLINT", "2147483647::INTEGER",
    "-9223372036854775808::BIGINT", "18446744073709551615::UBIGINT",
    "170141183460469231731687303715884105727::HUGEINT", "340282366920938463463374607431768211455::UHUGEINT",
    "'nan'::DOUBLE", "'-inf'::DOUBLE", "'inf'::FLOAT", "1e308::DOUBLE", "-0.0::DOUBLE",
    "123456789012345678.123::DECIMAL(38, 3)", "0.5::DECIMAL(4, 1)",
    "''", "'é中😀'", "'a\"b''c'", "NULL", "true",
    "'\\x00\\xFF'::BLOB", "'00000000-0000-0000-0000-000000000001'::UUID",
    "DATE '2024-02-29'", "'infinity'::DATE", "'-infinity'::DATE", "'290000-01-01'::DATE",
    "'5877642-06-25 (BC)'::DATE", "TIMESTAMP '1970-01-01 00:00:00'", "'infinity'::TIMESTAMP",
    "'294247-01-10 04:00:54'::TIMESTAMP", "TIMESTAMP_S '2020-01-01 00:00:01'",
    "TIMESTAMP_MS '2020-01-01 00:00:00.001'", "'2262-04-11 23:47:16.854775'::TIMESTAMP_NS",
    "TIMESTAMPTZ '2024-01-01 00:00:00+05'", "'infinity'::TIMESTAMPTZ",
    "TIME '23:59:59.999999'", "'12:34:56.123456789'::TIME_NS", "TIMETZ '12:00:00+01'",
    "INTERVAL 3 DAY", "INTERVAL '1 year 2 months 3 seconds'", "'a'::ENUM('a', 'b')",
    "union_value(k := 1)", "(2::BIGNUM ** 300)", "B'1011'::BIT", "'{\"a\": [1, 2]}'::JSON",
])


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> str:
    """A SQL expression: a scalar, or a list, fixed array, struct or map of them."""
    if depth >= 2 or draw(st.booleans()):
        return draw(SCALARS)
    inner = draw(values(depth + 1))
    kind = draw(st.sampled_from(["list", "array", "struct", "map"]))
    if kind == "list":
        return f"[{inner}, {inner}]"
    if kind == "array":
        return f"[{inner}, {inner}]::{_type_of(inner)}[2]"
    if kind == "struct":
        return f"{{'k': {inner}, 'n': 1}}"
    return f"map([1], [{inner}])"


_TYPES: dict[str, str] = {}


def _type_of(expr: str) -> str:
    if expr not in _TYPES:
        _TYPES[expr] = duckdb.connect().execute(f"SELECT typeof({expr})").fetchone()[0]
    return _TYPES[expr]


NAMES = st.sampled_from(["x", "x", "x_2", "a.b", "avg(y::INT)", "[0]", "Größe", "select", "n"])


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _sql(columns: list[tuple[str, str]]) -> str | None:
    con = duckdb.connect()
    kept = []
    for expr, name in columns:
        try:
            con.execute(f"SELECT {expr}")
        except duckdb.Error:  # a type or value this DuckDB lacks: not the page's concern
            continue
        kept.append(f'{expr} AS "{name}"')
    return f"SELECT {', '.join(kept)} FROM range(2)" if kept else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(values(), NAMES), min_size=1, max_size=5))
def test_any_result_reaches_the_table_the_chart_and_both_downloads(con, columns):
    sql = _sql(columns)
    if sql is None:
        return
    result = sandbox.execute(con, sql, time_limit=10)
    frame = result.frame
    assert frame.width == sql.count(" AS \"") and len(set(frame.columns)) == frame.width
    str(frame)  # what the table shows can be shown
    frame.select(pl.exclude(pl.Binary)).to_arrow()  # what st.dataframe sends
    assert export.csv_bytes(frame) and export.parquet_bytes(frame)
    names = quick_chart.drawable_columns(frame)
    for x in names:
        for y in names:
            if x != y:
                quick_chart.quick_chart(frame, x, y, None).to_dict()
