"""Every page in a real browser (Debian's Chromium through Playwright): AppTest runs the scripts,
this also runs the front end, where a bad chart spec, a failing component or a layout that runs
off the screen shows up. Screenshots of every view at 1,280 and 1,920 px are kept in
build/screenshots/ for a person to look at."""

import re
from pathlib import Path

import pytest

from app.headless import VIEWS, browser, layout_faults, open_view, screenshot, serve, settle

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

@pytest.fixture(scope="module")
def served(collapsed_store):  # the synthetic store with a model at chance: its notes show too
    with serve(collapsed_store) as base:
        yield base


@pytest.fixture(scope="module")
def served_sweep(synthetic_sweep_store):
    with serve(synthetic_sweep_store) as base:
        yield base


SEEDED = {"sweep-lottery"}  # views with nothing to draw unless some recipe has several seeds
# Views with nothing to draw without attacks: neither store here has any (torch makes them), so
# tests/compute/test_demo_views.py draws them on the demo store, which does.
ATTACKED = {"attacks", "attacks-margins", "attacks-overlap"}
# Every view on the synthetic store (three models, one at chance) and on a sweep of 26 models,
# whose pickers and per-model tables are the ones that grow.
SHOTS_ON = [(shot, store) for shot in VIEWS for store in ("synthetic", "sweep")
            if not (store == "synthetic" and shot[0] in SEEDED) and shot[0] not in ATTACKED]

@pytest.mark.slow  # serves the app (its store fixture is chosen per view, so not seen by name)
@pytest.mark.parametrize("width", [1280, 1920])
@pytest.mark.parametrize(("shot", "store"), SHOTS_ON, ids=[f"{s[0]}-{store}" for s, store in SHOTS_ON])
def test_every_view_draws_in_chromium_and_fits_the_window(request, shot, store, width):
    name, path, tab, _ = shot
    base = request.getfixturevalue("served_sweep" if store == "sweep" else "served")
    with browser(width=width) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        open_view(page, base + path, tab)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        charts = page.locator('[data-testid="stVegaLiteChart"]:visible')
        assert charts.count() >= 1, name
        for i in range(charts.count()):
            assert charts.nth(i).locator("canvas, svg").count() >= 1, (name, i)
        assert not errors, errors
        assert layout_faults(page) == [], (name, width)
        SHOTS.mkdir(parents=True, exist_ok=True)
        screenshot(page, SHOTS / f"{name}-{store}-{width}.png", width)


def test_the_sql_page_runs_a_query_from_its_run_button(served):
    with browser(width=1280) as page:
        open_view(page, served + "/sql")
        editor = page.get_by_label("Query")
        editor.fill("SELECT count(*) AS models FROM models")
        page.get_by_role("button", name="Run").click()
        # The button's rerun starts after the click returns: wait for its answer to appear.
        page.locator("strong", has_text=re.compile(r"^1 row$")).wait_for(timeout=30_000)
        settle(page)
        assert "SELECT+count" in page.url  # the query that ran is the one in the link


@pytest.mark.slow  # serves the app and drives Chromium, with a server of its own
def test_a_shared_link_is_the_first_visit_of_a_fresh_server(synthetic_store):
    # Streamlit runs a deep link's file directly, without the entry script, on a fresh server
    # when a folder named pages/ sits beside it (docs/design-notes.md): then the navigation
    # shows file names and the store caption is missing.
    with serve(synthetic_store) as base, browser(width=1280) as page:
        open_view(page, base + "/geometry?condition=contrast-5")
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Overview" in nav and "Pruning vs dense" in nav, nav
        assert "Store:" in page.locator('[data-testid="stSidebar"]').inner_text()
        assert page.locator("h1").first.inner_text() == "Geometry"


def test_a_box_of_many_samples_is_kept_in_the_url_as_a_box_and_reopens(served):
    with browser(width=1280) as page:
        open_view(page, served + "/geometry?condition=clean&a=0&b=1", "Class-pair plane")
        chart = page.locator('[data-testid="stVegaLiteChart"]:visible').last
        box = chart.locator("canvas, svg").first.bounding_box()
        # Across most of the first panel (below the facet titles, right of the y axis): a box
        # holding many samples.
        page.mouse.move(box["x"] + 90, box["y"] + 70)
        page.mouse.down()
        page.mouse.move(box["x"] + 320, box["y"] + 270, steps=10)
        page.mouse.up()
        picked = page.locator("strong", has_text=re.compile(r"^\d+ samples picked$"))
        picked.wait_for(timeout=30_000)
        settle(page)
        count = int(picked.inner_text().split()[0])
        assert count >= 20, count
        query = page.url.split("?", 1)[1]
        pair = [p for p in query.split("&") if p.startswith("pair=")]
        assert len(pair) == 1 and len(pair[0]) < 120, query  # a box, not `count` ids
        link = page.url
    with browser(width=1280) as page:  # the link, opened by someone else
        open_view(page, link, "Class-pair plane")
        again = page.locator("strong", has_text=re.compile(r"^\d+ samples picked$"))
        again.wait_for(timeout=30_000)
        assert int(again.inner_text().split()[0]) == count


def test_a_box_picks_its_panels_samples_and_the_pick_can_be_cleared(served):
    """Dragged in the first panel: that model's samples, named as such and kept in the URL with
    the model; then "Clear the pick" forgets it (the redrawn chart shows no box to click away)."""
    with browser(width=1280) as page:
        open_view(page, served + "/geometry?condition=clean&view=Angle-length+plane",
                  "Angle-length plane")
        chart = page.locator('[data-testid="stVegaLiteChart"]:visible').last
        box = chart.locator("canvas, svg").first.bounding_box()
        x0, y0 = box["x"] + 0.2 * box["width"], box["y"] + 0.3 * box["height"]
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + 0.12 * box["width"], y0 + 0.3 * box["height"], steps=10)
        page.mouse.up()
        picked = page.locator("strong", has_text=re.compile(r"^\d+ samples picked$"))
        picked.wait_for(timeout=30_000)
        settle(page)
        assert "in dense's panel" in picked.locator("xpath=..").inner_text()
        assert "al_model=dense" in page.url and "al=" in page.url
        page.get_by_role("button", name="Clear the pick").click()
        page.get_by_text("Drag a box in a panel to list").wait_for(timeout=30_000)
        settle(page)
        assert "al=" not in page.url.split("?", 1)[1].replace("al_", "")


def test_the_samples_grid_fetches_its_thumbnails_as_media_files(served):
    """Not inline as base64 in every rerun's HTML: URLs the server serves, which the browser
    loads (and keeps across reruns)."""
    with browser(width=1280) as page:
        open_view(page, served + "/samples?category=corruption-fragile&condition=contrast-5")
        page.wait_for_function("() => [...document.querySelectorAll('.rle-card img')]"
                               ".every(i => i.complete)", timeout=30_000)
        images = page.evaluate("() => [...document.querySelectorAll('.rle-card img')]"
                               ".map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert images, "no thumbnail on the grid"
        assert all(src.startswith("/media/") and width > 0 for src, width in images), images[:3]


def test_a_picked_pruning_row_opens_its_samples_on_the_same_tab(served):
    """One click on a row of the link table, one on the link under it: the Samples page on this
    tab, listing as many pruning-fragile samples as the link said."""
    with browser(width=1280) as page:
        open_view(page, served + "/pruning")
        grid = page.locator('[data-testid="stDataFrame"]:visible').last
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)  # the first row's selection box
        link = page.locator('[data-testid="stPageLink"] a', has_text="pruning-fragile samples")
        link.wait_for(timeout=30_000)
        said = int(re.search(r"The ([\d,]+) pruning-fragile", link.inner_text())[1]
                   .replace(",", ""))
        pages = len(page.context.pages)
        link.click()
        page.wait_for_url(re.compile(r"/samples\?.*category=pruning-fragile"), timeout=30_000)
        settle(page)
        assert len(page.context.pages) == pages  # the same tab
        listed = page.locator("strong", has_text=re.compile(r"^[\d,]+ samples$")).first
        assert int(listed.inner_text().split()[0].replace(",", "")) == said


def test_compare_two_opens_from_a_link_naming_both_models(served):
    """A shared link /compare?a=...&b=... opens with those two models, drawn and tested."""
    with browser(width=1280) as page:
        open_view(page, served + "/compare?a=magnitude-80&b=dense&severity=1")
        caption = page.get_by_text(re.compile(r"dense minus magnitude-80 on the same"))
        caption.wait_for(timeout=30_000)
        assert page.locator('[data-testid="stVegaLiteChart"] canvas, '
                            '[data-testid="stVegaLiteChart"] svg').count() >= 1
        assert layout_faults(page) == []
        assert "a=magnitude-80" in page.url and "b=dense" in page.url


@pytest.fixture(scope="module")
def served_mixed(tmp_path_factory):
    """A pruned model within noise of its reference (magnitude-80) and one that lost a class
    (dead-3): the tests call some changes real and leave others grey."""
    from tests.support.synthetic import MODELS, Spec, build_synthetic_store

    path = build_synthetic_store(tmp_path_factory.mktemp("mixed") / "mixed.duckdb", models=[
        *MODELS, Spec("dead-3", "magnitude", 0.8, 0, dead_class=3)])
    with serve(path) as base:
        yield base


def grey_pixels(page, chart) -> int:
    """Pixels of the heatmap's 'says little' grey in a screenshot of `chart`."""
    import io

    import numpy as np
    from PIL import Image

    from app.charts import GREY_CELL

    image = np.asarray(Image.open(io.BytesIO(chart.screenshot())).convert("RGB"))
    grey = tuple(int(GREY_CELL[i:i + 2], 16) for i in (1, 3, 5))
    return int((image == grey).all(axis=2).sum())


@pytest.mark.parametrize("severity", ["1", "mean"])
def test_the_pruning_heatmap_draws_the_changes_no_test_calls_real_in_grey(served_mixed, severity):
    """Drawn, not only in a tooltip: at one severity and averaged over them, the change heatmap
    paints grey the cells its paired test does not call real (magnitude-80's), and dead-3's
    lost class stays in colour."""
    with browser(width=1280) as page:
        open_view(page, served_mixed + f"/pruning?severity={severity}&corruption=contrast")
        page.get_by_text(re.compile("not significant")).first.wait_for(timeout=30_000)
        heat = page.locator('[data-testid="stVegaLiteChart"]:visible').first
        heat.scroll_into_view_if_needed()
        assert grey_pixels(page, heat) > 2_000  # whole cells, not anti-aliased edges
        assert layout_faults(page) == []


def test_two_recipes_head_to_head_show_the_difference_its_interval_and_the_seed_warning(
        served_sweep):
    with browser(width=1280) as page:
        open_view(page, served_sweep + "/sweep?view=Seed+lottery", "Seed lottery")
        line = page.get_by_text(re.compile(r"difference [+-][\d.]+ pts, 95 % interval"))
        line.wait_for(timeout=30_000)
        assert re.search(r"interval [+-][\d.]+ pts to [+-][\d.]+ pts, p = ", line.inner_text())
        assert page.get_by_text(re.compile("This rests on 2 seeds")).count() >= 1
        assert layout_faults(page) == []


def test_the_head_to_head_opens_compare_two_with_both_recipes(served_sweep):
    """The head to head's per-sample test pooled over the seeds, and its link: Compare two
    opens in the same tab with the two recipes in the URL, tested over the seeds, warned."""
    with browser(width=1280) as page:
        open_view(page, served_sweep + "/sweep?view=Seed+lottery", "Seed lottery")
        pooled = page.get_by_text(re.compile(r"sample by sample: the same difference"))
        pooled.wait_for(timeout=30_000)
        assert re.search(r"interval [+-][\d.]+ pts to [+-][\d.]+ pts, p = ", pooled.inner_text())
        link = page.get_by_role("link", name=re.compile(r"condition by condition"))
        link.scroll_into_view_if_needed()
        link.click()
        page.get_by_text(re.compile(r"each averaged over its seeds, on the same")).wait_for(
            timeout=30_000)
        assert "of=recipes" in page.url and "ga=" in page.url and "gb=" in page.url
        assert page.get_by_text(re.compile(r"rests on 2 seeds each")).count() >= 1
        page.locator('[data-testid="stVegaLiteChart"] canvas, '
                     '[data-testid="stVegaLiteChart"] svg').first.wait_for(timeout=30_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "compare-recipes-1280.png"), full_page=True)
        assert layout_faults(page) == []
