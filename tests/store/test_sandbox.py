"""The SQL page's safety: hostile queries are refused with one sentence each, through the very
function the page calls, and the store file is byte-identical afterwards."""

from __future__ import annotations

import hashlib
import time

import pytest

from store import open_store, sandbox

# (query, a fragment of the refusal it must get)
HOSTILE = [
    ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ("SELECT * FROM read_parquet('stores/demo.duckdb')", "table function read_parquet()"),
    ("SELECT * FROM read_json_auto('/etc/hosts')", "table function read_json_auto()"),
    ("SELECT * FROM glob('/root/*')", "table function glob()"),
    ("SELECT read_text('/etc/passwd')", "read_text() reads settings, files"),
    ("SELECT * FROM '/etc/hosts'", "is not a table of this store"),
    ("COPY metrics TO '/tmp/stolen.csv'", "not COPY"),
    ("COPY (SELECT 1) TO '/tmp/x.parquet' (FORMAT parquet)", "not COPY"),
    ("EXPORT DATABASE '/tmp/everything'", "not EXPORT"),
    ("ATTACH '/tmp/other.duckdb' AS other", "not ATTACH"),
    ("DETACH other", "not DETACH"),
    ("INSTALL httpfs", "not LOAD"),
    ("LOAD httpfs", "not LOAD"),
    ("SET memory_limit = '64GB'", "not SET"),
    ("RESET memory_limit", "not SET"),
    ("PRAGMA enable_profiling", "not PRAGMA"),
    ("CREATE TABLE t AS SELECT 1", "not CREATE"),
    ("CREATE VIEW v AS SELECT 1", "not CREATE"),
    ("INSERT INTO meta VALUES ('owned', 'yes')", "not INSERT"),
    ("UPDATE models SET name = 'x'", "not UPDATE"),
    ("DELETE FROM metrics", "not DELETE"),
    ("DROP TABLE metrics", "not DROP"),
    ("ALTER TABLE models ADD COLUMN x INT", "not ALTER"),
    ("CHECKPOINT", "not CALL"),
    ("CALL pragma_version()", "not CALL"),
    ("SELECT 1; DROP TABLE metrics", "One statement per run"),
    ("SELECT 1; SELECT 2", "One statement per run"),
    ("SELECT getenv('HOME')", "getenv() reads settings"),
    ("SELECT current_setting('memory_limit')", "current_setting() reads settings"),
    ("SELECT getvariable('x')", "getvariable() reads settings"),
    ("SELECT * FROM duckdb_settings()", "table function duckdb_settings()"),
    ("SELECT * FROM duckdb_secrets()", "table function duckdb_secrets()"),
    ("SELECT * FROM pg_settings", "'pg_settings' is not a table"),
    ("SELECT * FROM query('DROP TABLE metrics')", "table function query()"),
    ("SELECT * FROM sqlite_scan('/tmp/x.db', 't')", "table function sqlite_scan()"),
    ("SELECT * FROM other.main.metrics", "is not a table of this store"),
    ("", "empty"),
    ("SELEC * FROM metrics", 'syntax error at or near "SELEC"'),
    ("SELECT * FROM metrics WHERE", "syntax error"),
    ("SELECT nope FROM metrics", 'column "nope" not found'),
]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def con(synthetic_store):
    connection = open_store(synthetic_store)
    yield connection
    connection.close()


@pytest.mark.parametrize(("sql", "reason"), HOSTILE, ids=[q[:40] or "empty" for q, _ in HOSTILE])
def test_a_hostile_query_is_refused_with_its_reason_and_nothing_changes(con, synthetic_store, sql,
                                                                       reason):
    before = digest(synthetic_store)
    with pytest.raises(sandbox.Refused) as refusal:
        sandbox.run(con, sql, time_limit=5)
    message = str(refusal.value)
    assert reason in message, (sql, message)
    assert "\n" not in message and message.endswith("."), (sql, message)
    assert digest(synthetic_store) == before


def test_good_queries_run(con):
    result = sandbox.run(con, "SELECT model, avg(correct::INT) AS accuracy FROM metrics_named "
                              "GROUP BY ALL ORDER BY model")
    assert result.frame.columns == ["model", "accuracy"] and len(result.frame) == 2
    assert not result.truncated
    cte = sandbox.run(con, "WITH c AS (SELECT count(*) AS n FROM samples) SELECT n FROM c")
    assert cte.frame["n"].to_list() == [450]
    assert len(sandbox.run(con, "SELECT * FROM information_schema.tables").frame) > 5
    assert sandbox.run(con, "SELECT sum(range) AS s FROM range(10)").frame["s"].to_list() == [45]
    # a table joined with itself repeats column names; they come back made unique
    both = sandbox.run(con, "SELECT * FROM models a JOIN models b USING (model_id) LIMIT 1").frame
    assert "name" in both.columns and "name_2" in both.columns


def test_a_huge_result_is_cut_at_the_row_limit_with_a_notice(con):
    result = sandbox.run(con, "SELECT * FROM range(5000000)", row_limit=1000)
    assert len(result.frame) == 1000 and result.truncated
    exact = sandbox.run(con, "SELECT * FROM range(1000)", row_limit=1000)
    assert len(exact.frame) == 1000 and not exact.truncated


def test_a_query_that_would_run_for_minutes_is_stopped_at_the_time_limit(con, synthetic_store):
    before = digest(synthetic_store)
    start = time.monotonic()
    with pytest.raises(sandbox.Refused, match="ran past the 1 s limit and was stopped"):
        # 345,600^3 rows: hours of work without the limit
        sandbox.run(con, "SELECT count(*) FROM metrics a, metrics b, metrics c", time_limit=1)
    assert time.monotonic() - start < 60  # stopped, not run to the end
    assert digest(synthetic_store) == before
    # the connection is still usable afterwards
    assert sandbox.run(con, "SELECT 1 AS one").frame["one"].to_list() == [1]


def test_the_connection_itself_refuses_files_and_settings(con):
    """Even past the checks (as if one were missing), DuckDB itself says no."""
    import duckdb

    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SET memory_limit = '64GB'",
                "CREATE TABLE t (a INT)", "LOAD httpfs"):
        with pytest.raises(duckdb.Error):
            con.cursor().execute(sql)
