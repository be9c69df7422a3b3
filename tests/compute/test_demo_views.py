"""The demo store itself, as a new user first sees it: every view and tab drawn in Chromium at a
laptop's 1,280 px and a desktop's 1,920 px with nothing hidden sideways (app.headless's
LAYOUT_FAULTS), and no exception. The app lane checks the same on synthetic stores; this is the
real build, with its real model names, class names and near-chance conditions. Screenshots go to
build/screenshots/demo-*.png for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.headless import VIEWS, browser, layout_faults, open_view, screenshot, serve

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def served_demo(demo_store: Path):
    with serve(demo_store) as base:
        yield base


@pytest.mark.parametrize("width", [1280, 1920])
def test_every_view_of_the_demo_fits_the_window(served_demo, width):
    faults: dict[str, list[str]] = {}
    with browser(width=width) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for name, path, tab, _ in VIEWS:
            open_view(page, served_demo + path, tab)
            shown = page.locator('[data-testid="stException"]')
            assert shown.count() == 0, (name, shown.first.inner_text())
            if found := layout_faults(page):
                faults[name] = found
            SHOTS.mkdir(parents=True, exist_ok=True)
            screenshot(page, SHOTS / f"demo-{name}-{width}.png", width)
        assert not errors, errors
    assert faults == {}
