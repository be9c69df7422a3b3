"""Screenshots of every page, served from a real store and drawn by headless Chromium.

    .venv/bin/python scripts/screenshots.py [--store stores/demo.duckdb] [--out docs/img]
    .venv/bin/python scripts/screenshots.py --store stores/demo-sweep.duckdb \
        --only sweep sweep-lottery sweep-calibration samples-exemplars

Uses Debian's Chromium at /usr/bin/chromium through Playwright (never `playwright install`,
which downloads a browser); `bash scripts/browser.sh` installs it. The README shows the result.
Serving and waiting are app/headless.py's, shared with the browser tests.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.headless import VIEWS, browser, open_view, screenshot, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "stores" / "demo.duckdb"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--width", type=int, default=1400,
                        help="window width in CSS pixels (the layouts hold from 1280 to 1920)")
    parser.add_argument("--only", nargs="+", metavar="VIEW",
                        help="these views only (names as in app/headless.py's VIEWS)")
    args = parser.parse_args()
    store, out = Path(args.store), Path(args.out)
    if not store.is_file():
        sys.exit(f"error: no store at {store}: build it with `python -m compute build configs/demo.toml`")
    out.mkdir(parents=True, exist_ok=True)
    with serve(store) as base, browser(width=args.width) as page:
        for name, path, tab, _ in VIEWS:
            if args.only and name not in args.only:
                continue
            open_view(page, base + path, tab)
            if page.locator('[data-testid="stException"]').count():
                sys.exit(f"error: the page {path} shows an exception; not taking its screenshot")
            screenshot(page, out / f"{name}.png", args.width)
            print(f"wrote {out / name}.png")


if __name__ == "__main__":
    main()
