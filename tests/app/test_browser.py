"""Every page in a real browser (Debian's Chromium through Playwright): AppTest runs the scripts,
this also runs the front end, where a bad chart spec or a failing component shows up."""

import pytest

from app.headless import VIEWS, browser, open_view, serve


@pytest.fixture(scope="module")
def served(synthetic_store):
    with serve(synthetic_store) as base:
        yield base


@pytest.mark.parametrize("shot", VIEWS, ids=[s[0] for s in VIEWS])
def test_every_view_draws_in_chromium(served, shot):
    name, path, tab, _ = shot
    with browser() as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        open_view(page, served + path, tab)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        charts = page.locator('[data-testid="stVegaLiteChart"]:visible')
        assert charts.count() >= 1, name
        for i in range(charts.count()):
            assert charts.nth(i).locator("canvas, svg").count() >= 1, (name, i)
        assert not errors, errors

