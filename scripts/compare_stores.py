"""Do two stores hold the same numbers? Table by table, column by column.

    .venv/bin/python scripts/compare_stores.py A.duckdb B.duckdb [--tolerance 1e-5]

Compares every table both stores have, row for row in key order: integer, boolean and text
columns must be equal, float columns within `--tolerance` (relative, or absolute near 0; 0 asks
for bit-identical). `meta` is skipped (it records when and where a store was built), and so are
the PNG thumbnails, and the checkpoint paths and hashes, which name where a build ran and the
cache key of the code that trained the weights (the weights themselves show in every metric).
Prints one line per table and exits 1 when any differs, so a refactoring can prove it changed no
number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import open_store  # noqa: E402

SKIP_TABLES = {"meta"}
SKIP_COLUMNS = {"thumbnail", "checkpoint", "checkpoint_sha256"}


def table_columns(con, table: str) -> list[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                       "ORDER BY ordinal_position", [table]).fetchall()
    return [r[0] for r in rows if r[0] not in SKIP_COLUMNS]


def same(x: np.ndarray, y: np.ndarray, tolerance: float) -> tuple[bool, str]:
    if x.dtype == object and len(x) and isinstance(x[0], np.ndarray | list):  # FLOAT[C] columns
        x, y = np.stack([np.asarray(v, dtype=float) for v in x]), np.stack([np.asarray(v, dtype=float)
                                                                              for v in y])
    if np.issubdtype(x.dtype, np.floating):
        if tolerance == 0:
            ok = np.array_equal(x, y, equal_nan=True)
        else:
            ok = np.allclose(x, y, rtol=tolerance, atol=tolerance, equal_nan=True)
        finite = np.isfinite(x) & np.isfinite(y)
        gap = float(np.abs(x[finite] - y[finite]).max()) if finite.any() else 0.0
        return ok, f"max |difference| {gap:.3g}"
    return bool(np.array_equal(x, y)), "equal" if np.array_equal(x, y) else "differs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args()
    a, b = open_store(args.a), open_store(args.b)
    tables = [r[0] for r in a.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    differs = False
    for table in tables:
        if table in SKIP_TABLES:
            continue
        cols = table_columns(a, table)
        if cols != table_columns(b, table):
            print(f"{table}: the columns differ")
            differs = True
            continue
        order = ", ".join(c for c in cols if c not in ("angles",))
        query = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}"
        x, y = a.execute(query).fetchnumpy(), b.execute(query).fetchnumpy()
        if len(next(iter(x.values()), [])) != len(next(iter(y.values()), [])):
            print(f"{table}: {len(next(iter(x.values())))} rows against {len(next(iter(y.values())))}")
            differs = True
            continue
        notes = []
        for col in cols:
            ok, note = same(x[col], y[col], args.tolerance)
            if not ok:
                notes.append(f"{col} ({note})")
        differs |= bool(notes)
        rows = len(next(iter(x.values()), []))
        print(f"{table}: {rows:,} rows " + (f"DIFFER in {', '.join(notes)}" if notes else "identical"
                                             if args.tolerance == 0 else "within tolerance"))
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
