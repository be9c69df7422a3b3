"""The SQL page's query: the store's tables and columns, shown beside the editor."""

from __future__ import annotations

import polars as pl

from store.queries.common import Con, frame


def schema_overview(con: Con) -> pl.DataFrame:
    """Every table and view of the store with its columns and types, for the SQL page."""
    return frame(con, """
        SELECT table_name AS "table", column_name AS "column", data_type AS type
        FROM information_schema.columns
        WHERE table_schema = 'main'
        ORDER BY table_name, ordinal_position
    """)
