"""The SQL page's safety: hostile queries are refused with one sentence each, through the very
functions the page calls, and the store file is byte-identical afterwards; queries that cannot be
interrupted, or want all the memory, are stopped for certain by the worker pool."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from app import export
from store import open_store, queries, sandbox

# (query, a fragment of the refusal it must get)
HOSTILE = [
    ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ("SELECT * FROM read_parquet('stores/demo.duckdb')", "table function read_parquet()"),
    ("SELECT * FROM read_json_auto('/etc/hosts')", "table function read_json_auto()"),
    ("SELECT * FROM glob('/root/*')", "table function glob()"),
    ("SELECT read_text('/etc/passwd')", "read_text() is not one this page knows"),
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
    ("SELECT getenv('HOME')", "getenv() is not one this page knows"),
    ("SELECT current_setting('memory_limit')", "current_setting() reads a setting"),
    ("SELECT getvariable('x')", "getvariable() reads a variable"),
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
    # name resolution and scoping: a CTE hides a catalog name only inside its own scope
    ("SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT 1) x, duckdb_settings",
     "'duckdb_settings' is not a table"),
    ("WITH a AS (SELECT 1) SELECT * FROM pg_settings", "'pg_settings' is not a table"),
    ("SELECT * FROM metrics WHERE EXISTS (WITH pg_settings AS (SELECT 1) SELECT 1) "
     "AND EXISTS (SELECT * FROM pg_settings)", "'pg_settings' is not a table"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
     "SELECT * FROM t, (WITH duckdb_databases AS (SELECT 1) SELECT 1) y, duckdb_databases",
     "'duckdb_databases' is not a table"),
    ("SELECT (SELECT count(*) FROM (WITH secrets AS (SELECT 1) SELECT 1)) FROM secrets",
     "'secrets' is not a table"),
    ("SELECT * FROM models, (WITH information AS (SELECT 1) SELECT 1) z, duckdb_extensions",
     "'duckdb_extensions' is not a table"),
    # catalog and settings access
    ("SELECT * FROM system.main.duckdb_settings", "is not a table of this store"),
    ("SELECT * FROM pg_catalog.pg_settings", "is not a table of this store"),
    ("SELECT * FROM temp.main.t", "is not a table of this store"),
    ("SELECT * FROM duckdb_databases()", "table function duckdb_databases()"),
    ("SELECT * FROM duckdb_temporary_files()", "table function duckdb_temporary_files()"),
    ("SELECT current_database()", "current_database() names the catalog"),
    ("SELECT current_schemas(true)", "current_schemas() names the catalog"),
    ("SELECT version()", "version() names the server's DuckDB"),
    ("SELECT * FROM pragma_database_list()", "table function pragma_database_list()"),
    ("SELECT * FROM which_secret('s3://x', 's3')", "table function which_secret()"),
    ("SELECT * FROM 'stores/demo.duckdb'", "is not a table of this store"),
    ("SELECT * FROM read_blob('/etc/shadow')", "table function read_blob()"),
    ("SELECT * FROM sniff_csv('/etc/passwd')", "table function sniff_csv()"),
    ("SELECT * FROM parquet_metadata('x.parquet')", "table function parquet_metadata()"),
    ("SELECT * FROM iceberg_scan('x')", "table function iceberg_scan()"),
    ("SELECT * FROM postgres_scan('host=x', 'public', 't')", "table function postgres_scan()"),
    ("USE other", "not SET"),
    # names DuckDB resolves to its catalog, whatever a WITH declares elsewhere: a CTE's own name
    # in its body, a later CTE's, a forward one in WITH RECURSIVE, an outer CTE from inside the
    # CTE it names; and CTEs that would shadow the catalog's views
    ("WITH a AS (SELECT * FROM a) SELECT * FROM a", "'a' is not a table"),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "'b' is not a table"),
    ("WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "'b' is not a table"),
    ("WITH RECURSIVE a AS (SELECT * FROM a UNION ALL SELECT 1) SELECT * FROM a", "'a' is not a table"),
    ("WITH a AS (WITH b AS (SELECT * FROM a) SELECT * FROM b) SELECT * FROM a", "'a' is not a table"),
    ("WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
     "may not be named 'duckdb_settings'"),
    ("WITH pg_settings AS (SELECT 1) SELECT * FROM pg_settings", "may not be named 'pg_settings'"),
    ("WITH schemata AS (SELECT 1) SELECT * FROM schemata", "may not be named 'schemata'"),
    ("WITH x AS (SELECT 1), duckdb_databases AS (SELECT * FROM duckdb_databases) "
     "SELECT * FROM duckdb_databases", "may not be named"),
    # statements that read settings or the catalog through a FROM item the check allows nowhere
    ("SHOW memory_limit", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SHOW allowed_paths", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SHOW DATABASES", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SHOW TABLES", "SHOW, DESCRIBE and SUMMARIZE"),
    ("DESCRIBE metrics", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SUMMARIZE metrics", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SELECT * FROM (SHOW temp_directory)", "SHOW, DESCRIBE and SUMMARIZE"),
    ("SELECT * FROM information_schema.schemata", "'information_schema.schemata' is not"),
    ("SELECT * FROM information_schema.key_column_usage", "is not a table"),
    ("SELECT view_definition FROM information_schema.views", "is not a table"),
    # names DuckDB folds in ASCII only: the Kelvin sign is no "k" to it (a CTE the check would
    # see, a file pattern DuckDB would look up)
    ('WITH "[\u212a-z]tore.duckdb" AS (SELECT 1) SELECT * FROM "[k-z]tore.duckdb"', "is not a table"),
    ('WITH "\u212a.csv" AS (SELECT 1) SELECT * FROM "k.csv"', "'k.csv' is not a table"),
    ("PIVOT metrics_named ON condition USING count(*)", "PIVOT without an IN list"),
    ("SELECT $1", "Parameters ($1, ?) have no values"),
    ("SELECT * FROM models WHERE model_id = ?", "Parameters ($1, ?) have no values"),
    # strings DuckDB parses as SQL, functions that read the server's state, qualified calls,
    # and functions outside the reviewed list
    ("SELECT json_serialize_plan('SELECT * FROM duckdb_settings()', optimize := true)",
     "json_serialize_plan() plans SQL held in a string"),
    ("SELECT json_serialize_sql('SELECT 1')", "json_serialize_sql() parses SQL"),
    ("SELECT json_deserialize_sql('{}')", "json_deserialize_sql() turns a string into SQL"),
    ("SELECT * FROM query('SELECT * FROM duckdb_settings()')", "table function query()"),
    ("SELECT * FROM query_table('duckdb_settings')", "table function query_table()"),
    ("SELECT CURRENT_CATALOG()", "current_catalog() names the catalog"),
    ("SELECT current_user", "'current_user' reads as the function current_user()"),
    ("SELECT current_role()", "current_role() names the server's user"),
    ("SELECT platform()", "platform() is not one this page knows"),
    ("SELECT 1 AS n, user", "'user' reads as the function user()"),
    ("SELECT current_catalog", "'current_catalog' reads as the function"),
    ("SELECT current_connection_id()", "reads the server's state"),
    ("SELECT sleep_ms(100000)", "sleep_ms() waits instead of computing"),
    ("SELECT pg_get_viewdef(1)", "pg_get_viewdef() reads the catalog"),
    ("SELECT has_table_privilege('metrics', 'select')", "reads the catalog's privileges"),
    ("SELECT in_search_path('memory', 'main')", "in_search_path() reads the catalog"),
    ("SELECT get_block_size('store')", "get_block_size() reads the database file"),
    ("SELECT nextval('s')", "nextval() changes a sequence"),
    ("SELECT setseed(0.5)", "setseed() changes the connection's random state"),
    ("SELECT write_log('x')", "write_log() writes to the server's log"),
    ("SELECT __internal_compress_integral_utinyint(1, 0)", "DuckDB's internal function"),
    ("SELECT system.main.version()", "Call functions by their plain name"),
    ("SELECT main.abs(-1), pg_catalog.version()", "Call functions by their plain name"),
    ("SELECT no_such_function(1)", "is not one this page knows to be harmless"),
    ("SELECT duckdb_api()", "duckdb_api() is not one this page knows"),
    ("EXPLAIN ANALYZE SELECT 1", "Only read queries"),
    ("CREATE SECRET s (TYPE s3)", "not CREATE"),
    ("CREATE MACRO m() AS 1", "not CREATE"),
    ("PREPARE p AS SELECT 1", "Only read queries"),
    ("VACUUM", "Only read queries"),
    ("IMPORT DATABASE '/tmp/x'", "Only read queries"),
    # input size and nesting
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "expression depth"),
    ("SELECT 1 -- " + "x" * 30_000, "this page takes up to 20,000"),
    # encodings: odd characters are parsed, not obeyed
    ("SELECT * FROM ＤＵＣＫＤＢ_SETTINGS()", "is not available here"),
    ("SELECT 1;\u0000 DROP TABLE metrics", "DuckDB cannot parse this"),
    ("SELECT '\udcff'", "not valid text"),
]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def con(synthetic_store):
    connection = open_store(synthetic_store)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def pool(synthetic_store):
    workers = sandbox.Pool(synthetic_store, size=2, time_limit=2)
    yield workers
    workers.close()


@pytest.mark.parametrize(("sql", "reason"), HOSTILE, ids=[q[:40] or "empty" for q, _ in HOSTILE])
def test_a_hostile_query_is_refused_with_its_reason_and_nothing_changes(con, synthetic_store, sql,
                                                                       reason):
    before = digest(synthetic_store)
    with pytest.raises(sandbox.Refused) as refusal:
        sandbox.execute(con, sql, time_limit=5)
    message = str(refusal.value)
    assert reason in message, (sql, message)
    assert "\n" not in message and message.endswith("."), (sql, message)
    assert digest(synthetic_store) == before


def test_every_function_of_this_duckdb_is_classified():
    """An allow-list: a DuckDB upgrade that adds functions fails here until each is classified
    (python scripts/sql_functions.py, then a review of its `new:` lines)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sql_functions.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    verdicts = {v for v, _ in sandbox.FUNCTIONS.values()}
    assert verdicts == {"allowed", "refused"}
    assert sandbox.FUNCTIONS["abs"][0] == "allowed"
    assert sandbox.FUNCTIONS["json_serialize_plan"][0] == "refused"


def test_good_queries_run(con):
    result = sandbox.execute(con, "SELECT model, avg(correct::INT) AS accuracy FROM metrics_named "
                                  "GROUP BY ALL ORDER BY model")
    assert result.frame.columns == ["model", "accuracy"] and len(result.frame) == 2
    assert not result.truncated
    cte = sandbox.execute(con, "WITH c AS (SELECT count(*) AS n FROM samples) SELECT n FROM c")
    assert cte.frame["n"].to_list() == [450]
    assert len(sandbox.execute(con, "SELECT * FROM information_schema.tables").frame) > 5
    assert sandbox.execute(con, "SELECT sum(range) AS s FROM range(10)").frame["s"].to_list() == [45]
    # a table joined with itself repeats column names; they come back made unique
    both = sandbox.execute(con, "SELECT * FROM models a JOIN models b USING (model_id) LIMIT 1").frame
    assert "name" in both.columns and "name_2" in both.columns
    # a CTE named like a table of the store is the query's own, where it is visible
    own = sandbox.execute(con, "WITH models AS (SELECT 7 AS x) SELECT x FROM models")
    assert own.frame["x"].to_list() == [7]
    earlier = sandbox.execute(con, "WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS x FROM a) "
                                   "SELECT x FROM b")
    assert earlier.frame["x"].to_list() == [2]
    recursive = sandbox.execute(con, "WITH RECURSIVE a AS (SELECT 1 AS x UNION ALL SELECT x + 1 "
                                     "FROM a WHERE x < 3) SELECT x FROM a")
    assert recursive.frame["x"].to_list() == [1, 2, 3]
    angles = sandbox.execute(con, "SELECT unnest(angles) AS a FROM metrics LIMIT 3")
    assert angles.frame.height == 3
    assert sandbox.execute(con, "SELECT * FROM unnest([1, 2])").frame.height == 2
    nested = sandbox.execute(con, "WITH m AS (SELECT 2 AS v) SELECT (SELECT v FROM m) AS v")
    assert nested.frame["v"].to_list() == [2]


@pytest.mark.parametrize("terms", [400, 900])
def test_a_long_expression_is_answered_on_every_python(con, terms):
    """Within DuckDB's own nesting limit a long sum is a query like any other: its parse tree is
    decoded the same way on every Python (3.11's C decoder alone stopped at 400 terms)."""
    result = sandbox.execute(con, "SELECT " + "+".join(["1"] * terms) + " AS s", time_limit=5)
    assert result.frame["s"].to_list() == [terms]


def test_past_duckdbs_nesting_limit_the_answer_is_one_sentence(con):
    for sql in ("SELECT " + "+".join(["1"] * 1000), "SELECT " + "+".join(["1"] * 3000)):
        with pytest.raises(sandbox.Refused) as refusal:
            sandbox.execute(con, sql, time_limit=5)
        message = str(refusal.value)
        assert "depth" in message and "\n" not in message and message.endswith("."), message


def test_the_parse_tree_decoder_needs_no_interpreter_headroom():
    """3,000 levels (DuckDB's deepest tree) decode whatever the recursion limit was."""
    import sys

    deep = '{"a":' * 3000 + "1" + "}" * 3000
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        tree = sandbox.parse_tree(deep)
    finally:
        sys.setrecursionlimit(before)
    for _ in range(3000):
        tree = tree["a"]
    assert tree == 1 and sys.getrecursionlimit() == before


def test_a_huge_result_is_cut_at_the_row_limit_with_a_notice(con):
    result = sandbox.execute(con, "SELECT * FROM range(5000000)", row_limit=1000)
    assert len(result.frame) == 1000 and result.truncated and "row limit" in result.note
    exact = sandbox.execute(con, "SELECT * FROM range(1000)", row_limit=1000)
    assert len(exact.frame) == 1000 and not exact.truncated


def test_a_result_heavy_in_bytes_is_cut_at_the_byte_limit(con):
    result = sandbox.execute(con, "SELECT repeat('x', 100000) AS s FROM range(10000)",
                             byte_limit=8 * 2**20)
    assert result.truncated and "MB" in result.note
    assert 0 < len(result.frame) < 10000
    assert result.frame["s"].str.len_bytes().sum() <= 8 * 2**20


def test_values_arrow_would_change_come_back_exact_as_text(con):
    result = sandbox.execute(con, "SELECT 340282366920938463463374607431768211455::UHUGEINT AS u, "
                                  "'101'::BIT AS b, [170141183460469231731687303715884105727::HUGEINT] AS l, "
                                  "sum(range) AS s FROM range(10)")
    row = result.frame.row(0, named=True)
    assert row["u"] == "340282366920938463463374607431768211455" and row["b"] == "101"
    assert row["l"] == "[170141183460469231731687303715884105727]"
    assert row["s"] == 45  # a plain HUGEINT, what sum() of integers gives, stays a number
    assert "shown as text: u, b, l" in result.note


def test_a_private_folder_whose_app_is_gone_is_swept(synthetic_store, tmp_path):
    """An app killed outright runs no exit handler: the next pool removes what it left."""
    folder = Path(tempfile.mkdtemp(prefix=sandbox.PRIVATE_PREFIX))
    (folder / "owner").write_text(str(_exited_pid()))
    sandbox.Pool(synthetic_store, size=1).close()
    assert not folder.exists()


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(("sql", "text_columns"), [
    ("SELECT union_value(k := 1) AS u", ["u"]),
    ("SELECT INTERVAL 3 DAY AS i, 1 AS n", ["i"]),
    ("SELECT 'infinity'::TIMESTAMP AS t, '-infinity'::DATE AS d, DATE '2020-01-02' AS ok",
     ["t", "d"]),
    ("SELECT map([1, 2], ['a', 'b']) AS m", []),
    ("SELECT {'a': 1, 'b': [1, 2]} AS s", []),
    ("SELECT '\u00e9\u4e2d\U0001f600'::VARCHAR AS text, '\\xAA'::BLOB AS raw", []),
])
def test_every_type_comes_back_shown_or_as_text(con, sql, text_columns):
    result = sandbox.execute(con, sql)
    assert len(result.frame) == 1
    for name in text_columns:
        assert result.frame[name].dtype == pl.String and name in result.note
    str(result.frame)  # what the page shows can be shown
    assert export.csv_bytes(result.frame) and export.parquet_bytes(result.frame)


def test_the_connection_itself_refuses_files_and_settings(con):
    """Even past the checks (as if one were missing), DuckDB itself says no."""
    import duckdb

    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SET memory_limit = '64GB'",
                "CREATE TABLE t (a INT)", "LOAD httpfs"):
        with pytest.raises(duckdb.Error):
            con.cursor().execute(sql)


# --- the worker pool: what cannot be interrupted or bounded in-process ------------------------


def assert_refused_in_time(pool, sql, words, limit):
    start = time.monotonic()
    with pytest.raises(sandbox.Refused, match=words):
        pool.run(sql)
    assert time.monotonic() - start < limit + 2, sql  # the limit, plus 2 s at the most


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM metrics a, metrics b, metrics c",  # interruptible: hours of work
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
])
def test_a_query_past_the_time_limit_is_stopped_within_it(pool, synthetic_store, sql):
    before = digest(synthetic_store)
    assert_refused_in_time(pool, sql, "ran past the 2 s limit|more memory", 2)
    assert digest(synthetic_store) == before
    assert pool.run("SELECT 1 AS one").frame["one"].to_list() == [1]  # a fresh worker answers


@pytest.mark.parametrize("sql", [
    "SELECT length(string_agg(repeat('x', 100000), '')) FROM range(100000000)",
    "SELECT list_sort(list(random())) FROM range(300000000)",
    "SELECT repeat('x', 2000000000)",
    # uninterruptible work on one huge value (a review measured these at the limit + 2.9 s when
    # the answer waited for the killed worker to free its memory)
    "SELECT list_sort(range(120000000))[1]",
    "SELECT md5(repeat('ab', 500000000))",
    "SELECT regexp_replace(repeat('a', 200000000), 'a', 'bb', 'g') IS NULL",
])
def test_a_query_that_wants_all_the_memory_is_refused(pool, sql):
    assert_refused_in_time(pool, sql, "more memory|ran past", 2)
    assert pool.run("SELECT 2 AS two").frame["two"].to_list() == [2]


def test_the_worker_has_nothing_of_the_server_to_read(pool):
    """A query that slipped past every check (here, run on the worker's own connection) finds
    no home or temporary folder of the server's."""
    from store.schema import READ_CONFIG

    assert READ_CONFIG["lock_configuration"]
    home = os.path.expanduser("~")
    result = pool.run("SELECT 1 AS x")  # the worker is up
    assert result.frame["x"].to_list() == [1]
    # The settings a bypass could read name only the worker's private folder.
    private = [p for p in pool.free if p]
    assert private and all(os.readlink(f"/proc/{p.pid}/cwd").startswith("/tmp") for p in private)
    assert all(home not in os.readlink(f"/proc/{p.pid}/cwd") for p in private)


def test_the_workers_connection_names_no_path_of_the_server(synthetic_store, tmp_path):
    """Past every check (as if one were missing): every setting, the catalog and the database list
    name the worker's private folder and the neutral name `store`, never where the store lies."""
    from store.sql_worker import connect

    private = tmp_path / "private"
    private.mkdir()
    con = connect(str(synthetic_store), str(private), "256")
    server_folder = str(synthetic_store.parent)
    settings = con.execute("SELECT name, value FROM duckdb_settings()").fetchall()
    assert not [s for s in settings if server_folder in str(s[1])], settings
    assert con.execute("SELECT current_catalog()").fetchall() == [("store",)]
    paths = [p for (p,) in con.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL"
                                       ).fetchall()]
    assert paths == [str(private / "store.duckdb")]
    tables = con.execute("SELECT DISTINCT table_catalog FROM information_schema.tables").fetchall()
    assert tables == [("store",)]
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] > 0


def test_no_private_folder_outlives_its_worker(synthetic_store):
    """Killed at the time limit, ended by a memory refusal or closed with the pool: each worker's
    private folder goes with it."""
    import glob

    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "rle-sql-*")))
    workers = sandbox.Pool(synthetic_store, size=2, time_limit=1)
    try:
        assert workers.run("SELECT 1 AS x").frame["x"].to_list() == [1]
        with pytest.raises(sandbox.Refused):
            workers.run("SELECT count(*) FROM metrics a, metrics b, metrics c")
        assert workers.run("SELECT 2 AS x").frame["x"].to_list() == [2]
    finally:
        workers.close()
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "rle-sql-*"))) <= before


@pytest.mark.slow  # waits out queries that run to the time limit
def test_one_visitors_slow_queries_hold_one_worker_and_others_still_answer(synthetic_store):
    """A visitor who sends slow queries again and again takes one worker, not all: another
    visitor's quick query is answered well within the time limit meanwhile."""
    workers = sandbox.Pool(synthetic_store, size=2, time_limit=5)
    slow = "SELECT count(*) FROM metrics a, metrics b, metrics c"
    outcomes: list[str] = []

    def hostile() -> None:
        try:
            workers.run(slow, visitor="hostile")
        except sandbox.Refused as refusal:
            outcomes.append(str(refusal))

    try:
        workers.run("SELECT 1", visitor="warm-up")  # a started worker for each visitor below
        threads = [threading.Thread(target=hostile) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while not any(p is False for p in workers.free):  # the first slow query is running
            assert time.monotonic() < deadline
            time.sleep(0.01)
        start = time.monotonic()
        answer = workers.run("SELECT count(*) AS n FROM models", visitor="ordinary")
        waited = time.monotonic() - start
        assert answer.frame["n"].to_list() == [2]
        assert waited < 5, waited  # not behind a slow query: it had a worker of its own
        for t in threads:
            t.join()
        assert len(outcomes) == 3 and all("limit" in o for o in outcomes), outcomes
    finally:
        workers.close()


def test_a_worker_that_keeps_more_than_its_share_is_replaced(synthetic_store):
    workers = sandbox.Pool(synthetic_store, size=1, memory_mb=128, recycle_mb=0)
    try:
        assert workers.run("SELECT 1 AS x").frame["x"].to_list() == [1]
        assert workers.free == [None]  # its resident memory was over 128 MB: not kept
        assert workers.run("SELECT 2 AS x").frame["x"].to_list() == [2]
    finally:
        workers.close()


def test_the_workers_share_the_memory_budget(synthetic_store):
    workers = sandbox.Pool(synthetic_store, size=3, memory_mb=1536)
    assert workers.share_mb == 512 and workers.args[-1] == "512"
    workers.close()


def test_concurrent_users_are_not_refused(pool):
    answers: list[str] = []

    def user() -> None:
        for _ in range(20):
            try:
                pool.run("SELECT model, avg(correct::INT) FROM metrics_named GROUP BY 1")
                answers.append("ok")
            except sandbox.Refused as refusal:
                answers.append(str(refusal))

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == ["ok"] * 80


def test_a_rebuilt_store_is_what_readers_see_next(synthetic_store, tmp_path):
    from store import live

    path = tmp_path / "store.duckdb"
    shutil.copy(synthetic_store, path)
    first = live.current(path)
    assert first.con.execute("SELECT count(*) FROM models").fetchone() == (2,)
    cursor = first.con.cursor()  # a reader still busy with the old version
    # a "rebuild": another store renamed over the path, as the writer commits
    other = tmp_path / "other.duckdb"
    shutil.copy(synthetic_store, other)
    with duckdb_writable(other) as w:
        w.execute("DELETE FROM models WHERE model_id = 1")
    os.replace(other, path)
    second = live.current(path)
    assert second is not first
    assert second.con.execute("SELECT count(*) FROM models").fetchone() == (1,)
    cursor.close()
    assert live.sql_pool(path).run("SELECT count(*) AS n FROM models").frame["n"].to_list() == [1]
    second.release()


def duckdb_writable(path):
    import duckdb

    return duckdb.connect(str(path))


def test_a_result_of_a_gigabyte_reaches_the_app_cut_to_the_byte_limit(pool):
    """10,000 rows of 100 KB under the row limit: the worker cuts it, the app holds only that."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    result = pool.run("SELECT repeat('x', 100000) AS s FROM range(10000)")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.truncated and "MB" in result.note
    assert result.frame["s"].str.len_bytes().sum() <= sandbox.BYTE_LIMIT
    assert grown < 512 * 1024, f"the app grew by {grown / 1024:.0f} MB"


@pytest.fixture
def big_machine_pool(synthetic_store, tmp_path, monkeypatch):
    """Workers that start with 4 GB of address space reserved and never used, as the thread
    stacks and allocator arenas of a machine with many cores are (a `sitecustomize` on the
    workers' path maps it before anything of theirs runs)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import mmap\n_RESERVED = mmap.mmap(-1, 4 << 30, flags=mmap.MAP_PRIVATE, prot=0)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    workers = sandbox.Pool(synthetic_store, size=2, time_limit=2)
    yield workers
    workers.close()


def test_the_room_a_query_gets_does_not_shrink_with_what_the_machine_reserves(big_machine_pool):
    """A fixed address-space limit failed the gigabyte result above on CI's machine (more
    cores, more reserved); the limit counts from what a started worker has mapped."""
    result = big_machine_pool.run("SELECT repeat('x', 100000) AS s FROM range(10000)")
    assert result.truncated and "MB" in result.note
    assert_refused_in_time(big_machine_pool, "SELECT repeat('x', 2000000000)", "more memory|ran past", 2)


def test_freed_workers_go_to_waiting_queries_in_the_order_they_came():
    slots = sandbox._FairSlots(1)
    assert slots.acquire(timeout=1)
    order: list[str] = []

    def wait(name: str) -> None:
        assert slots.acquire(timeout=30)
        order.append(name)
        slots.release()

    threads = []
    for i, name in enumerate(["first", "second", "third"]):
        t = threading.Thread(target=wait, args=(name,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while len(slots.waiters) < i + 1:  # queued before the next one comes
            assert time.monotonic() < deadline
            time.sleep(0.001)
    slots.release()
    for t in threads:
        t.join()
    assert order == ["first", "second", "third"]
    assert slots.acquire(timeout=0) and slots.slots == 0  # the one slot is free again


def test_an_expression_kind_off_the_allow_list_is_refused(con, monkeypatch):
    """As a DuckDB upgrade's new kind of expression would be, until someone looks at it."""
    from store import sql_check

    monkeypatch.setattr(sql_check, "EXPRESSIONS", sql_check.EXPRESSIONS - {"CASE"})
    with pytest.raises(sandbox.Refused, match="does not run queries with case expressions"):
        sandbox.check(con, "SELECT CASE WHEN true THEN 1 END")
    assert sandbox.check(con, "SELECT 1 + 1")


def test_the_mean_corruption_accuracy_example_is_the_overviews(synthetic_store):
    """An example that names an Overview figure computes that figure, from the raw rows."""
    con = open_store(synthetic_store)
    name = next(k for k in sandbox.EXAMPLE_QUERIES if k.startswith("Mean corruption accuracy"))
    got = sandbox.execute(con, sandbox.EXAMPLE_QUERIES[name]).frame
    overview = queries.model_overview(con)
    assert got["model"].to_list() == overview["model"].to_list()
    assert got["mean_corruption_accuracy"].to_list() == pytest.approx(
        overview["mean_corruption_accuracy"].to_list())
    con.close()
