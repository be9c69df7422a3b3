"""Serve the app and drive it in headless Chromium: every view the app has, how to start it on a
store and wait until a view has drawn. The screenshots script and the browser tests use these.

Chromium is Debian's at /usr/bin/chromium, driven by Playwright (never `playwright install`, which
downloads a browser); `bash scripts/browser.sh` installs it. Playwright is a test tool, imported
only when a browser is opened.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

# Every view: (name, URL path and query, tab to open or None, what it shows).
VIEWS = [
    ("overview", "/", None, "Overview"),
    ("overview-one-corruption", "/?section=One+corruption", "One corruption",
     "Overview: one corruption"),
    ("overview-sparsity", "/?section=Sparsity+vs+robustness", "Sparsity vs robustness",
     "Overview: sparsity vs robustness"),
    ("pruning", "/pruning?severity=5", None, "Pruning vs dense"),
    ("pruning-mean", "/pruning", None, "Pruning vs dense: the mean over severities"),
    ("pruning-tested", "/pruning?seeds=0&corruption=contrast", None,
     "Pruning vs dense: one corruption's tests, each seed apart"),
    ("geometry-distributions", "/geometry?condition=gaussian_noise-5", None, "Geometry"),
    # The open tab is in the URL (Geometry's tabs run lazily, bound to `?view=`).
    ("geometry-angle-length", "/geometry?condition=gaussian_noise-5&view=Angle-length+plane",
     "Angle-length plane", "Geometry: angle-length plane"),
    ("geometry-clean-corrupted", "/geometry?condition=gaussian_noise-5&view=Clean+%E2%86%92+corrupted",
     "Clean → corrupted", "Geometry: clean to corrupted"),
    ("geometry-class-directions", "/geometry?view=Class+directions", "Class directions",
     "Geometry: class directions"),
    ("geometry-class-pair", "/geometry?condition=clean&a=3&b=8&view=Class-pair+plane",
     "Class-pair plane", "Geometry: class-pair plane"),
    ("similarity", "/similarity", None, "Similarity"),
    ("similarity-corruptions", "/similarity?compare=Corruptions+%C3%97+corruptions",
     "Corruptions × corruptions", "Similarity: corruptions x corruptions"),
    ("samples", "/samples?category=corruption-fragile&model=magnitude-80&condition=contrast-5&sample=48",
     None, "Samples"),
    ("sql", "/sql", None, "SQL"),
    ("sweep", "/sweep", None, "Sweep"),
    ("compare", "/compare?severity=5", None, "Compare two"),
    ("attacks", "/attacks", None, "Attacks"),
    ("attacks-margins", "/attacks?view=Margins", "Margins", "Attacks: margins"),
    ("attacks-overlap", "/attacks?view=Attacks+and+corruptions", "Attacks and corruptions",
     "Attacks: attacks and corruptions"),
    ("sweep-lottery", "/sweep?view=Seed+lottery", "Seed lottery", "Sweep: the seed lottery"),
    ("sweep-calibration", "/sweep?view=Calibration", "Calibration", "Sweep: calibration"),
    ("samples-exemplars", "/samples?category=pruning-identified&condition=gaussian_noise-5",
     None, "Samples: pruning-identified exemplars"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(store: Path | str, script: Path | str = "streamlit_app.py",
          python: str = sys.executable,
          on_start: Callable[[subprocess.Popen], None] | None = None) -> Iterator[str]:
    """`streamlit run` on `store` (a path or URL) at a free loopback port; yields the base URL
    once it listens. (`script` serves another app, e.g. a bare page the benchmarks compare with;
    `python` another environment's interpreter, e.g. one holding only requirements.txt;
    `on_start` gets the server's process, e.g. to read its memory.)"""
    port = free_port()
    proc = subprocess.Popen(
        [python, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--", "--store", str(store)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if on_start is not None:
        on_start(proc)
    try:
        output = []
        for line in proc.stdout:  # Streamlit prints this once its server listens
            output.append(line)
            if "You can now view your Streamlit app" in line:
                break
        else:
            raise RuntimeError("streamlit exited before serving: " + "".join(output)[-2000:])
        # Keep reading what it prints: a full pipe would stop the server mid-request.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def browser(width: int = 1400) -> Iterator[object]:
    """A headless Chromium page (Playwright) with a desktop-sized viewport `width` pixels wide."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no browser at {CHROMIUM}: run `bash scripts/browser.sh`")
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield chrome.new_page(viewport={"width": width, "height": 1000})
        finally:
            chrome.close()


# The app has finished a run (the script state Streamlit puts on its root, its status widget and
# spinners gone), no chart is still a loading skeleton, and every visible Vega chart has drawn its
# canvas or SVG (charts in a closed tab draw only when it opens).
SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.dataset.testScriptState !== 'notRunning') return false;
    if (!document.querySelector('[data-testid="stMain"] h1')) return false;
    if (document.querySelector('[data-testid="stSkeleton"], [data-testid="stAppSkeleton"]')) return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (document.querySelector('[data-testid="stSpinner"]')) return false;
    const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => c.checkVisibility());
    return charts.every(c => c.querySelector('canvas, svg'));
}"""


def settle(page: object, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(SETTLED, timeout=timeout_ms, polling=200)


# The open tab panel holds a drawn chart or a message: a lazily run tab has been sent.
TAB_DRAWN = """() => [...document.querySelectorAll('[role="tabpanel"]')].some(p =>
    p.checkVisibility() && p.querySelector(
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg, '
        + '[data-testid="stAlert"]'))"""


def open_tab(page: object, tab: str) -> None:
    """Open `tab` and wait until its content (run only now, for lazy tabs) has drawn."""
    page.get_by_role("tab", name=tab).click()
    page.wait_for_function(TAB_DRAWN, timeout=60_000, polling="raf")
    settle(page)


def open_view(page: object, url: str, tab: str | None = None) -> None:
    """Load one view and wait until it has drawn; open `tab` if given (a no-op when the URL
    opened it already)."""
    page.goto(url)
    settle(page)
    if tab:
        open_tab(page, tab)


def screenshot(page: object, path: Path, width: int) -> None:
    """A picture of the whole page at `width` px: the app scrolls inside its own container, so
    the window grows to the content (at most 8,000 px) instead of Playwright's full_page."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 8000)})
    settle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1000})


# What a user cannot see without scrolling the page or a widget sideways, in three checks:
# - visible elements of the main column whose right edge passes the window's, unless a scrolling
#   box inside the page (a data frame's grid) clips them;
# - data grids whose columns are wider than the grid (Streamlit's grid clips them at its right
#   edge, out of sight);
# - choices of a multiselect past its right edge (a row of chips that scrolls, not wraps).
LAYOUT_FAULTS = """() => {
    const width = document.documentElement.clientWidth;
    const main = document.querySelector('[data-testid="stMain"]');
    const right = (e) => e.getBoundingClientRect().right;
    const clipped = (e) => {
        for (let a = e.parentElement; a && a !== main; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (style.overflowX !== 'visible' && right(a) <= width + 1) return true;
        }
        return false;
    };
    const name = (e) => e.dataset.testid || e.tagName.toLowerCase();
    const past = [...main.querySelectorAll('*')]
        .filter(e => e.checkVisibility() && right(e) > width + 1 && !clipped(e))
        .map(e => name(e) + ' right=' + Math.round(right(e)) + ' in ' + width).slice(0, 5);
    const grids = [...main.querySelectorAll('[data-testid="stDataFrame"]')]
        .filter(e => e.checkVisibility())
        .map(e => e.querySelector('.dvn-scroller'))
        .filter(s => s && s.scrollWidth > s.clientWidth + 1)
        .map(s => 'data frame ' + s.scrollWidth + ' px wide in ' + s.clientWidth);
    const chips = [...main.querySelectorAll('[data-testid="stMultiSelectTagsContainer"]')]
        .filter(e => e.checkVisibility() && e.scrollWidth > e.clientWidth + 1)
        .map(e => 'multiselect chips ' + e.scrollWidth + ' px wide in ' + e.clientWidth
                  + ' (choices hidden past its edge)');
    return [...past, ...grids, ...chips];
}"""


def layout_faults(page: object) -> list[str]:
    """What the open view hides sideways (LAYOUT_FAULTS); empty when everything fits."""
    return page.evaluate(LAYOUT_FAULTS)
