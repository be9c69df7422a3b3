"""Ad hoc SQL over a store that cannot hurt anyone, even when the app is shared publicly.

Layers, each enough on its own for most attacks, together for all of them:
1. The statement: exactly one, a plain read query (SELECT / WITH ... SELECT / VALUES), of
   reasonable length.
2. What it names, from DuckDB's own parse tree with DuckDB's scoping, against allow-lists
   (`store/sql_check.py`): the store's tables and views, the query's own CTEs where they are
   visible, harmless table functions, the reviewed functions of `store/sql_functions.txt`.
3. Where it runs (this module's `Pool`): a worker process (`store/sql_worker.py`) with its own
   read-only connection (external access off, configuration locked, temporary files and "home"
   in a private empty directory, no spilling to disk), an address-space limit and DuckDB's
   memory limit. The app waits at most the time limit plus `GRACE_S`, then kills the worker and
   starts another: every query ends, interruptible or not.
4. What comes back (`store/sql_results.py`): at most `row_limit` rows and `byte_limit` bytes,
   columns of types the page cannot show turned into text.
Every refusal or failure is a `Refused` whose message is one sentence saying why.
"""

from __future__ import annotations

import atexit
import collections
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

import polars as pl

# The lower layers' names are the sandbox's too (the page and tests use them).
from store.sql_check import FUNCTIONS, Refused, check, parse_tree  # noqa: F401
from store.sql_results import (  # noqa: F401
    BYTE_LIMIT,
    MEMORY_MESSAGE,
    ROW_LIMIT,
    TIME_LIMIT_S,
    Result,
    execute,
    frame_bytes,
)
from store.sql_worker import read_frame, write_frame

# DuckDB's memory for the whole page, split evenly between its workers (each its share), so two
# heavy queries at once stay within it.
MEMORY_MB = 1536
# glibc gives each thread that allocates its own arena, reserving 64 MB of address space apiece up
# to 8 per core; Polars starts a thread per core. Both are address space the worker's limit would
# count on a machine with many cores, and the worker needs neither.
WORKER_ENV = {"MALLOC_ARENA_MAX": "2", "POLARS_MAX_THREADS": "2"}
GRACE_S = 1.5  # past the time limit, the worker is killed
# Queries running at once; more wait for a free worker. One visitor's queries run one at a time,
# so two visitors sending slow queries over and over still leave a worker to everyone else.
WORKERS = 3
# A worker whose resident memory grows past its share by this much after a query (a large result
# leaves fragments behind) is replaced, so idle workers hold little.
RECYCLE_MB = 256


PRIVATE_PREFIX = "rle-sql-"
_POOLS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_pools() -> None:
    """The app is stopping: end the workers and remove their folders (each holds a link to the
    store that would keep a replaced store's file on disk)."""
    for pool in list(_POOLS):
        pool.close()


def _sweep_stale(older_than_s: float = 3600) -> None:
    """Remove private folders that outlived their app (killed, so no exit handler ran): those
    whose owner process is gone, and unowned ones older than an hour."""
    for folder in Path(tempfile.gettempdir()).glob(PRIVATE_PREFIX + "*"):
        try:
            owner = int((folder / "owner").read_text())
            alive = Path(f"/proc/{owner}").exists()
        except (OSError, ValueError):
            try:
                alive = time.time() - folder.stat().st_mtime < older_than_s
            except OSError:
                continue
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)


class _FairSlots:
    """A semaphore that serves waiters in the order they came: threading.Semaphore lets whichever
    thread wakes first take a freed slot, and under load one visitor's query could wait behind
    hundreds of others' (measured: 45 s)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.lock = threading.Lock()
        self.waiters: collections.deque[threading.Event] = collections.deque()

    def acquire(self, timeout: float) -> bool:
        with self.lock:
            if self.slots > 0 and not self.waiters:
                self.slots -= 1
                return True
            turn = threading.Event()
            self.waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self.lock:
            if turn.is_set():  # handed a slot just as the wait ran out
                return True
            self.waiters.remove(turn)
            return False

    def release(self) -> None:
        with self.lock:
            if self.waiters:
                self.waiters.popleft().set()  # the slot goes straight to the first in line
            else:
                self.slots += 1


def _resident_mb(pid: int) -> float:
    """A process's resident memory in MB (0 where /proc cannot tell)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class Pool:
    """Worker processes for one store, each answering one query at a time (`store/sql_worker.py`).

    `run` waits for the visitor's previous query to end (one worker per visitor at most), takes a
    free worker (waiting for one while all are busy), sends it the query and waits for the answer
    at most the time limit plus GRACE_S; a worker that does not answer by then, or dies, is
    killed and replaced, and so is one that kept more than its memory share after answering.
    `memory_mb` is DuckDB's memory for the whole pool, each worker getting `memory_mb / size`.
    Thread-safe: Streamlit's sessions share one pool.
    """

    def __init__(self, store: str | Path, size: int = WORKERS, time_limit: float = TIME_LIMIT_S,
                 row_limit: int = ROW_LIMIT, byte_limit: int = BYTE_LIMIT,
                 memory_mb: int = MEMORY_MB, recycle_mb: int = RECYCLE_MB) -> None:
        self.store = str(Path(store).resolve())
        self.share_mb = max(memory_mb // size, 64)
        self.recycle_mb = recycle_mb
        self.args = [self.store, str(time_limit), str(row_limit), str(byte_limit),
                     str(self.share_mb)]
        self.time_limit = time_limit
        self.free: list[subprocess.Popen | None] = [None] * size  # None: start one when needed
        self.available = _FairSlots(size)
        self.lock = threading.Lock()
        self.visitors: dict[str, threading.Lock] = {}
        self.reapers: list[threading.Thread] = []
        self.closed = False
        _POOLS.add(self)
        _sweep_stale()

    def _start(self) -> subprocess.Popen:
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, **WORKER_ENV,
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        private = tempfile.mkdtemp(prefix=PRIVATE_PREFIX)
        Path(private, "owner").write_text(str(os.getpid()))
        proc = subprocess.Popen([sys.executable, "-m", "store.sql_worker", *self.args, private],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env, cwd=root)
        proc.private = private  # removed with the worker (_kill)
        header = self._answer(proc, 60.0)
        if header is None or not json.loads(header).get("ready"):
            self._kill(proc)
            raise Refused("The SQL page could not start its query worker; try again.")
        return proc

    @staticmethod
    def _answer(proc: subprocess.Popen, timeout: float) -> bytes | None:
        """The worker's next frame, or None if none came within `timeout` or it died."""
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        return read_frame(proc.stdout)

    def _kill(self, proc: subprocess.Popen, wait: bool = True) -> None:
        """Kill a worker and remove its private folder; without `wait`, in the background (a
        worker holding gigabytes takes a second to go, which the query's answer need not wait
        for; `close` waits for it)."""
        proc.kill()
        if not wait:
            reaper = threading.Thread(target=self._kill, args=(proc,), daemon=True)
            self.reapers.append(reaper)
            reaper.start()
            return
        proc.wait()
        shutil.rmtree(getattr(proc, "private", ""), ignore_errors=True)

    def run(self, sql: str, visitor: str | None = None) -> Result:
        """Run one query; `visitor` (a session or an address) runs one query at a time."""
        try:
            sql.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("The query holds characters that are not valid text; type it again or "
                          "paste it as plain text.") from None
        if visitor is None:
            return self._run(sql)
        with self.lock:
            turn = self.visitors.setdefault(visitor, threading.Lock())
        if not turn.acquire(timeout=2 * (self.time_limit + GRACE_S) + 5):
            raise Refused("Your previous queries are still running; wait for them, then run "
                          "this again.")
        try:
            return self._run(sql)
        finally:
            turn.release()

    def _run(self, sql: str) -> Result:
        request = sql.encode("utf-8")

        if not self.available.acquire(timeout=60 + 2 * self.time_limit):
            raise Refused("The SQL page is busy with other queries; try again in a moment.")
        with self.lock:
            slot = next(i for i, p in enumerate(self.free) if p is not False)
            proc, self.free[slot] = self.free[slot], False
        try:
            if proc is not None and proc.poll() is not None:  # it died while idle
                self._kill(proc)
                proc = None
            if proc is None:
                proc = self._start()
            start = time.perf_counter()
            try:
                write_frame(proc.stdin, request)
                answer = self._answer(proc, self.time_limit + GRACE_S)
            except (BrokenPipeError, OSError):
                answer = None
            if answer is None and self.closed:
                raise Refused("The store was rebuilt while this query ran; run it again.")
            if answer is None:
                # Silent before the time limit: it died (its address-space limit, most likely).
                died = time.perf_counter() - start < self.time_limit or proc.poll() is not None
                self._kill(proc, wait=False)
                proc = None
                if died:
                    raise Refused(MEMORY_MESSAGE)
                raise Refused(f"The query ran past the {self.time_limit:g} s limit and was "
                              "stopped; filter or aggregate more.")
            header, _, body = answer.partition(b"\n")
            info = json.loads(header)
            if "refused" in info:
                if info["refused"] == MEMORY_MESSAGE:  # the worker exits: reap it
                    self._kill(proc)
                    proc = None
                raise Refused(info["refused"])
            frame = pl.read_ipc(io.BytesIO(body))
            if _resident_mb(proc.pid) > self.share_mb + self.recycle_mb:
                self._kill(proc)  # a fresh one starts on the next query
                proc = None
            return Result(frame, info["truncated"], time.perf_counter() - start, info["note"])
        finally:
            with self.lock:
                if self.closed and proc:  # the store was rebuilt meanwhile: not for reuse
                    self._kill(proc)
                    proc = None
                self.free[slot] = proc
            self.available.release()

    def close(self) -> None:
        self.closed = True
        with self.lock:
            for proc in self.free:
                if proc:
                    self._kill(proc)
            self.free = [None] * len(self.free)
        for reaper in self.reapers:
            reaper.join()


# Starting points for the SQL page, each a question a user of this tool asks.
EXAMPLE_QUERIES: dict[str, str] = {
    # The first is what the page opens with, so every visitor runs it: it reads small tables only.
    "The models: method, measured sparsity, clean accuracy": """SELECT m.name AS model, m.method,
       m.sparsity, m.params_nonzero, m.clean_accuracy, r.name AS dense_reference
FROM models m LEFT JOIN models r ON r.model_id = m.reference_model_id
ORDER BY m.model_id""",
    "Mean corruption accuracy per model (the Overview's: the 15 benchmark corruptions)":
    """SELECT mn.model, avg(mn.correct::INT) AS mean_corruption_accuracy
FROM metrics_named mn JOIN conditions c USING (condition_id)
WHERE c.benchmark
GROUP BY mn.model_id, mn.model
ORDER BY mn.model_id""",
    "mCE and relative mCE with their 95 % intervals over the test samples": """SELECT m.name AS model,
       r.measure, r.estimate, r.low, r.high
FROM robustness_intervals r JOIN models m USING (model_id)
WHERE r.measure IN ('mce', 'relative_mce')
ORDER BY m.model_id, r.measure""",
    "Accuracy per model and corruption, the benchmark's and the extras":
    """SELECT mn.model, mn.corruption, c.benchmark AS in_the_mean,
       avg(mn.correct::INT) AS accuracy
FROM metrics_named mn JOIN conditions c USING (condition_id)
WHERE mn.severity > 0
GROUP BY ALL
ORDER BY mn.model, in_the_mean DESC, accuracy""",
    "Samples pruning breaks (dense right, pruned wrong on clean)": """SELECT p.model, p.sample_id,
       d.margin_distance AS dense_margin, p.margin_distance AS pruned_margin
FROM metrics_named d
JOIN metrics_named p USING (sample_id, condition)
JOIN models m ON m.name = p.model
WHERE d.condition = 'clean' AND d.model_id = m.reference_model_id
  AND d.correct AND NOT p.correct
ORDER BY dense_margin DESC
LIMIT 100""",
    "How far each corruption pushes features towards the boundary": """SELECT model, corruption, severity,
       avg(margin_distance) FILTER (WHERE isfinite(margin_distance)) AS mean_margin_distance,
       avg(length) AS mean_length, avg(angle_true) AS mean_angle_true
FROM metrics_named
GROUP BY ALL
ORDER BY model, corruption, severity""",
    "Logits rebuilt from the stored geometry (sample 0)": """SELECT m.model_id, k - 1 AS class_id,
       d.weight_norm * m.length * cos(radians(m.angles[k])) + d.bias AS logit
FROM metrics m, range(1, (SELECT count(*) FROM classes) + 1) r(k)
JOIN class_directions d ON d.model_id = m.model_id AND d.class_id = k - 1
WHERE m.condition_id = 0 AND m.sample_id = 0
ORDER BY m.model_id, class_id""",
    "Class directions: the most similar pairs per model": """SELECT m.name AS model, a.name AS class_a,
       b.name AS class_b, p.angle
FROM class_pairs p
JOIN models m USING (model_id)
JOIN classes a ON a.class_id = p.class_a
JOIN classes b ON b.class_id = p.class_b
WHERE p.class_a < p.class_b
ORDER BY model, p.angle
LIMIT 30""",
}
