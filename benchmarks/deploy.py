"""Cold start of a deployed app, measured locally: the app's own environment (no torch), a store
cut for sharing, served over HTTP and named by its URL.

    .venv-app/bin/python -m benchmarks.deploy [--store stores/demo.duckdb] [--samples 200] [--thumbnails 10]

Cuts the store (store.cut), serves the cut from 127.0.0.1, then starts the app twice with
RLE_STORE set to its URL: first with an empty download cache (what a fresh Streamlit Community
Cloud container does), then again with the cache filled (a restart). For each start it prints
the seconds until the server listens and until the first page has drawn in Chromium (the
download included on the first). Record the output in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from app.headless import browser, open_view, serve
from store.cut import cut
from tests.support.http import serve_files

ROOT = Path(__file__).resolve().parent.parent


def start(url: str) -> tuple[float, float]:
    """(seconds until the server listens, until the first page has drawn) for one start."""
    began = time.perf_counter()
    with serve(url) as base:
        listening = time.perf_counter() - began
        with browser(width=1400) as page:
            open_view(page, base + "/")
            drawn = time.perf_counter() - began
    return listening, drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "stores" / "demo.duckdb"))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--thumbnails", type=int, default=10)
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        print("note: torch is importable here; run this with .venv-app/bin/python to measure "
              "the app's own environment")
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        small, _ = cut(args.store, Path(tmp) / "study.duckdb", samples=args.samples,
                       thumbnails=args.thumbnails)
        body = small.read_bytes()
        print(f"cut of {Path(args.store).name}: {len(body) / 1e6:.1f} MB "
              f"({args.samples} samples, {args.thumbnails} corrupted thumbnails per condition)")
        os.environ["RLE_CACHE"] = str(Path(tmp) / "cache")
        with serve_files({"/study.duckdb": body}) as files:
            url = f"{files}/study.duckdb#sha256={hashlib.sha256(body).hexdigest()}"
            for label in ("cold (empty cache, downloads)", "restart (cache filled)"):
                listening, drawn = start(url)
                print(f"{label:32s} listening after {listening:5.1f} s, first page drawn after "
                      f"{drawn:5.1f} s")


if __name__ == "__main__":
    main()
