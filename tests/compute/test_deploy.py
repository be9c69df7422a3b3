"""Issue 15's acceptance, end to end: the demo store built here, cut for sharing under 25 MB,
served over HTTP on 127.0.0.1, and the app started in a virtual environment holding only
requirements.txt (no torch) with RLE_STORE set to the cut's URL: every page draws in Chromium,
and every bad source is one message on the page with no partial file in the cache."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from app.headless import VIEWS, browser, open_view, serve
from tests.compute.conftest import ROOT, run_cli
from tests.support.http import Files, serve_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh virtual environment with requirements.txt alone, as Community Cloud installs it."""
    venv = tmp_path_factory.mktemp("app-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements.txt")], check=True, timeout=900)
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0
    return python


@pytest.fixture(scope="module")
def shared_cut(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("share") / "demo.duckdb"
    result = run_cli("export", str(demo_store), "--out", str(out), "--samples", "200",
                     "--thumbnails", "10")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size < 25_000_000, out.stat().st_size
    return out.read_bytes()


def test_the_demo_cut_by_url_draws_every_page_in_an_app_without_torch(app_python, shared_cut,
                                                                     tmp_path, monkeypatch):
    monkeypatch.setenv("RLE_CACHE", str(tmp_path / "cache"))
    with serve_files({"/demo.duckdb": shared_cut}) as files:
        url = f"{files}/demo.duckdb#sha256={hashlib.sha256(shared_cut).hexdigest()}"
        with serve(url, python=app_python) as base, browser(width=1280) as page:
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            for name, path, tab, _ in VIEWS:
                open_view(page, base + path, tab)
                shown = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
                assert shown.count() == 0, (name, shown.first.inner_text())
            assert not errors, errors
        assert Files.hits.count("/demo.duckdb") == 1


def test_every_bad_source_is_one_message_on_the_page_and_no_partial_file(app_python, shared_cut,
                                                                          tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("RLE_CACHE", str(cache))
    newer = tmp_path / "newer.duckdb"
    newer.write_bytes(shared_cut)
    with duckdb.connect(str(newer)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    routes = {"/demo.duckdb": shared_cut, "/same.duckdb": shared_cut,
              "/page.html": b"<html>no store</html>" * 100, "/newer.duckdb": newer.read_bytes()}
    with serve_files(routes) as files:
        # One server, the sources listed and each opened by name, as a shared link names it.
        cases = {"checksum": (f"{files}/same.duckdb#sha256={'0' * 64}", "does not match its sha256"),
                 "page": (f"{files}/page.html", "is not a readable DuckDB store"),
                 "newer": (f"{files}/newer.duckdb", "has schema version 99"),
                 "missing": (f"{files}/missing.duckdb", "HTTP 404"),
                 "cut": (f"{files}/demo.duckdb", "broke off after")}
        monkeypatch.setenv("RLE_STORES", ";".join(f"{k}={url}" for k, (url, _) in cases.items()))
        Files.cut.add("/demo.duckdb")  # the connection drops half-way
        with serve(f"{files}/missing.duckdb", python=app_python) as base, \
                browser(width=1280) as page:
            for name, (_, message) in cases.items():
                open_view(page, f"{base}/?store={name}")
                errors = page.locator('[data-testid="stAlertContentError"]')
                assert errors.count() == 1 and message in errors.inner_text(), name
                assert not page.locator('[data-testid="stException"]').count(), name
                assert not [p for p in cache.rglob("*") if p.is_file()], name
            Files.cut.clear()  # the next visit retries, and this time it arrives
            open_view(page, f"{base}/?store=cut")
            assert page.locator("h1").first.inner_text() == "Overview"
    shutil.rmtree(cache, ignore_errors=True)
