"""The store: one DuckDB file, its schema, the writer compute uses and the queries the app runs.

Nothing outside this package writes SQL. It imports neither torch nor compute, so the app can
depend on it alone.
"""

from store.schema import SCHEMA_VERSION, StoreError, open_store

__all__ = ["SCHEMA_VERSION", "StoreError", "open_store"]
