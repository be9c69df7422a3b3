"""A process that answers the SQL page's queries, one at a time, on its own read-only connection.

    python -m store.sql_worker STORE TIME_LIMIT ROW_LIMIT BYTE_LIMIT MEMORY_MB [PRIVATE_DIR]

It runs apart from the app so that the app can stop any query for certain (by killing it) and
bound its memory (an address-space limit, here, and DuckDB's memory limit). Requests arrive on
stdin and answers leave on stdout as frames: a 4-byte length, then the bytes. A request is the
query text (UTF-8); an answer is a JSON header, and for a result the Arrow IPC stream of its
columns after a newline.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path

# The address-space limit is what the worker had mapped once started (interpreter, libraries,
# DuckDB's threads: a machine with more cores reserves more, most of it never used) plus DuckDB's
# memory limit plus this room for the result on its way out (batches, Arrow, Polars, the IPC
# bytes: a few copies of at most the 64 MB byte limit) and the allocator's growth.
QUERY_ROOM_MB = 1024
# Where /proc cannot say what is mapped (not Linux, where the limit is not enforced anyway).
FALLBACK_BASE_MB = 3072
# A page's worker answers one visitor's query: a few threads serve it, and every thread a big
# machine would add costs address space (stacks, allocator arenas) the query cannot use.
MAX_THREADS = 4


def read_frame(stream) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("!I", head)
    return stream.read(size)


def write_frame(stream, payload: bytes) -> None:
    stream.write(struct.pack("!I", len(payload)) + payload)
    stream.flush()


def connect(store: str, private: str, memory_mb: str):
    """A read-only connection to `store` that holds nothing worth reading: opened through a link
    `private/store.duckdb`, so its catalog is `store` and no setting or catalog names the server's
    path; every directory setting points at `private` (empty); files, extensions and the
    configuration closed. The link is a hard one: DuckDB resolves a symbolic link and would list
    the real path among its allowed paths. Where no hard link can be made (another file system),
    a symbolic one still gives the neutral catalog name."""
    import duckdb

    from store.schema import READ_CONFIG

    link = Path(private) / "store.duckdb"
    try:
        os.link(Path(store).resolve(), link)
    except OSError:
        link.symlink_to(Path(store).resolve())
    config = {**READ_CONFIG, "memory_limit": f"{memory_mb}MB", "temp_directory": private,
              "home_directory": private, "extension_directory": private,
              "secret_directory": private, "max_temp_directory_size": "0B",
              "threads": min(os.cpu_count() or 1, MAX_THREADS)}
    return duckdb.connect(str(link), read_only=True, config=config)


def mapped_mb() -> int:
    """This process's virtual size in MB (Linux), or FALLBACK_BASE_MB where /proc cannot say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) // 1024 + 1
    except OSError:
        pass
    return FALLBACK_BASE_MB


def main() -> None:
    store, time_limit, row_limit, byte_limit, memory_mb = sys.argv[1:6]
    from store import sql_results as sandbox

    # A private directory for DuckDB's temporary files and "home": nothing of the server's to
    # read. The pool makes it and removes it when the worker ends, killed or not.
    private = sys.argv[6] if len(sys.argv) > 6 else tempfile.mkdtemp(prefix="rle-sql-")
    os.chdir(private)
    con = connect(store, private, memory_mb)
    con.execute("SELECT 1").fetchall()  # DuckDB's threads and buffers exist from here on
    # Relative to what is mapped now, so that the query gets the same room on any machine.
    limit = (mapped_mb() + int(memory_mb) + QUERY_ROOM_MB) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = sys.stdout.buffer
    write_frame(out, json.dumps({"ready": True}).encode())
    while (request := read_frame(sys.stdin.buffer)) is not None:
        start = time.perf_counter()
        try:
            result = sandbox.execute(con, request.decode("utf-8", errors="replace"),
                                     float(time_limit), int(row_limit), int(byte_limit))
        except (sandbox.Refused, MemoryError) as refusal:
            message = str(refusal) if isinstance(refusal, sandbox.Refused) else sandbox.MEMORY_MESSAGE
            write_frame(out, json.dumps({"refused": message}).encode())
            if message == sandbox.MEMORY_MESSAGE:
                return  # a process that ran out of memory keeps its fragments: start afresh
            continue
        header = {"rows": result.frame.height, "truncated": result.truncated,
                  "seconds": time.perf_counter() - start, "note": result.note}
        write_frame(out, json.dumps(header).encode() + b"\n" + sandbox.frame_bytes(result.frame))


if __name__ == "__main__":
    main()
