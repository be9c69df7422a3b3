"""Many people on the app at once: concurrent browser sessions on a CIFAR-10-C-sized store.

    .venv/bin/python -m benchmarks.load [--sessions 20] [--store PATH] [--models 8] [--samples 10000]

Serves the app on the store (by default the synthetic store `benchmarks.store` writes: 8 models x
96 conditions x 10,000 samples, built once and reused), then opens `--sessions` headless Chromium
pages at once (Debian's Chromium through Playwright), each visiting every view the app has
(`app.headless.VIEWS`) and running one query on the SQL page. Prints, per view, how long a page
took from navigation until it had drawn (p50 / p95 / max over the sessions), and every error a
page showed (an exception, an error box, a failed query). Record the output in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from app.headless import CHROMIUM, FLAGS, SETTLED, VIEWS, serve

QUERY = ("SELECT model, condition, avg(correct::INT) AS accuracy FROM metrics_named "
         "WHERE severity IN (0, 5) GROUP BY ALL ORDER BY accuracy LIMIT 50")


async def session(browser, base: str, number: int, times: dict, errors: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"session {number}: script error {exc}"))
    views = [*VIEWS, ("sql-query", f"/sql?q={quote(QUERY)}", None, "SQL with a query")]
    for name, path, tab, _ in views:
        start = time.perf_counter()
        try:
            await page.goto(base + path, timeout=180_000)
            await page.wait_for_function(SETTLED, timeout=180_000, polling=250)
            if tab:
                await page.get_by_role("tab", name=tab).click()
                await page.wait_for_function(SETTLED, timeout=180_000, polling=250)
        except Exception as exc:
            errors.append(f"session {number}, {name}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        times.setdefault(name, []).append(time.perf_counter() - start)
        shown = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
        if shown:
            text = await page.locator('[data-testid="stException"], '
                                      '[data-testid="stAlertContentError"]').first.inner_text()
            errors.append(f"session {number}, {name}: the page shows an error: {text[:200]}")
    await context.close()


async def run(base: str, sessions: int) -> tuple[dict, list, float]:
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = {}
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        start = time.perf_counter()
        await asyncio.gather(*(session(browser, base, i, times, errors) for i in range(sessions)))
        wall = time.perf_counter() - start
        await browser.close()
    return times, errors, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--store", type=Path, help="default: the synthetic benchmark store")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()
    store = args.store
    if store is None:
        from benchmarks.store import build

        store = Path(tempfile.gettempdir()) / f"rle-load-{args.models}x{args.samples}.duckdb"
        if not store.is_file():
            print(f"writing the synthetic store {store} ...")
            build(store, args.models, args.samples)
    with serve(store) as base:
        times, errors, wall = asyncio.run(run(base, args.sessions))
    print(f"{args.sessions} concurrent sessions on {store.name}: every view each, "
          f"{wall:.0f} s wall in all")
    print(f"{'view':26s} {'n':>4s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}")
    for name, values in times.items():
        values = sorted(values)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(f"{name:26s} {len(values):4d} {statistics.median(values):7.1f} {p95:7.1f} "
              f"{values[-1]:7.1f}")
    print(f"errors: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)


if __name__ == "__main__":
    main()
