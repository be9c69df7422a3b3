"""Running one checked read query and shaping what comes back (the sandbox's layers 1, 2 and 4:
see `store/sandbox.py`): the check, DuckDB's interrupt at the time limit, the result streamed and
cut at the row and byte limits, and columns the page cannot show turned into text. It runs inside
a query worker (`store/sql_worker.py`), which imports nothing else of the app.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute

from store.sql_check import Refused, _one_line, check

TIME_LIMIT_S = 10.0
ROW_LIMIT = 10_000
BYTE_LIMIT = 64 * 1024 * 1024  # of the result's columns, as Arrow holds them
MEMORY_MESSAGE = ("The query needed more memory than this page allows; filter or aggregate "
                  "more, or select fewer columns.")


@dataclass
class Result:
    frame: pl.DataFrame
    truncated: bool      # more rows (or bytes) existed than were returned
    seconds: float
    note: str = ""       # what was changed to show it (a cut, columns turned into text)


def _needs_text(kind: str) -> bool:
    """A DuckDB type whose values Arrow or Polars would change on the way: a BIT becomes bytes, a
    UHUGEINT past 2^127 wraps to a negative number, a HUGEINT inside a list or struct loses its
    last digits. DuckDB casts them to its own text first. (A plain HUGEINT, what sum() of
    integers gives, stays a number: exact below 10^38.)"""
    return "BIT" in kind or "UHUGEINT" in kind or ("HUGEINT" in kind and kind != "HUGEINT")


def _exact(rel: duckdb.DuckDBPyRelation) -> tuple[duckdb.DuckDBPyRelation, list[str]]:
    """The query's relation with the columns `_needs_text` names cast to VARCHAR, by position
    (so repeated names survive), names kept; and the names of those columns."""
    types = [str(t) for t in rel.types]
    cast_names = [n for n, t in zip(rel.columns, types, strict=True) if _needs_text(t)]
    if not cast_names:
        return rel, []
    columns = []
    for i, (name, kind) in enumerate(zip(rel.columns, types, strict=True)):
        quoted = '"' + name.replace('"', '""') + '"'
        cast = "::VARCHAR" if _needs_text(kind) else ""
        columns.append(f"#{i + 1}{cast} AS {quoted}")
    return rel.project(", ".join(columns)), cast_names


def _unique(names: list[str]) -> list[str]:
    """Column names made unique without losing any (a join of a table with itself repeats them):
    a, a_2, a_3, each suffix past every name the result already has (`x, x, x_2` gives x, x_3,
    x_2, not two x_2)."""
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        if name in seen:
            k = 2
            while f"{name}_{k}" in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name)
        seen.add(name)
        out.append(name)
    return out


def _holds_temporal(dtype: pa.DataType) -> bool:
    """A date, time or timestamp anywhere in `dtype` (inside lists, structs and maps too)."""
    if pa.types.is_temporal(dtype):
        return True
    if pa.types.is_struct(dtype):
        return any(_holds_temporal(dtype.field(i).type) for i in range(dtype.num_fields))
    if pa.types.is_map(dtype):
        return _holds_temporal(dtype.key_type) or _holds_temporal(dtype.item_type)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return _holds_temporal(dtype.value_type)
    return False


def _as_text(column: pa.ChunkedArray) -> list[str | None]:
    """Each value as DuckDB prints it ('infinity', year 290000, nested values alike): read back
    by a private in-memory DuckDB, which knows every type it wrote; Arrow's or Python's own text
    where even that fails."""
    try:
        with duckdb.connect() as con:
            con.register("result", pa.table({"v": column}))
            return [r[0] for r in con.execute("SELECT v::VARCHAR FROM result").fetchall()]
    except duckdb.Error:
        pass
    try:
        return pa.compute.cast(column, pa.string()).to_pylist()
    except (pa.ArrowException, NotImplementedError):
        return [None if v is None else str(v) for v in column.to_pylist()]


def _showable(table: pa.Table) -> tuple[pl.DataFrame, list[str]]:
    """The result as a Polars frame; columns Polars cannot hold (unions, intervals, ...), and
    dates and times beyond what it can show (DuckDB's 'infinity', year 290000), alone or inside
    lists, structs and maps, become text. Returns the frame and the names of those columns."""
    columns, as_text = {}, []
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            if _holds_temporal(column.type):
                column.to_pylist()  # raises for values no calendar holds, nested ones too
            columns[name] = pl.from_arrow(column).rename(name)
        except BaseException as exc:  # Polars raises many types, and panics (BaseException)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            as_text.append(name)
            columns[name] = pl.Series(name, _as_text(column), dtype=pl.String)
    return pl.DataFrame(list(columns.values())), as_text


def _stream(relation: duckdb.DuckDBPyRelation, row_limit: int,
            byte_limit: int) -> tuple[pa.Table, str]:
    """The relation's rows up to the first batch past either limit, streamed in small batches so
    that a result far over the byte limit is never held whole; and which limit cut it ("rows",
    "bytes" or "")."""
    reader = relation.to_arrow_reader(256)
    batches, rows, size, cut = [], 0, 0, ""
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows > row_limit:
            cut = "rows"
            break
        if size > byte_limit:
            cut = "bytes"
            break
    return pa.Table.from_batches(batches, schema=reader.schema), cut


def _rows_within(table: pa.Table, byte_limit: int) -> int:
    """How many leading rows fit in `byte_limit`: whole batches while they fit, then the next
    batch's rows in proportion to its size."""
    kept, total = 0, 0
    for batch in table.to_batches():
        if total + batch.nbytes <= byte_limit:
            total += batch.nbytes
            kept += batch.num_rows
            continue
        per_row = batch.nbytes / max(batch.num_rows, 1)
        kept += int((byte_limit - total) // per_row) if per_row else batch.num_rows
        break
    return kept


def _timed_out(time_limit: float) -> Refused:
    return Refused(f"The query ran past the {time_limit:g} s limit and was stopped; "
                   "filter or aggregate more.")


def _run(con: duckdb.DuckDBPyConnection, query: str, time_limit: float, row_limit: int,
         byte_limit: int) -> tuple[pa.Table, str, list[str]]:
    """The checked query's streamed result on a cursor of `con`, interrupted at `time_limit`
    where DuckDB can be; with the limit that cut it and the columns cast to text."""
    cur = con.cursor()
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        cur.interrupt()

    timer = threading.Timer(time_limit, stop)
    timer.start()
    try:
        relation, cast_to_text = _exact(cur.sql(query))
        return (*_stream(relation, row_limit, byte_limit), cast_to_text)
    except duckdb.InterruptException:
        raise _timed_out(time_limit) from None
    except duckdb.OutOfMemoryException:
        raise Refused(MEMORY_MESSAGE) from None
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise _timed_out(time_limit) from None
        raise Refused(_one_line(str(exc))) from None
    finally:
        timer.cancel()
        cur.close()


def execute(con: duckdb.DuckDBPyConnection, sql: str, time_limit: float = TIME_LIMIT_S,
            row_limit: int = ROW_LIMIT, byte_limit: int = BYTE_LIMIT) -> Result:
    """Check and run one read query on a cursor of `con` (in a worker: see `store.sandbox.Pool`),
    interrupted at `time_limit` where DuckDB can be, returning at most `row_limit` rows and about
    `byte_limit` bytes."""
    query = check(con, sql)
    start = time.perf_counter()
    table, cut, cast_to_text = _run(con, query, time_limit, row_limit, byte_limit)
    if cut == "bytes":
        table = table.slice(0, _rows_within(table, byte_limit))
    table = table.slice(0, row_limit).rename_columns(_unique(table.column_names))
    frame, as_text = _showable(table)
    as_text = list(dict.fromkeys([*cast_to_text, *as_text]))
    notes = []
    if cut == "rows":
        notes.append(f"cut at the row limit ({row_limit:,} rows)")
    if cut == "bytes":
        notes.append(f"cut at {byte_limit / 2**20:.0f} MB")
    if as_text:
        notes.append(f"shown as text: {', '.join(as_text)}")
    return Result(frame, bool(cut), time.perf_counter() - start, "; ".join(notes))


def frame_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()
