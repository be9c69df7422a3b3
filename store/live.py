"""A store file that a build may replace while readers run: always the current version.

A build renames a finished file over the old one, so the path stays and the file changes. DuckDB
keeps one database per resolved path in a process while any connection to it lives, so opening
the path again would return the old file. Each version is therefore opened through a hard link
of its own (`.rle-open/<name>-<inode>-<mtime>.duckdb` beside the store), which DuckDB treats as
another database; the previous version's connection, SQL workers and link are released as soon
as a newer one is opened. Where no link can be made (a read-only folder, another file system),
the path itself is opened, and a new version shows once the old connection's queries end.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from store.schema import open_store

LINKS = ".rle-open"


@dataclass
class Version:
    key: tuple[int, int, int]  # inode, mtime in ns, size
    con: duckdb.DuckDBPyConnection
    opened: Path  # the hard link it was opened through, or the store path itself
    pools: dict = field(default_factory=dict)  # the SQL page's workers by their limits
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.con.close()
        if self.opened.parent.name == LINKS:
            with contextlib.suppress(OSError):
                self.opened.unlink()


_current: dict[str, Version] = {}
_lock = threading.Lock()


def version_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def _link(path: Path, key: tuple[int, int, int]) -> Path | None:
    folder = path.parent / LINKS
    target = folder / f"{path.stem}-{key[0]}-{key[1]}.duckdb"
    try:
        folder.mkdir(exist_ok=True)
        if not target.exists():
            os.link(path, target)
        return target
    except OSError:
        return None


def current(path: str | Path) -> Version:
    """The open current version of the store at `path` (StoreError if it cannot be read)."""
    path = Path(path)
    if not path.is_file():
        return Version((0, 0, 0), open_store(path), path)  # raises StoreError: no store there
    key = version_key(path)
    with _lock:
        held = _current.get(str(path))
        if held is not None and held.key == key:
            return held
        if held is not None:
            held.release()
            del _current[str(path)]
        opened = _link(path, key) or path
        try:
            con = open_store(opened)
        except Exception:
            if opened != path:
                with contextlib.suppress(OSError):
                    opened.unlink()
            raise
        _current[str(path)] = Version(key, con, opened)
        return _current[str(path)]


def sql_pool(path: str | Path, **limits: object) -> object:
    """The SQL page's worker pool with these limits on the current version of the store
    (store.sandbox.Pool)."""
    from store.sandbox import Pool

    version = current(path)
    key = tuple(sorted(limits.items()))
    with version.lock:
        if key not in version.pools:
            version.pools[key] = Pool(version.opened, **limits)
        return version.pools[key]
