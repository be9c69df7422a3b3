"""The SQL page's quick chart draws whatever a query returns, or leaves the column out: every
DuckDB type through the same path as the page (sandbox -> frame -> chart -> Vega-Lite spec)."""

from __future__ import annotations

import itertools
import json

import duckdb
import pytest

from app import quick_chart
from store import sandbox

# One column per kind of DuckDB value a researcher's query can return, limits included.
VALUES = {
    "angles": "[1.5, 2.5]::FLOAT[2]",
    "list_ts": "[TIMESTAMP '2020-01-01 10:00:00']",
    "struct": "{'a': 1, 'b': 'x'}",
    "map": "map(['k'], [1])",
    "blob": "'\\xAA'::BLOB",
    "big": "12345678901234567890123456789::HUGEINT",
    "ubig": "18446744073709551615::UBIGINT",
    "bignum": "(2::BIGNUM ** 200)" ,
    "dec": "3.14159::DECIMAL(18, 5)",
    "dbl": "'nan'::DOUBLE",
    "inf": "'infinity'::DOUBLE",
    "int": "42",
    "flag": "true",
    "text": "'a.b[0]:c'",
    "day": "DATE '2024-02-29'",
    "stamp": "TIMESTAMP '2024-02-29 12:34:56.789'",
    "tz": "TIMESTAMPTZ '2024-02-29 12:34:56+02'",
    "time_ns": "'12:34:56.123456789'::TIME_NS",
    "clock": "TIME '23:59:59'",
    "span": "INTERVAL 3 DAY",
    "uuid": "'00000000-0000-0000-0000-000000000001'::UUID",
    "far": "'infinity'::TIMESTAMP",
    "nothing": "NULL",
    "avg(correct::INT)": "0.5",
}


@pytest.fixture(scope="module")
def frame():
    con = duckdb.connect()
    columns = []
    for name, value in VALUES.items():
        try:
            con.execute(f"SELECT {value}")
        except duckdb.Error:  # a type this DuckDB lacks (BIGNUM is new) is no failure of ours
            continue
        columns.append(f'{value} AS "{name}"')
    sql = f"SELECT {', '.join(columns)} FROM range(3)"
    return sandbox.execute(con, sql).frame


def test_the_chart_offers_no_list_struct_map_or_bytes(frame):
    offered = set(quick_chart.drawable_columns(frame))
    assert not offered & {"angles", "list_ts", "struct", "map", "blob"}
    assert {"int", "dbl", "text", "day", "dec", "big", "avg(correct::INT)"} <= offered


def test_every_pair_of_drawable_columns_makes_a_chart(frame):
    names = quick_chart.drawable_columns(frame)
    for x, y in itertools.permutations(names, 2):
        for colour in (None, "text"):
            chart = quick_chart.quick_chart(frame, x, y, colour if colour not in (x, y) else None)
            spec = chart.to_dict()  # what Streamlit sends: raises if Altair cannot encode it
            json.dumps(spec)
            assert spec["encoding"]["x"]["title"] == x


def test_the_first_query_a_researcher_types_gets_a_chart_of_two_drawable_columns(frame):
    x, y = quick_chart.default_axes(frame)
    assert quick_chart.encoding_type(frame.schema[y]) == "quantitative"
    assert {x, y} <= set(quick_chart.drawable_columns(frame))
