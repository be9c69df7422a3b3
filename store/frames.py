"""Running query texts: parameters bound by name, results as Polars frames, ids as plain ints.
The one place the store's readers and its build-time summaries share."""

from __future__ import annotations

import re

import duckdb
import polars as pl

Con = duckdb.DuckDBPyConnection

CLEAN_ID = "(SELECT condition_id FROM conditions WHERE corruption = 'clean')"
PNG_URL = "'data:image/png;base64,' || to_base64({})"


def frame(con: Con, sql: str, **params: object) -> pl.DataFrame:
    """Run `sql` with the `$name` parameters it uses; a Polars frame."""
    # Only the parameters the text uses: one query text may leave some of a function's out.
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    return con.sql(sql, params=used or None).pl()


def ids(values: object) -> list[int]:
    return [int(v) for v in values]
