"""A store by URL (store/remote.py): served from a local HTTP server on 127.0.0.1, downloaded
once, verified, reused; every bad source ends in one sentence and a cache with no partial file."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from store import StoreError, open_store
from store.remote import cached_path, fetch
from tests.support.http import Files, serve_files


@pytest.fixture
def server(synthetic_store: Path):
    with serve_files({"/demo.duckdb": synthetic_store.read_bytes()}) as base:
        yield base


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


def test_a_store_is_downloaded_once_verified_and_reused(server, synthetic_store, tmp_path):
    sha = hashlib.sha256(synthetic_store.read_bytes()).hexdigest()
    seen = []
    path = fetch(f"{server}/demo.duckdb#sha256={sha}", tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert path == cached_path(f"{server}/demo.duckdb#sha256={sha}", tmp_path)
    assert path.read_bytes() == synthetic_store.read_bytes()
    open_store(path).close()
    assert seen[-1] == (synthetic_store.stat().st_size,) * 2  # progress to the end
    hits = len(Files.hits)
    assert fetch(f"{server}/demo.duckdb#sha256={sha}", tmp_path) == path
    assert len(Files.hits) == hits  # the next start reads the cache, not the network
    assert leftovers(tmp_path) == [path]


def test_a_sidecar_checksum_is_used_when_the_url_names_none(server, synthetic_store, tmp_path):
    Files.routes["/demo.duckdb.sha256"] = b"0" * 64 + b"  demo.duckdb\n"
    with pytest.raises(StoreError, match="does not match its sha256"):
        fetch(f"{server}/demo.duckdb", tmp_path)
    assert leftovers(tmp_path) == []
    sha = hashlib.sha256(synthetic_store.read_bytes()).hexdigest()
    Files.routes["/demo.duckdb.sha256"] = f"{sha}  demo.duckdb\n".encode()
    assert fetch(f"{server}/demo.duckdb", tmp_path).is_file()


@pytest.mark.parametrize("case, message", [
    ("checksum", "does not match its sha256 checksum"),
    ("not-duckdb", "is not a readable DuckDB store"),
    ("newer", "has schema version 99"),
    ("missing", "HTTP 404"),
    ("cut", "broke off after"),
    ("too-big", "over the 0 MB limit"),
    ("fragment", "is not #sha256="),
])
def test_every_bad_source_is_one_sentence_and_leaves_no_partial_file(server, synthetic_store,
                                                                      tmp_path, case, message):
    url, limit = f"{server}/demo.duckdb", 10**9
    if case == "checksum":
        url += "#sha256=" + "ab" * 32
    elif case == "not-duckdb":
        Files.routes["/demo.duckdb"] = b"<html>not a store</html>" * 100
    elif case == "newer":
        newer = tmp_path / "newer.duckdb"
        shutil.copy(synthetic_store, newer)
        import duckdb

        with duckdb.connect(str(newer)) as con:
            con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        Files.routes["/demo.duckdb"] = newer.read_bytes()
        newer.unlink()
    elif case == "missing":
        url = f"{server}/nothing.duckdb"
    elif case == "cut":
        Files.cut.add("/demo.duckdb")
    elif case == "too-big":
        limit = 1
    elif case == "fragment":
        url += "#md5=abc"
    cache = tmp_path / "cache"
    with pytest.raises(StoreError, match=message) as caught:
        fetch(url, cache, max_bytes=limit)
    assert "\n" not in str(caught.value)
    assert not cache.exists() or leftovers(cache) == []
    if case == "cut":  # the next start retries and succeeds
        Files.cut.clear()
        assert fetch(url, cache).is_file()
