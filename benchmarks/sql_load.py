"""The SQL page under attack: ordinary visitors beside hostile ones, on the page's own worker pool.

    .venv-app/bin/python -m benchmarks.sql_load [--store stores/demo.duckdb] [--ordinary 8]
                                                [--hostile 2] [--seconds 60]

One process plays the app: it holds the SQL page's `Pool` (store/sandbox.py, its default size,
limits and memory budget) and serves every visitor from it, one thread per visitor, each with its
own visitor id as the page passes its session's. Ordinary visitors run the page's example
queries and `SELECT * FROM <table> LIMIT 20` over and over; hostile ones send, again and again,
queries that run to the time limit, want all the memory, or return as many bytes as allowed.
Prints the ordinary queries' latency (p50 / p95 / max), how each hostile query ended, the peak
resident memory of the app process and its workers together (sampled every 0.1 s) against the
budget, and the private folders left behind. Record the output in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from store import sandbox

HOSTILE = [
    "SELECT count(*) FROM metrics a, metrics b, metrics c",          # runs to the time limit
    "SELECT list(range) FROM range(400000000)",                       # wants all the memory
    "SELECT repeat('x', 100000) AS s FROM range(100000)",              # bytes up to the cut
    "SELECT * FROM metrics ORDER BY random()",                         # a big sort
]


def resident_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) / 1024
        except (OSError, StopIteration):
            pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("stores/demo.duckdb"))
    parser.add_argument("--ordinary", type=int, default=8)
    parser.add_argument("--hostile", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "rle-sql-*")))
    pool = sandbox.Pool(args.store)
    con = __import__("duckdb").connect(str(args.store), read_only=True)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    con.close()
    ordinary = [*sandbox.EXAMPLE_QUERIES.values(), *(f"SELECT * FROM {t} LIMIT 20" for t in tables)]
    stop = time.monotonic() + args.seconds
    latencies: list[float] = []
    failures: list[str] = []
    endings: dict[str, int] = {}
    peak = [0.0]

    def visit(name: str, queries: list[str], hostile: bool) -> None:
        for sql in itertools.cycle(queries):
            if time.monotonic() > stop:
                return
            start = time.monotonic()
            try:
                pool.run(sql, visitor=name)
                outcome = "answered"
            except sandbox.Refused as refusal:
                outcome = str(refusal).split(";")[0][:60]
                if not hostile:
                    failures.append(f"{sql[:50]}: {refusal}")
            if hostile:
                endings[outcome] = endings.get(outcome, 0) + 1
            else:
                latencies.append(time.monotonic() - start)

    def sample() -> None:
        while time.monotonic() < stop + 15:
            pids = [os.getpid(), *(p.pid for p in pool.free if p)]
            peak[0] = max(peak[0], resident_mb(pids))
            time.sleep(0.1)

    threads = [threading.Thread(target=visit, args=(f"ordinary-{i}", ordinary[i:] + ordinary[:i],
                                                    False)) for i in range(args.ordinary)]
    threads += [threading.Thread(target=visit, args=(f"hostile-{i}", HOSTILE[i:] + HOSTILE[:i],
                                                     True)) for i in range(args.hostile)]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    left = set(glob.glob(os.path.join(tempfile.gettempdir(), "rle-sql-*"))) - before
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [0] * 19
    print(f"store {args.store}: {args.ordinary} ordinary and {args.hostile} hostile visitors for "
          f"{args.seconds:.0f} s; pool of {len(pool.free)} workers, {sandbox.MEMORY_MB} MB DuckDB "
          f"memory in all, time limit {pool.time_limit:g} s")
    print(f"ordinary queries: {len(latencies)} answered, {len(failures)} refused; latency p50 "
          f"{statistics.median(latencies):.3f} s, p95 {q[18]:.3f} s, max {max(latencies):.3f} s")
    for line in failures[:5]:
        print(f"  refused: {line}")
    print("hostile queries: " + "; ".join(f"{n} x {k}" for k, n in sorted(endings.items())))
    print(f"peak resident memory, app and workers together: {peak[0]:.0f} MB "
          f"(budget {sandbox.MEMORY_MB} MB + 1 GB = {sandbox.MEMORY_MB + 1024} MB)")
    print(f"private folders left behind: {len(left)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
