"""How long each page takes to draw in a real browser, cold and warm, and how much it sends.

    .venv/bin/python -m benchmarks.pages [--store PATH ...] [--models 8] [--samples 10000] [--repeats 3]

For each store (by default the demo store and the synthetic CIFAR-10-C-sized store that
`benchmarks.store` writes: 8 models x 96 conditions x 10,000 samples), serves the app afresh and
opens every view (`app.headless.VIEWS`) in headless Chromium: first on the fresh server (cold:
every query runs, nothing is cached), then `--repeats` more times (warm: what a user who comes
back to a view, or a second user, waits for). A time runs from navigation until the page has
drawn (the app idle, every visible chart drawn: `app.headless.SETTLED`); bytes are what the
server sent over the websocket for that visit. Prints one table per store, and the warm median
against the 1 s target. Record the output in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from app.headless import SETTLED, VIEWS, browser, open_tab, serve

ROOT = Path(__file__).resolve().parent.parent
TARGET_WARM_S = 1.0


def wait_drawn(page, title: str | None = None) -> None:
    """Until the page has drawn (polled every animation frame, not every 200 ms), and, after an
    in-app switch, until the new page's title shows (the old page stays up until it is replaced)."""
    if title:
        page.wait_for_function(
            "t => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
            " return h && h.innerText.trim() === t; }", arg=title, polling="raf", timeout=120_000)
    page.wait_for_function(SETTLED, polling="raf", timeout=120_000)


def load(page, url: str, tab: str | None, received: list[int]) -> tuple[float, int]:
    """(seconds to a drawn page, websocket bytes received) opening `url` as a link."""
    received.clear()
    start = time.perf_counter()
    page.goto(url)
    wait_drawn(page)
    if tab:
        open_tab(page, tab)
    return time.perf_counter() - start, sum(received)


def switch(page, base: str, path: str, title: str, tab: str | None) -> float:
    """Seconds from a click to the view drawn, the app already loaded: a click on the page's link
    in the sidebar from another page (drawn at its defaults), or, for a tab, a click on the tab
    from the page's first tab. How a user moves through the app."""
    if tab:
        page.goto(base + re.sub(r"[?&]view=[^&]*", "", path))
        wait_drawn(page)
        start = time.perf_counter()
        open_tab(page, tab)
        return time.perf_counter() - start
    page.goto(base + "/sql")
    wait_drawn(page)
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_drawn(page, title)
    return time.perf_counter() - start


def peak_rss_gib(pid: int) -> float:
    """The peak resident memory of a process so far (Linux: VmHWM), in GiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def measure(store: Path, repeats: int) -> tuple[list[tuple[str, float, float, float, int]], float]:
    """(view, cold s, warm s, switch s, warm bytes) for every view, on a freshly served store,
    and the server's peak memory (GiB) after visiting them all."""
    rows = []
    server: list = []
    with serve(store, on_start=server.append) as base, browser(width=1400) as page:
        received: list[int] = []
        page.on("websocket", lambda ws: ws.on("framereceived",
                                             lambda payload: received.append(len(payload))))
        for name, path, tab, shows in VIEWS:
            title = shows.split(":")[0]
            cold, _ = load(page, base + path, tab, received)
            warm = [load(page, base + path, tab, received) for _ in range(repeats)]
            switched = statistics.median(switch(page, base, path, title, tab)
                                         for _ in range(repeats))
            rows.append((name, cold, statistics.median(t for t, _ in warm), switched,
                         int(statistics.median(b for _, b in warm))))
        peak = peak_rss_gib(server[0].pid)
    return rows, peak


BARE = """import altair as alt
import polars as pl
import streamlit as st

st.title("Bare")
if st.query_params.get("with") == "widgets":
    data = pl.DataFrame({"x": list(range(50)), "y": [i * i for i in range(50)]})
    st.dataframe(data)
    st.altair_chart(alt.Chart(data).mark_line().encode(x="x", y="y"))
else:
    st.write("text")
"""


def bare_pages(repeats: int) -> tuple[float, float]:
    """Median seconds to load, as a link, a page holding only a title and a line, and one holding
    a title, a 50-row data frame and a line chart: what Streamlit itself (and its data-frame and
    Vega components) cost here before any of this app's work."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE)
        with serve(Path(tmp) / "none.duckdb", script) as base, browser(width=1400) as page:
            out = []
            for url in (base, base + "/?with=widgets"):
                load(page, url, None, [])
                out.append(statistics.median(load(page, url, None, [])[0] for _ in range(repeats)))
            return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, action="append",
                        help="a store to serve (repeatable); default: the demo and the synthetic store")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    stores = args.store
    if not stores:
        synthetic = Path(tempfile.gettempdir()) / f"rle-load-{args.models}x{args.samples}.duckdb"
        if not synthetic.is_file():
            from benchmarks.store import build

            print(f"writing the synthetic store {synthetic} ...")
            build(synthetic, args.models, args.samples)
        stores = [ROOT / "stores" / "demo.duckdb", synthetic]
    floor, with_widgets = bare_pages(args.repeats)
    print(f"a bare Streamlit page (a title, a line): {floor:.2f} s to load warm; with a data frame "
          f"and a chart: {with_widgets:.2f} s")
    for store in stores:
        rows, peak = measure(store, args.repeats)
        print(f"\n{store.name} ({store.stat().st_size / 1e6:.0f} MB): cold = first visit of the view"
              f" on a fresh server, opened as a link; warm = the link again (median of "
              f"{args.repeats}); switch = a click in the loaded app (the sidebar link, or the tab), median "
              f"of {args.repeats}; over floor = warm minus the bare page with a data frame and a chart")
        print(f"{'view':28s} {'cold s':>7s} {'warm s':>7s} {'switch s':>8s} {'cold/warm':>9s} "
              f"{'over floor s':>12s} {'sent kB':>8s}")
        for name, cold, warm, switched, sent in rows:
            print(f"{name:28s} {cold:7.2f} {warm:7.2f} {switched:8.2f} {cold / warm:9.1f} "
                  f"{warm - with_widgets:12.2f} {sent / 1e3:8.0f}")
        slow = [name for name, _, _, switched, _ in rows if switched >= TARGET_WARM_S]
        print(f"switch under {TARGET_WARM_S:.0f} s: {len(rows) - len(slow)} of {len(rows)} views"
              + (f" (over: {', '.join(slow)})" if slow else ""))
        print(f"the Streamlit server's peak memory (RSS) after every view: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
