"""A store named by an https:// (or http://) URL: downloaded once into a cache folder, verified,
and reused on the next start.

The download happens here, in Python, before DuckDB sees the file: the connections themselves
keep external access off (store.schema.READ_CONFIG). A file is only ever opened from the cache
once it is complete, matches its checksum (a `#sha256=HEX` in the URL, or a sidecar
`URL.sha256` when the server has one) and opens as a store of a version this code reads; until
then it is `NAME.partial`, removed on any failure, so an interrupted download is retried on the
next start and nothing half-written is ever opened.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from store.schema import StoreError, open_store

MAX_BYTES = int(os.environ.get("RLE_STORE_MAX_MB", "2000")) * 1_000_000
CHUNK = 1 << 20
Progress = Callable[[int, int | None], None]


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def _split(url: str) -> tuple[str, str | None]:
    """(the URL to fetch, the sha256 its fragment names, if any)."""
    base, _, fragment = url.partition("#")
    match = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment) if fragment else None
    if fragment and not match:
        raise StoreError(f"The store URL's fragment #{fragment} is not #sha256=<64 hex digits>.")
    return base, match.group(1).lower() if match else None


def cached_path(url: str, cache_dir: Path) -> Path:
    """Where the store of `url` lives in the cache (whether or not it is there yet): a folder per
    URL and checksum named in it, the file's own name inside. So a new `#sha256=` (a new version
    at the same address) is a new download, never the old file under the new checksum."""
    base, expected = _split(url)
    name = Path(urllib.parse.urlparse(base).path).name or "store.duckdb"
    key = hashlib.sha256(f"{base}#{expected or ''}".encode()).hexdigest()[:16]
    return cache_dir / key / name


def _sidecar(base: str, timeout: float) -> str | None:
    """The checksum in `base.sha256` (`HEX` or `HEX  name`, as sha256sum writes it), or None when
    the server has no such file."""
    try:
        with urllib.request.urlopen(base + ".sha256", timeout=timeout) as response:
            text = response.read(4096).decode("ascii", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise StoreError(f"Could not read the checksum {base}.sha256: HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StoreError(f"Could not read the checksum {base}.sha256 ({_reason(exc)}).") from None
    match = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    if not match:
        raise StoreError(f"{base}.sha256 does not hold a sha256 checksum.")
    return match.group(1).lower()


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc) or type(exc).__name__


def fetch(url: str, cache_dir: Path, *, progress: Progress | None = None,
          max_bytes: int = MAX_BYTES, timeout: float = 30.0) -> Path:
    """The store of `url`, from the cache if a verified copy is there, else downloaded, verified
    and moved into the cache atomically. Every failure is a StoreError of one sentence, with no
    partial file left behind."""
    base, expected = _split(url)
    final = cached_path(url, cache_dir)
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    expected = expected or _sidecar(base, timeout)
    partial = final.with_name(final.name + ".partial")
    digest = hashlib.sha256()
    try:
        try:
            response = urllib.request.urlopen(base, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise StoreError(f"Could not download the store {base}: HTTP {exc.code} "
                             f"{exc.reason}.") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"Could not download the store {base} ({_reason(exc)}).") from None
        with response, open(partial, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise StoreError(f"The store at {base} is {total / 1e6:,.0f} MB, over the "
                                 f"{max_bytes / 1e6:,.0f} MB limit (RLE_STORE_MAX_MB).")
            done = 0
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as exc:  # dropped mid-way
                    raise StoreError(f"The download of {base} broke off after {done:,} bytes "
                                     f"({_reason(exc)}); start again to retry.") from None
                if not chunk:
                    break
                done += len(chunk)
                if done > max_bytes:
                    raise StoreError(f"The store at {base} is over the {max_bytes / 1e6:,.0f} MB "
                                     "limit (RLE_STORE_MAX_MB).")
                digest.update(chunk)
                out.write(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done != total:
            raise StoreError(f"The download of {base} broke off after {done:,} of {total:,} "
                             "bytes; start again to retry.")
        if expected and digest.hexdigest() != expected:
            raise StoreError(f"The store downloaded from {base} does not match its sha256 "
                             f"checksum (expected {expected[:12]}…, got {digest.hexdigest()[:12]}…).")
        try:
            open_store(partial).close()
        except StoreError as exc:
            raise StoreError(str(exc).replace(str(partial), f"The file at {base}")) from None
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
        for leftover in partial.parent.glob(partial.name + ".wal"):
            leftover.unlink(missing_ok=True)
    return final
