"""The app: every page renders on a real store, explains a missing or foreign one, and never needs
torch or compute."""

import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import scipy.stats
from streamlit.testing.v1 import AppTest

from app import pickers
from store import open_store, queries, sandbox, statistics
from tests.conftest import ROOT
from tests.support import population
from tests.support.pages import open_page

APP = str(ROOT / "streamlit_app.py")
# The pages the app navigates to, read from streamlit_app.py so a new page cannot go untested.
PAGES = re.findall(r'st\.Page\("views/(\w+\.py)"', (ROOT / "streamlit_app.py").read_text())


def app_on(store: Path | str, monkeypatch) -> AppTest:
    monkeypatch.setenv("RLE_STORE", str(store))
    return AppTest.from_file(APP, default_timeout=60)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_real_store(synthetic_store, monkeypatch, page):
    at = app_on(synthetic_store, monkeypatch).run()
    open_page(at, page)
    assert not at.exception, at.exception
    assert not at.error
    # A missing value reads as a dash (NULL on the SQL page), never as the word "None".
    assert [d.proto.placeholder for d in at.dataframe] == [
        "NULL" if page == "sql.py" else "–"] * len(at.dataframe), page
    # Every chart keeps names of up to 180 px whole on its axes (Streamlit's theme cuts at 100:
    # "pgd_linf_from_re…"), whichever page a session opens first.
    for chart in at.get("vega_lite_chart"):
        assert json.loads(chart.proto.spec)["config"]["axis"]["labelLimit"] == 180, page


def test_overview_shows_models_and_reacts_to_its_choices(synthetic_store, monkeypatch):
    at = app_on(synthetic_store, monkeypatch).run()
    table = at.dataframe[0].value
    assert list(table["model"]) == ["dense", "magnitude-80"]
    assert table["sparsity"][1] == pytest.approx(80.0, abs=0.5)  # shown in percent
    assert table["mce"][0] == pytest.approx(100.0)  # the dense model is its own reference
    precise = at.dataframe[1].value.set_index("model")  # each figure's bootstrap interval
    stored = queries.robustness_intervals(open_store(synthetic_store)).to_pandas().set_index("model")
    for model in ["dense", "magnitude-80"]:
        for column, measure, scale in [("mca", "mean_corruption_accuracy", 100), ("mce", "mce", 1),
                                       ("relative_mce", "relative_mce", 1)]:
            low, high = (float(x.rstrip(" %")) for x in precise.loc[model, column].split(" to "))
            assert (low, high) == pytest.approx(
                (scale * stored.loc[model, f"{measure}_low"],
                 scale * stored.loc[model, f"{measure}_high"]), abs=0.051), (model, column)
    assert precise.loc["dense", "mce"] == "100.0 to 100.0"
    holds = stored.loc["magnitude-80", "mce_low"] <= 100 <= stored.loc["magnitude-80", "mce_high"]
    assert holds == any(c.value.startswith("mCE's interval holds 100 for **magnitude-80**")
                        for c in at.caption)
    for level in ["1", "5", "mean"]:
        at.selectbox(key="severity").set_value(level).run()
        assert not at.exception, (level, at.exception)
    # Only the open tab runs: severity by family first, the others from a link.
    for section in ["Sparsity vs robustness", "Severity by family"]:
        at = app_on(synthetic_store, monkeypatch)
        at.query_params["section"] = section
        at.run()
        assert not at.exception, (section, at.exception)
        assert len(at.get("vega_lite_chart")) == 2, section  # the heatmap and the open tab's
    at = app_on(synthetic_store, monkeypatch)
    at.query_params["section"] = "One corruption"
    at.run()
    box = at.selectbox(key="corruption")
    assert box.options == ["the benchmark corruptions (mean)", "gaussian_noise", "contrast", "pixelate"]
    for option in ["gaussian_noise", "contrast", "pixelate", "all"]:
        at.selectbox(key="corruption").set_value(option).run()
        assert not at.exception, (option, at.exception)
        assert at.query_params["corruption"] == option


def geometry_on(store: Path, monkeypatch, **params: str | list[str]) -> AppTest:
    at = open_page(app_on(store, monkeypatch).run(), "geometry.py", **params)
    assert not at.exception, at.exception
    return at


def test_overview_says_where_relative_mce_is_unstable_and_shows_it_three_ways(tmp_path,
                                                                             monkeypatch):
    from tests.support.measures import hand_measures_store

    at = app_on(hand_measures_store(tmp_path / "hand.duckdb"), monkeypatch).run()
    assert not at.exception, at.exception
    (panel,) = [e for e in at.expander if e.label.startswith("Relative mCE three ways")]
    assert panel.label.endswith("unstable under b_blur, c_fog")
    three = {r["model"]: r for r in panel.dataframe[0].value.to_dict("records")}
    assert three["pruned"]["relative_mce"] == pytest.approx(250.0)  # (1 + 6 + 0.5) / 3
    assert three["pruned"]["pooled_relative_mce"] == pytest.approx(125.0)  # 20 / 16
    assert three["pruned"]["stable_relative_mce"] == pytest.approx(100.0)
    per = panel.dataframe[1].value.set_index("corruption")  # what the three average
    assert panel.selectbox[0].value == "pruned"  # a pruned model's, not the reference's own
    assert per.loc["b_blur", "relative_ce"] == pytest.approx(600.0)
    assert per["unstable"].to_dict() == {"a_noise": False, "b_blur": True, "c_fog": True}
    assert per.loc["a_noise", "reference_degradation"] == pytest.approx(130.0)  # points
    main = at.dataframe[0].value
    assert "pooled_relative_mce" not in main.columns  # the main table keeps the published one


def test_the_attacks_page_of_a_store_without_attacks_says_how_to_add_them(synthetic_store,
                                                                          monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "attacks.py")
    assert not at.get("vega_lite_chart")
    assert any("has no attacks" in i.value and "[[conditions.attacks]]" in i.value
               for i in at.info)
    at = page_on(synthetic_store, monkeypatch, "attacks.py", view="Attacks and corruptions")
    assert not at.selectbox  # no model and severity to pick with nothing to compare
    assert any("has no attack to compare" in i.value for i in at.info), [i.value for i in at.info]


def test_geometry_reacts_to_models_condition_and_classes(synthetic_store, monkeypatch):
    at = geometry_on(synthetic_store, monkeypatch)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 4  # only the open tab runs: four distributions
    assert at.multiselect(key="models").value == ["dense", "magnitude-80"]
    for chart in charts:  # small multiples, a panel per model, the legend below the panels
        spec = json.loads(chart.proto.spec)
        assert spec["facet"]["field"] == "model" and spec["facet"]["sort"] == ["dense", "magnitude-80"]
        assert spec["spec"]["layer"][0]["encoding"]["color"]["legend"]["orient"] == "bottom"
    # Opens on a corruption at its strongest severity, where there is a shift to show.
    assert at.selectbox(key="condition").value == "gaussian_noise-5"
    at = geometry_on(synthetic_store, monkeypatch, view="Clean → corrupted")
    assert not any("corrupted condition" in i.value for i in at.info)
    for condition in ["pixelate-1", "clean"]:
        at.selectbox(key="condition").set_value(condition).run()
        assert not at.exception, (condition, at.exception)
        assert at.query_params["condition"] == condition
    assert any("corrupted condition" in i.value for i in at.info)  # clean: no shift to show
    at.selectbox(key="condition").set_value("contrast-5").run()
    assert len(at.dataframe) >= 1  # the shift summary
    at.multiselect(key="models").unselect("dense").run()
    at.multiselect(key="classes").set_value(["3", "8"]).run()
    at.selectbox(key="shift").set_value("length").run()
    assert not at.exception, at.exception
    assert at.query_params["models"] == "magnitude-80"
    at = geometry_on(synthetic_store, monkeypatch, view="Class-pair plane", classes=["3", "8"])
    at.selectbox(key="a").set_value("3").run()
    at.selectbox(key="b").set_value("8").run()
    assert not at.exception, at.exception
    at.selectbox(key="b").set_value("3").run()
    assert any("two different classes" in i.value for i in at.info)


@pytest.mark.parametrize("view", ["Distributions", "Angle-length plane", "Clean → corrupted",
                                  "Class directions", "Class-pair plane"])
def test_each_geometry_tab_opens_from_a_link_and_runs_alone(synthetic_store, monkeypatch, view):
    at = geometry_on(synthetic_store, monkeypatch, view=view)
    assert at.query_params.get("view", "Distributions") == view
    charts = at.get("vega_lite_chart")
    assert charts, view
    # Nothing of the distributions tab (its step lines) is sent unless it is the open one.
    assert any('"step"' in c.proto.spec for c in charts) == (view in ("Distributions",
                                                                      "Clean → corrupted"))


@pytest.mark.parametrize("key", ["models", "classes"])
def test_geometry_with_an_empty_selection_says_so(synthetic_store, monkeypatch, key):
    at = geometry_on(synthetic_store, monkeypatch)
    at.multiselect(key=key).set_value([]).run()
    assert not at.exception
    assert any("at least one model and one class" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")  # (8 charts on a full selection)


def test_a_shared_link_reopens_the_same_view(synthetic_store, monkeypatch):
    at = geometry_on(synthetic_store, monkeypatch, models="magnitude-80", condition="pixelate-5",
                     classes=["1", "7"], a="1", b="7", view="Class-pair plane")
    assert at.multiselect(key="models").value == ["magnitude-80"]
    assert at.selectbox(key="condition").value == "pixelate-5"
    assert at.multiselect(key="classes").value == ["1", "7"]
    assert (at.selectbox(key="a").value, at.selectbox(key="b").value) == ("1", "7")
    # A stale or hand-edited link falls back to defaults instead of breaking the page.
    at = geometry_on(synthetic_store, monkeypatch, models="no-such-model", condition="fog-9")
    assert at.selectbox(key="condition").value == "gaussian_noise-5"
    # Not one model the link names exists: the page opens on its default models, not empty.
    assert at.multiselect(key="models").value == ["dense", "magnitude-80"]
    (said,) = [w.value for w in at.warning if "'no-such-model'" in w.value]
    assert said.endswith("showing the default instead.")
    at = geometry_on(synthetic_store, monkeypatch, models="")  # `?models=`: none, on purpose
    assert any("at least one model" in i.value for i in at.info)
    # A tab the page does not have: one line naming the page's tabs, and the first one open.
    at = geometry_on(synthetic_store, monkeypatch, view="Histograms")
    said = [w.value for w in at.warning if "'Histograms'" in w.value]
    assert len(said) == 1 and "Class-pair plane" in said[0] and "'Distributions'" in said[0]
    assert any("A row of panels per metric" in c.value for c in at.caption)
    # Every page's tabs alike: the Overview's (`?section=`) and the Similarity's (`?compare=`).
    for page, key in (("overview.py", "section"), ("similarity.py", "compare")):
        at = page_on(synthetic_store, monkeypatch, page, **{key: "Nonsense"})
        assert [w.value for w in at.warning if "'Nonsense'" in w.value], page


def similarity_on(store: Path, monkeypatch, compare: str) -> AppTest:
    at = open_page(app_on(store, monkeypatch).run(), "similarity.py", compare=compare)
    assert not at.exception, at.exception
    return at


def test_similarity_reacts_and_explains_empty_choices(synthetic_store, monkeypatch):
    at = similarity_on(synthetic_store, monkeypatch, "Corruptions × corruptions")
    assert any("pixelate" in m.value for m in at.markdown)  # a redundant pair named in words
    over = at.multiselect(key="over")
    assert len(over.options) == 2 and over.value == over.options  # pooled over every model
    for shift in ["angle_true", "length", "loss"]:
        at.selectbox(key="shift").set_value(shift).run()
        assert not at.exception, (shift, at.exception)
    at.selectbox(key="severity").set_value("5").run()
    assert not at.exception, at.exception
    at.multiselect(key="over").set_value([]).run()
    assert any("at least one model whose samples" in i.value for i in at.info)
    at = similarity_on(synthetic_store, monkeypatch, "Models × models")
    assert not any("pixelate" in m.value for m in at.markdown)  # the other tab did not run
    at.selectbox(key="condition").set_value("gaussian_noise-5").run()
    assert not at.exception, at.exception
    at.selectbox(key="condition").set_value("all corrupted conditions").run()
    assert not at.exception, at.exception
    assert sum('"model_a"' in c.proto.spec for c in at.get("vega_lite_chart")) >= 3
    at.multiselect(key="models").set_value(["dense"]).run()
    assert any("at least two models" in i.value for i in at.info)
    assert not at.exception


def test_missing_store_explains_how_to_build_one(tmp_path, monkeypatch):
    at = app_on(tmp_path / "none.duckdb", monkeypatch).run()
    assert not at.exception
    assert any("python -m compute build configs/demo.toml" in i.value for i in at.info)
    # What the tool is and how to point it at a store come first (a deployed app cannot build).
    assert "compares dense and pruned networks" in at.markdown[0].value
    assert any("a path or an https:// URL in `RLE_STORE`" in i.value for i in at.info)


def test_listed_stores_are_picked_in_the_sidebar_and_named_in_the_url(synthetic_store,
                                                                        collapsed_store,
                                                                        monkeypatch):
    monkeypatch.delenv("RLE_STORE", raising=False)
    monkeypatch.setenv("RLE_STORES", f"study={synthetic_store};collapsed={collapsed_store}")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="_store_choice").value == "study"
    assert at.query_params["store"] == "study"
    assert len(at.dataframe[0].value) == 2
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["store"] = "collapsed"  # a shared link names its store
    at.run()
    assert at.sidebar.selectbox(key="_store_choice").value == "collapsed"
    assert len(at.dataframe[0].value) == 3  # the collapsed store has one model more
    at.sidebar.selectbox(key="_store_choice").set_value("study").run()
    assert at.query_params["store"] == "study" and len(at.dataframe[0].value) == 2


def test_foreign_file_gets_an_error_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t (a INT)").close()
    at = app_on(path, monkeypatch).run()
    assert not at.exception
    assert "not a Robustness Lottery store" in at.error[0].value


def test_a_store_named_by_url_is_downloaded_once_and_every_page_renders(synthetic_store, tmp_path,
                                                                        monkeypatch):
    from tests.support.http import Files, serve_files

    monkeypatch.setenv("RLE_CACHE", str(tmp_path / "cache"))
    with serve_files({"/demo.duckdb": synthetic_store.read_bytes()}) as base:
        at = app_on(f"{base}/demo.duckdb", monkeypatch).run()
        assert not at.exception and not at.error, (at.exception, at.error)
        assert at.dataframe[0].value["model"].tolist() == ["dense", "magnitude-80"]
        downloads = Files.hits.count("/demo.duckdb")
        for page in PAGES:
            open_page(at, page)
            assert not at.exception, (page, at.exception)
        assert Files.hits.count("/demo.duckdb") == downloads == 1  # reused, not fetched again


@pytest.mark.parametrize("route, message", [("/nothing.duckdb", "HTTP 404"),
                                            ("/page.html", "not a readable DuckDB store")])
def test_a_bad_store_url_is_one_message_on_the_page(tmp_path, monkeypatch, route, message):
    from tests.support.http import serve_files

    monkeypatch.setenv("RLE_CACHE", str(tmp_path / "cache"))
    with serve_files({"/page.html": b"<html>hello</html>" * 50}) as base:
        at = app_on(f"{base}{route}", monkeypatch).run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value, [e.value for e in at.error]
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


APP_FILES = [ROOT / "streamlit_app.py", *sorted((ROOT / "views").glob("*.py")),
             *sorted((ROOT / "app").glob("*.py")), *sorted((ROOT / "store").rglob("*.py"))]


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.name)
def test_app_code_imports_neither_torch_nor_compute(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in {"torch", "torchvision", "compute"}, (path.name, name)


def test_app_runs_with_torch_and_compute_unimportable(synthetic_store):
    """Not just no import statements: nothing the app imports pulls torch in either."""
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("torch", "torchvision", "compute"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        import os
        os.environ["RLE_STORE"] = {str(synthetic_store)!r}
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=60).run()
        assert not at.exception, at.exception
        assert "model" in at.dataframe[0].value.columns  # the Overview's models table
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def page_on(store: Path, monkeypatch, page: str, **params: str | list[str]) -> AppTest:
    """A session opened by a link to `page` (the Overview is the app's first page, so a link to
    it runs it once, with the link's keys)."""
    at = app_on(store, monkeypatch)
    if page == "overview.py":
        at.query_params.update(params)
        at.run()
        assert not at.exception, at.exception
        return at
    return open_page(at.run(), page, **params)


def test_samples_page_goes_through_every_category_and_the_detail(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "samples.py", condition="contrast-5")
    assert at.selectbox(key="model").value == "magnitude-80"  # a pruned model by default
    counts = {}
    for category in ["pruning-fragile", "pruning-gain", "corruption-fragile", "always-right",
                     "always-wrong", "models-disagree"]:
        at.selectbox(key="category").set_value(category).run()
        assert not at.exception, (category, at.exception)
        lines = [m.value for m in at.markdown if m.value.startswith("**") and "samples**" in m.value]
        assert len(lines) == 1, (category, [m.value for m in at.markdown])
        counts[category] = int(lines[0].split("**")[1].split()[0].replace(",", ""))
        assert at.query_params["category"] == category
    # contrast at severity 5 breaks samples the model gets right on clean
    assert counts["corruption-fragile"] > 0 and counts["always-right"] > 0
    at.selectbox(key="category").set_value("corruption-fragile").run()
    sample = at.selectbox(key="sample")
    chosen = sample.options[1]
    sample.set_value(int(chosen)).run()
    assert not at.exception, at.exception
    assert any(h.value == f"Sample {chosen}" for h in at.subheader)
    assert at.query_params["sample"] == str(chosen)
    at.selectbox(key="along").set_value("pixelate").run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 1
    assert len(at.get("download_button")) == 2  # CSV and Parquet of the filtered set


def test_the_samples_grid_summarises_confusions_and_names_the_disagreeing_models(synthetic_store,
                                                                                monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "samples.py", condition="contrast-5",
                 category="models-disagree")
    listed = samples_listed(at)
    (summary,) = [e for e in at.expander if e.label.startswith("True class → prediction")]
    table = summary.dataframe[0].value
    assert table["samples"].sum() == listed  # every listed sample, once
    assert table["samples"].is_monotonic_decreasing  # the commonest confusion first
    grid = next(m.value for m in at.markdown if 'class="rle-grid"' in m.value)
    cards = grid.count('class="rle-card"')
    assert cards == min(listed, 48)
    # Each card names every compared model's prediction, and a corrupted image or a placeholder.
    assert grid.count("dense: ") == cards and grid.count("magnitude-80: ") == cards
    assert grid.count('title="under contrast-5"') + grid.count('class="rle-missing"') == cards


def test_samples_page_explains_what_a_category_needs(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "samples.py", category="pruning-fragile", model="dense")
    assert any("no dense reference" in i.value for i in at.info)
    at = page_on(synthetic_store, monkeypatch, "samples.py", category="corruption-fragile",
                 condition="clean")
    assert any("choose a corrupted condition" in i.value for i in at.info)
    at = page_on(synthetic_store, monkeypatch, "samples.py", category="always-right", lo="1000")
    assert any("No sample matches" in i.value for i in at.info)
    assert at.number_input(key="lo").value == 1000


def test_sql_page_runs_a_good_query_refuses_a_bad_one_and_stops_a_slow_one(synthetic_store, monkeypatch):
    monkeypatch.setenv("RLE_SQL_TIME_LIMIT", "1")
    at = page_on(synthetic_store, monkeypatch, "sql.py")
    assert len(at.dataframe) >= 2 and not at.error  # the first example ran, beside the schema
    at.text_area(key="q").set_value("SELECT name, method FROM models ORDER BY model_id").run()
    result = at.dataframe[-1].value
    assert list(result["name"]) == ["dense", "magnitude-80"]
    assert at.query_params["q"].startswith("SELECT name, method")
    at.text_area(key="q").set_value("DROP TABLE metrics").run()
    assert not at.exception
    assert "not DROP" in at.error[0].value
    at.text_area(key="q").set_value("SELECT count(*) FROM metrics a, metrics b, metrics c").run()
    assert "ran past the 1 s limit" in at.error[0].value
    for name, text in sandbox.EXAMPLE_QUERIES.items():  # every example runs
        at.selectbox(key="example").set_value(name).run()
        assert not at.exception and not at.error, name
        assert at.text_area(key="q").value == text


def test_every_table_and_view_shows_with_a_chart_and_both_downloads(synthetic_store, monkeypatch):
    """`SELECT * FROM <t> LIMIT 20`, the first query anyone types, for every table and view of a
    store: the rows, a chart where two columns can be drawn, CSV and Parquet, no exception."""
    from app import quick_chart

    with duckdb.connect(str(synthetic_store), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION ALL "
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    assert {"metrics", "metrics_named", "models", "samples"} <= set(names)
    at = page_on(synthetic_store, monkeypatch, "sql.py")
    for name in names:
        at.text_area(key="q").set_value(f"SELECT * FROM {name} LIMIT 20").run()
        assert not at.exception and not at.error, (name, at.exception, at.error)
        shown = at.dataframe[-1].value
        assert len(at.get("download_button")) == 2, name
        charts = at.get("vega_lite_chart")
        drawable = quick_chart.drawable_columns(pl.DataFrame(shown)) if len(shown) else []
        assert len(charts) == (1 if len(drawable) >= 2 else 0), (name, drawable)


def test_the_quick_chart_takes_any_column_it_offers(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "sql.py",
                 q="SELECT model, angles, length, correct, condition FROM metrics_named LIMIT 50")
    assert not at.exception and len(at.get("vega_lite_chart")) == 1
    offered = at.selectbox(key="chart_x").options
    assert "angles" not in offered and {"model", "length", "correct"} <= set(offered)
    for x in offered:
        at.selectbox(key="chart_x").set_value(x).run()
        assert not at.exception, x
        for y in at.selectbox(key="chart_y").options:
            at.selectbox(key="chart_y").set_value(y).run()
            assert not at.exception and len(at.get("vega_lite_chart")) == 1, (x, y)


def test_bytes_show_as_their_size(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "sql.py",
                 q="SELECT sample_id, thumbnail FROM samples ORDER BY sample_id LIMIT 3")
    assert not at.exception and not at.error
    shown = at.dataframe[-1].value
    assert list(shown.columns) == ["sample_id", "thumbnail"]
    assert all(str(v).endswith(" bytes") for v in shown["thumbnail"])


def test_sql_page_notes_a_truncated_result(synthetic_store, monkeypatch):
    monkeypatch.setenv("RLE_SQL_ROW_LIMIT", "100")
    at = page_on(synthetic_store, monkeypatch, "sql.py", q="SELECT * FROM range(100000)")
    assert "cut at the row limit (100 rows)" in at.warning[0].value
    assert len(at.dataframe[-1].value) == 100


def test_a_store_rebuilt_under_the_running_app_shows_on_the_next_run(synthetic_store, tmp_path,
                                                                     monkeypatch):
    import os
    import shutil

    path = tmp_path / "served.duckdb"
    shutil.copy(synthetic_store, path)
    at = page_on(path, monkeypatch, "sql.py", q="SELECT count(*) AS n FROM models")
    assert at.dataframe[-1].value["n"].to_list() == [2]
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(synthetic_store, rebuilt)
    con = duckdb.connect(str(rebuilt))
    con.execute("DELETE FROM models WHERE name = 'magnitude-80'")
    con.close()
    os.replace(rebuilt, path)  # as a build commits: a new file renamed over the old
    at.run()
    assert not at.exception and not at.error
    assert at.dataframe[-1].value["n"].to_list() == [1]
    overview = page_on(path, monkeypatch, "overview.py")
    assert not overview.exception


def test_a_deployed_app_keeps_error_details_off_the_page():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_no_hostile_query_shows_a_traceback_on_the_page(synthetic_store, monkeypatch):
    from tests.store.test_sandbox import HOSTILE, digest

    before = digest(synthetic_store)
    at = page_on(synthetic_store, monkeypatch, "sql.py")
    for sql, reason in HOSTILE:
        if sql != sql.encode("utf-8", errors="replace").decode("utf-8"):
            continue  # a lone surrogate cannot travel from a browser (tested on the function)
        at.text_area(key="q").set_value(sql).run()
        assert not at.exception, sql
        if sql.strip():
            assert at.error and reason in at.error[0].value, (sql, at.error)
    assert digest(synthetic_store) == before


def model_scales(at: AppTest) -> list[dict[str, str]]:
    """Every colour scale over model names in the page's charts, as {model: colour}."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            scale = node.get("scale")
            if (node.get("field") == "model" and isinstance(scale, dict)
                    and "range" in scale and "domain" in scale):
                found.append(dict(zip(scale["domain"], scale["range"], strict=True)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for chart in at.get("vega_lite_chart"):
        walk(json.loads(chart.proto.spec))
    return found


def test_a_model_keeps_its_colour_on_every_page_and_selection(synthetic_store, monkeypatch):
    at = app_on(synthetic_store, monkeypatch).run()
    seen: list[dict[str, str]] = model_scales(at)
    open_page(at, "geometry.py", view="Class directions")  # a view that colours by model
    seen += model_scales(at)
    at.multiselect(key="models").set_value(["magnitude-80"]).run()  # one model fewer
    seen += model_scales(at)
    open_page(at, "samples.py")
    seen += model_scales(at)
    assert len(seen) >= 3  # Overview, Class directions twice (the samples page too, when it draws)
    colour: dict[str, str] = {}
    for scale in seen:
        for model, c in scale.items():
            assert colour.setdefault(model, c) == c, (model, c, colour[model])
    assert colour["dense"] != colour["magnitude-80"]


def chart_frames(chart) -> list[pl.DataFrame]:
    """The data sets Streamlit ships beside a chart's spec, as Arrow."""
    return [pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all()) for d in chart.proto.datasets]


def panels(chart) -> dict[str, dict]:
    """A chart of a panel per model (alt.concat) as model -> that panel's spec."""
    return {panel["title"]: panel for panel in json.loads(chart.proto.spec)["concat"]}


def picked_line(at) -> list[str]:
    return [m.value for m in at.markdown if "samples picked" in m.value]


def test_the_class_pair_plane_shows_every_boundary(synthetic_store, monkeypatch):
    at = geometry_on(synthetic_store, monkeypatch, condition="contrast-5", a="0", b="1",
                     view="Class-pair plane")
    chart = next(c for c in at.get("vega_lite_chart") if '"pair0"' in c.proto.spec)
    by_model = panels(chart)
    assert set(by_model) == {"dense", "magnitude-80"}
    lines = pl.concat([f for f in chart_frames(chart) if "sample_id" not in f.columns])
    for model, panel in by_model.items():
        x_scale = panel["layer"][0]["encoding"]["x"]["scale"]["domain"]
        y_scale = panel["layer"][0]["encoding"]["y"]["scale"]["domain"]
        (x0, y0), (x1, y1) = lines.filter(pl.col("model") == model).select("x", "y").rows()
        along = [(x0 + t / 100 * (x1 - x0), y0 + t / 100 * (y1 - y0)) for t in range(101)]
        inside = [x_scale[0] <= x <= x_scale[1] and y_scale[0] <= y <= y_scale[1]
                  for x, y in along]
        assert sum(inside) >= 10, (model, x_scale, y_scale)  # crosses the view


def test_pruning_page_ranks_methods_and_counts_what_pruning_breaks(synthetic_store, monkeypatch):
    at = app_on(synthetic_store, monkeypatch).run()
    open_page(at, "pruning.py")
    assert not at.exception, at.exception
    assert not at.warning  # no model near chance here
    ranked, flips = at.dataframe[0].value, at.dataframe[1].value
    assert list(ranked["model"]) == ["magnitude-80"]
    assert {c.split("-")[0] for c in flips["condition"]} == {
        "clean", "gaussian_noise", "contrast", "pixelate"}
    assert flips["open_fragile"].str.startswith(
        "/samples?category=pruning-fragile&model=magnitude-80").all()
    assert flips["open_gain"].str.startswith("/samples?category=pruning-gain&model=").all()
    for corruption in ["contrast", "all"]:
        at.selectbox(key="corruption").set_value(corruption).run()
        at.selectbox(key="severity").set_value("5").run()
        assert not at.exception, at.exception
        assert at.query_params["corruption"] == corruption


def samples_listed(at: AppTest) -> int:
    lines = [m.value for m in at.markdown if m.value.startswith("**") and "samples**" in m.value]
    assert len(lines) == 1, [m.value for m in at.markdown]
    return int(lines[0].split("**")[1].split()[0].replace(",", ""))


def test_every_pruning_count_is_what_its_link_opens(synthetic_store, monkeypatch):
    """Averaged over severities too: each row of the link table is one condition, and its
    pruning-fragile count is the number of samples the Samples page lists behind its link."""
    at = page_on(synthetic_store, monkeypatch, "pruning.py")
    assert at.selectbox(key="severity").value == "mean"  # averaged over severities
    table = at.dataframe[1].value
    assert table["fragile"].dtype.kind == "i"  # exact counts, never a mean
    rows = table.sort_values("condition").drop_duplicates("condition").head(3)
    for row in rows.to_dict("records"):
        for kind in ("fragile", "gain"):
            params = dict(pair.split("=") for pair in row[f"open_{kind}"].split("?")[1].split("&"))
            linked = page_on(synthetic_store, monkeypatch, "samples.py", **params)
            assert samples_listed(linked) == row[kind], (kind, row)


@pytest.mark.parametrize("store", ["synthetic_store", "synthetic_sweep_store"])
def test_one_models_figures_are_the_same_on_every_page(request, monkeypatch, store):
    """Mean corruption accuracy as the Overview shows it, the Pruning page ranks it (all benchmark
    corruptions, mean over severities) and the Sweep page plots it: one number on three pages,
    for single models and for a sweep's seeds averaged (each page's default)."""
    path = request.getfixturevalue(store)
    overview = page_on(path, monkeypatch, "overview.py").dataframe[0].value
    mca = dict(zip(overview["model"], overview["mean_corruption_accuracy"], strict=True))
    ranked = page_on(path, monkeypatch, "pruning.py").dataframe[0].value
    assert len(ranked) == len(mca) - 1  # every pruned model or recipe, once
    for model, accuracy in zip(ranked["model"], ranked["accuracy"], strict=True):
        assert accuracy == pytest.approx(mca[model], abs=1e-9), model
    sweep = page_on(path, monkeypatch, "sweep.py", view="Against sparsity",
                    measure="mean corruption accuracy")
    curves = sweep.dataframe[0].value
    assert len(curves) == len(mca)
    for row in curves.to_dict("records"):  # in percent, as the Overview shows it
        (match,) = [m for m, method, sparsity in zip(overview["model"], overview["method"],
                                                     overview["sparsity"], strict=True)
                    if method == row["method"] and abs(sparsity - row["target_sparsity"]) < 0.5]
        assert row["mean"] == pytest.approx(mca[match], abs=1e-9), row


@pytest.mark.parametrize(("page", "params"), [
    ("geometry.py", {"models": ["dense", "random-80"]}),
    ("samples.py", {"model": "random-80"}),
    ("similarity.py", {"models": ["dense", "random-80"]}),
])
def test_a_model_near_chance_is_named_wherever_its_geometry_or_samples_show(collapsed_store,
                                                                           monkeypatch, page,
                                                                           params):
    at = page_on(collapsed_store, monkeypatch, page, condition="clean", **params)
    (flag,) = [w.value for w in at.warning if w.value.startswith("Near chance under clean")]
    assert "random-80" in flag and "dense" not in flag


def test_a_model_near_chance_is_flagged_and_left_out_of_rankings(collapsed_store, monkeypatch):
    at = app_on(collapsed_store, monkeypatch).run()
    assert any("random-80" in w.value for w in at.warning)
    table = at.dataframe[0].value.set_index("model")
    assert table["mce"].isna()["random-80"] and not table["mce"].isna()["magnitude-80"]
    precise = at.dataframe[1].value.set_index("model")  # its interval is left out too
    assert precise["mce"].isna()["random-80"] and not precise["mce"].isna()["magnitude-80"]
    at.toggle(key="near_mce").set_value(True).run()
    assert not at.dataframe[0].value.set_index("model")["mce"].isna()["random-80"]
    assert not at.dataframe[1].value.set_index("model")["mce"].isna()["random-80"]
    open_page(at, "pruning.py")
    assert any("random-80" in w.value for w in at.warning)
    assert "random-80" not in list(at.dataframe[0].value["model"])
    at.toggle(key="include_near").set_value(True).run()
    assert "random-80" in list(at.dataframe[0].value["model"])


def test_clustered_corruptions_have_their_tree_and_a_scale_centred_on_zero(synthetic_store,
                                                                            monkeypatch):
    at = similarity_on(synthetic_store, monkeypatch, "Corruptions × corruptions")
    chart = next(c for c in at.get("vega_lite_chart") if '"hconcat"' in c.proto.spec)
    grid, tree = json.loads(chart.proto.spec)["hconcat"]
    domain = grid["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert domain[0] == -domain[1] and 0 < domain[1] <= 1
    assert tree["mark"]["type"] == "rule"
    corruptions = {d for d in grid["layer"][0]["encoding"]["y"]["sort"]}
    # k leaves merge k - 1 times; every merge draws two stems and a bar.
    lines = [pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all()) for d in chart.proto.datasets]
    assert (len(corruptions) - 1) * 3 in {f.height for f in lines}


def test_a_box_over_the_binned_plane_lists_that_panels_samples_under_it(synthetic_store, monkeypatch):
    """Too many points to draw: the plane is binned, and a box (here from a shared link, as a
    drag leaves it in the URL) lists the samples of the panel's model with a point inside it."""
    from app import angle_length
    from store import open_store, queries

    monkeypatch.setattr(angle_length, "MAX_POINTS", 10)
    box = {"x0": [-0.5, 3.0], "y0": [0.5, 4.0]}
    at = geometry_on(synthetic_store, monkeypatch, condition="clean", models=["dense", "magnitude-80"],
                     alb="x0:-0.5,3;y0:0.5,4", alb_model="magnitude-80", view="Angle-length plane")
    assert any('"cell1"' in c.proto.spec for c in at.get("vega_lite_chart"))  # binned
    con = open_store(synthetic_store)
    classes = [r[0] for r in con.execute("SELECT class_id FROM classes").fetchall()]
    points = queries.angle_length_points(con, [1], 0, classes)
    inside = points.filter(pl.col("x").is_between(*box["x0"]) & pl.col("y").is_between(*box["y0"]))
    both = queries.angle_length_points(con, [0, 1], 0, classes)
    union = both.filter(pl.col("x").is_between(*box["x0"]) & pl.col("y").is_between(*box["y0"]))
    expected = inside["sample_id"].n_unique()
    assert 0 < expected < union["sample_id"].n_unique(), expected  # that panel's, not every one's
    (line,) = picked_line(at)
    assert line.startswith(f"**{expected} samples picked** in magnitude-80's panel")


@pytest.mark.parametrize("max_points", [10, 100_000])  # binned, and point by point
def test_the_angle_length_plane_puts_each_model_on_its_own_scale_on_request(synthetic_store,
                                                                            monkeypatch,
                                                                            max_points):
    from app import angle_length

    monkeypatch.setattr(angle_length, "MAX_POINTS", max_points)
    titles = {}
    for per_model in ("0", "1"):
        at = geometry_on(synthetic_store, monkeypatch, condition="clean", per_model=per_model,
                         view="Angle-length plane")
        spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart")
                    if '"pick0"' in c.proto.spec or '"cell0"' in c.proto.spec)
        titles[per_model] = json.dumps(spec)
    assert angle_length.SCALED not in titles["0"] and angle_length.SCALED in titles["1"]


def test_clean_to_corrupted_sets_one_models_shift_against_anothers(synthetic_store, monkeypatch):
    at = geometry_on(synthetic_store, monkeypatch, condition="gaussian_noise-5",
                     models=["dense", "magnitude-80"], view="Clean → corrupted")
    assert [s.value for s in at.selectbox if s.key in ("vs_a", "vs_b")] == ["dense", "magnitude-80"]
    (caption,) = [c.value for c in at.caption if "Above the dashed diagonal" in c.value]
    assert "450 samples" in caption and "magnitude-80's shift is above dense's" in caption


@pytest.mark.parametrize("max_points", [10, 100_000])  # binned, and point by point
def test_a_class_pruning_removed_has_no_plane_and_says_so(tmp_path, monkeypatch, max_points):
    """A class whose whole row of W is zero (heavy pruning does this) spans no plane with
    another: the page says so for that model and draws the others."""
    from app import angle_length
    from tests.support.synthetic import MODELS, Spec, build_synthetic_store

    monkeypatch.setattr(angle_length, "MAX_POINTS", max_points)
    store = build_synthetic_store(tmp_path / "dead.duckdb",
                                  models=[*MODELS, Spec("dead-3", "magnitude", 0.8, 0, dead_class=3)])
    at = geometry_on(store, monkeypatch, condition="clean", a="3", b="8",
                     models=["dense", "magnitude-80", "dead-3"], view="Class-pair plane")
    assert any("No plane in dead-3: W_3 and W_8" in c.value for c in at.caption)
    chart = next(c for c in at.get("vega_lite_chart") if '"pair0"' in c.proto.spec
                 or '"paircell0"' in c.proto.spec)
    assert set(panels(chart)) == {"dense", "magnitude-80"}


@pytest.mark.parametrize(("view", "prefix", "url"), [
    ("Angle-length plane", "pick", {"al": "x:0,2;y:1,3", "al_model": "dense"}),
    ("Class-pair plane", "pair", {"pair": "x:0,2;y:-1,1", "pair_model": "dense", "a": "0",
                                  "b": "1"}),
])
def test_a_box_in_one_panel_marks_the_same_samples_in_every_panel(synthetic_store, monkeypatch,
                                                                  view, prefix, url):
    """A box in the dense model's panel picks dense's samples inside it; they travel to the chart
    as a parameter its marks test in every panel, so they can be followed to the next model."""
    at = geometry_on(synthetic_store, monkeypatch, condition="clean", view=view,
                     models=["dense", "magnitude-80"], **url)
    (line,) = picked_line(at)
    count = int(line.split()[0].strip("*"))
    assert "in dense's panel" in line
    chart = next(c for c in at.get("vega_lite_chart") if f'"{prefix}0"' in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    (ids,) = [p["value"] for p in spec["params"] if p["name"] == "picked_ids"]
    assert len(ids) == count > 0
    points = pl.concat([f for f in chart_frames(chart) if "sample_id" in f.columns])
    box = {k: [float(v) for v in b.split(",")]
           for k, b in (part.split(":") for part in url[next(iter(url))].split(";"))}
    dense = points.filter((pl.col("model") == "dense") & pl.col("x").is_between(*box["x"])
                          & pl.col("y").is_between(*box["y"]))
    assert sorted(ids) == sorted(dense["sample_id"].unique())  # dense's, inside the box
    shown = points.filter(pl.col("sample_id").is_in(ids))
    assert set(shown["model"]) == {"dense", "magnitude-80"}  # marked in both panels
    assert all("indexof(picked_ids, datum.sample_id)" in json.dumps(p)
               for p in spec["concat"])


def test_a_box_over_the_binned_class_pair_plane_lists_the_samples_under_it(synthetic_store,
                                                                           monkeypatch):
    """As the angle-length plane: too many points, so cells; each model's boundary still drawn,
    and a box in a panel lists that model's samples of the two classes with a point inside it."""
    from app import angle_length
    from store import open_store, queries

    monkeypatch.setattr(angle_length, "MAX_POINTS", 10)
    box = {"x0": [0.0, 2.0], "y0": [-1.0, 1.0]}
    at = geometry_on(synthetic_store, monkeypatch, condition="clean", a="0", b="1",
                     models=["dense", "magnitude-80"], pairb="x0:0,2;y0:-1,1", pairb_model="dense",
                     view="Class-pair plane")
    chart = next(c for c in at.get("vega_lite_chart") if '"paircell0"' in c.proto.spec)
    lines = [f for f in chart_frames(chart) if "n" not in f.columns]
    assert {m for f in lines for m in f["model"]} == {"dense", "magnitude-80"}  # both boundaries
    con = open_store(synthetic_store)
    points = queries.class_pair_plane(con, [0], 0, 0, 1)
    inside = points.filter(pl.col("x").is_between(*box["x0"]) & pl.col("y").is_between(*box["y0"]))
    expected = inside["sample_id"].n_unique()
    assert 0 < expected < points["sample_id"].n_unique(), expected  # a real subset
    (line,) = picked_line(at)
    assert line.startswith(f"**{expected} samples picked** in dense's panel")


@pytest.mark.parametrize("view", ["Against sparsity", "Seed lottery", "Calibration"])
def test_the_sweep_page_draws_each_view_of_a_seeded_sweep(population_store, monkeypatch, view):
    at = page_on(population_store, monkeypatch, "sweep.py", view=view)
    assert not at.error
    tables = [t.value for t in at.dataframe]
    assert tables, "every sweep view has its table"
    if view == "Seed lottery":
        spread = tables[0]
        assert set(spread["recipe"]) == {"dense", "gmp"} and set(spread["seeds"]) == {2, 3}
    if view == "Calibration":
        assert "ece" in tables[-1].columns


def test_the_dense_point_of_a_store_that_is_not_a_sweep_is_dense_alone(synthetic_store,
                                                                      monkeypatch):
    """No line starts from it, so no method's copy of it (in that method's colour) is drawn."""
    at = page_on(synthetic_store, monkeypatch, "sweep.py", view="Against sparsity")
    chart = at.get("vega_lite_chart")[0]
    rows = pl.concat([f for f in chart_frames(chart) if "target_sparsity" in f.columns],
                     how="diagonal_relaxed")
    assert set(rows.filter(pl.col("target_sparsity") == 0)["recipe"]) == {"dense"}


def test_the_sweep_page_says_what_a_store_without_seeds_lacks(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "sweep.py", view="Seed lottery")
    assert any("No recipe has two seeds" in i.value for i in at.info)


def test_a_store_that_is_no_sweep_is_said_to_be_one_and_draws_no_trend(synthetic_store,
                                                                       monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "sweep.py", view="Against sparsity")
    assert any("This store is not a sweep" in i.value for i in at.info)
    assert any("1 pruned sparsity · no seeds" in c.value for c in at.caption)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    datasets = {d.name: pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all())
                for d in at.get("vega_lite_chart")[0].proto.datasets}
    marks = {layer["mark"]["type"]: datasets[layer["data"]["name"]].height
             for layer in spec["layer"] if "name" in layer.get("data", {})}
    assert marks["line"] == 0 and marks["point"] > 0  # points alone, no line from 0 %


def test_calibration_opens_on_a_harsh_condition_and_says_which_way_it_errs(population_store,
                                                                          monkeypatch):
    at = page_on(population_store, monkeypatch, "sweep.py", view="Calibration")
    assert at.selectbox(key="calib_condition").value == "gaussian_noise-5"  # the only corrupted
    assert at.multiselect(key="models").value == ["dense-s1", "gmp-90-s1"]  # 90 %, first seed
    table = at.dataframe[-1].value
    assert table["gap"].tolist() == pytest.approx(
        (table["mean_confidence"] - table["accuracy"]).tolist())


def test_samples_lists_the_exemplars_with_the_populations_modes(population_store, monkeypatch):
    at = page_on(population_store, monkeypatch, "samples.py", category="pruning-identified",
                 model="gmp-90-s2", condition="gaussian_noise-5")
    text = " ".join(m.value for m in at.markdown)
    assert "**4 samples**" in text
    assert "#2 <b>c</b> → a ✗ · ref c" in text  # label c, gmp mode a, dense mode c
    assert any("4 of 6 samples are exemplars of 3 pruned and 2 dense models. The dense models' "
               "mode is right on 75% of them and 100% of the rest; the pruned models' on 25% and "
               "100%" in c.value for c in at.caption)


def test_the_overview_averages_the_seeds_by_default_and_on_request_not(population_store,
                                                                        monkeypatch):
    at = page_on(population_store, monkeypatch, "overview.py")
    table = at.dataframe[0].value
    assert table["model"].to_list() == ["dense", "gmp"] and table["seeds"].to_list() == [2, 3]
    at = page_on(population_store, monkeypatch, "overview.py", avg="0")
    assert at.dataframe[0].value["model"].to_list() == [m[0] for m in population.MODELS]


def test_many_models_are_picked_by_recipe_sparsity_and_seed(population_store, monkeypatch):
    monkeypatch.setattr(pickers, "MANY", 2)  # the population's five models count as many
    at = page_on(population_store, monkeypatch, "geometry.py")
    assert any("2 of 5 models: dense-s1, gmp-90-s1" in c.value for c in at.caption)
    at = page_on(population_store, monkeypatch, "geometry.py", models_seed=["2", "3"])
    assert any("3 of 5 models: dense-s2, gmp-90-s2, gmp-90-s3" in c.value for c in at.caption)


def test_the_pruning_page_ranks_seed_groups_and_links_every_seed(population_store, monkeypatch):
    at = page_on(population_store, monkeypatch, "pruning.py", severity="5")
    ranked = at.dataframe[0].value
    assert ranked["model"].to_list() == ["gmp"]
    acc = (population.PRED == population.LABELS).mean(axis=1)
    assert ranked["accuracy"][0] == pytest.approx(100 * acc[2:].mean())  # shown in percent
    links = at.dataframe[-1].value  # each seed its own rows and exact counts, not their mean
    assert set(links["model"]) == {"gmp-90-s1", "gmp-90-s2", "gmp-90-s3"}
    assert all(f"model={m}&" in u for m, u in zip(links["model"], links["open_fragile"],
                                                   strict=True))


def test_the_pruning_heatmap_greys_the_changes_no_test_calls_real(tmp_path, monkeypatch):
    """At one severity each cell is McNemar's exact test on its condition's discordant samples,
    adjusted with Benjamini-Hochberg over the heatmap's cells (statsmodels as the reference);
    the cells not found real are grey, and the ranked table shows the same adjusted p. The mean
    over severities is tested too, sample by sample (each sample's change averaged over them)."""
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests

    from tests.support.synthetic import MODELS, Spec, build_synthetic_store

    # magnitude-80 is within noise of dense; dead-3 lost a class (about a tenth of the samples).
    synthetic_store = build_synthetic_store(
        tmp_path / "mixed.duckdb", models=[*MODELS, Spec("dead-3", "magnitude", 0.8, 0,
                                                          dead_class=3)])
    with open_store(synthetic_store) as con:
        flips = queries.pruning_flips(con, 1).filter(pl.col("severity") > 0)
    p = [mcnemar([[0, f], [g, 0]], exact=True).pvalue for f, g in zip(flips["fragile"],
                                                                      flips["gain"], strict=True)]
    real, adjusted, *_ = multipletests(p, alpha=statistics.ALPHA, method="fdr_bh")
    expected = dict(zip(zip(flips["model"], flips["corruption"], strict=True),
                        zip(adjusted, real, strict=True), strict=True))
    assert {found for _, found in expected.values()} == {True, False}  # both kinds of cell
    at = page_on(synthetic_store, monkeypatch, "pruning.py", corruption="contrast")
    at.selectbox(key="severity").set_value("1").run()
    heat = next(c for c in at.get("vega_lite_chart") if '"change_pts"' in c.proto.spec)
    cells = next(f for f in chart_frames(heat) if "faded" in f.columns)
    assert len(cells) == len(expected)
    for row in cells.iter_rows(named=True):
        adjusted_p, found = expected[(row["model"], row["corruption"])]
        assert row["p_adjusted"] == pytest.approx(adjusted_p)
        assert row["faded"] == (not found or row["chance_everywhere"])
    assert '"value": "#e4e4e4"' in heat.proto.spec.replace('":"', '": "')
    ranked = at.dataframe[0].value
    assert ranked["p_adjusted"][0] == pytest.approx(expected[(ranked["model"][0], "contrast")][0])
    mean = page_on(synthetic_store, monkeypatch, "pruning.py")
    assert "p_adjusted" not in mean.dataframe[0].value.columns  # the mean over corruptions
    # Averaged over severities: the paired t-test over samples of each sample's averaged change
    # (scipy's ttest_1samp on the raw rows), adjusted over the cells, greys the same way.
    with open_store(synthetic_store) as con:
        rows = con.sql("""
            SELECT m.name AS model, c.corruption, p.sample_id,
                   avg(p.correct::INT - r.correct::INT) AS d
            FROM models m JOIN metrics p ON p.model_id = m.model_id
            JOIN metrics r ON r.model_id = m.reference_model_id AND r.sample_id = p.sample_id
                          AND r.condition_id = p.condition_id
            JOIN conditions c ON c.condition_id = p.condition_id
            WHERE c.severity > 0 GROUP BY ALL ORDER BY ALL""").pl()
    keys, p = [], []
    for (model, corruption), part in rows.group_by(["model", "corruption"], maintain_order=True):
        d = part["d"].to_numpy()
        keys.append((model, corruption))
        p.append(scipy.stats.ttest_1samp(d, 0).pvalue if d.std() > 0
                 else 1.0 if d.mean() == 0 else 0.0)
    real, adjusted, *_ = multipletests(p, alpha=statistics.ALPHA, method="fdr_bh")
    expected = dict(zip(keys, zip(adjusted, real, strict=True), strict=True))
    assert {found for _, found in expected.values()} == {True, False}
    mean = page_on(synthetic_store, monkeypatch, "pruning.py", corruption="contrast")
    heat = next(c for c in mean.get("vega_lite_chart") if '"change_pts"' in c.proto.spec)
    cells = next(f for f in chart_frames(heat) if "faded" in f.columns)
    assert len(cells) == len(expected)
    for row in cells.iter_rows(named=True):
        adjusted_p, found = expected[(row["model"], row["corruption"])]
        assert row["p_adjusted"] == pytest.approx(adjusted_p, rel=1e-6)
        assert row["faded"] == (not found or row["chance_everywhere"])
    ranked = mean.dataframe[0].value
    assert ranked["p_adjusted"][0] == pytest.approx(expected[(ranked["model"][0], "contrast")][0])
    assert any("paired t-test over the samples" in c.value for c in mean.caption)


def test_the_sweep_gives_each_recipes_seed_interval_and_warns_on_two_seeds(synthetic_sweep_store,
                                                                          monkeypatch):
    """Every (recipe, sparsity) of the sweep has two seeds: its mean's t interval is scipy's,
    in points, and the page says the figures rest on two seeds."""
    import scipy.stats

    at = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Against sparsity",
                 measure="mean corruption accuracy")
    table = at.dataframe[0].value
    assert (table["seeds"] == 2).all()
    with open_store(synthetic_sweep_store) as con:
        values = queries.seed_values(con, "mean_corruption_accuracy")
    for row in table.to_dict("records"):
        seeds = values.filter((pl.col("recipe") == row["recipe"])
                              & ((100 * pl.col("target_sparsity").fill_null(0.0)
                                  - row["target_sparsity"]).abs() < 1e-6))["value"]
        assert len(seeds) == 2
        ci = scipy.stats.ttest_1samp(seeds.to_numpy(), 0).confidence_interval(0.95)
        low, high = max(ci.low, 0.0), min(ci.high, 1.0)  # an accuracy's bounds
        assert row["interval"] == f"{100 * low:.1f} to {100 * high:.1f} %", row
    (warning,) = [w.value for w in at.warning if "rest on two seeds" in w.value]
    assert f"**{len(table)} of {len(table)} rest on two seeds**" in warning


def test_the_overview_heatmap_gives_each_accuracy_its_binomial_interval(synthetic_store,
                                                                       monkeypatch):
    import scipy.stats

    at = page_on(synthetic_store, monkeypatch, "overview.py")
    at.selectbox(key="severity").set_value("5").run()
    heat = next(c for c in at.get("vega_lite_chart") if '"95 % low"' in c.proto.spec)
    cells = next(f for f in chart_frames(heat) if "low" in f.columns)
    assert len(cells) == 2 * 4  # two models x clean and three corruptions
    for row in cells.iter_rows(named=True):
        ci = scipy.stats.binomtest(round(row["accuracy"] * row["n"]), row["n"]).proportion_ci(
            0.95, method="exact")
        assert (row["low"], row["high"]) == pytest.approx((ci.low, ci.high)), row
    at.selectbox(key="severity").set_value("mean").run()  # a mean of severities: no interval
    assert not any('"95 % low"' in c.proto.spec for c in at.get("vega_lite_chart"))


def test_the_pruning_link_table_follows_the_chosen_corruption(synthetic_sweep_store, monkeypatch):
    at = page_on(synthetic_sweep_store, monkeypatch, "pruning.py")
    every = at.dataframe[-1].value
    assert set(every["condition"]) == {"clean", "gaussian_noise-1", "gaussian_noise-5",
                                       "contrast-1", "contrast-5", "pixelate-1", "pixelate-5"}
    at.selectbox(key="corruption").set_value("contrast").run()
    assert set(at.dataframe[-1].value["condition"]) == {"clean", "contrast-1", "contrast-5"}


def test_two_recipes_head_to_head_pair_their_seeds(synthetic_sweep_store, monkeypatch):
    """Two recipes at one sparsity, seeds 1 and 2 each: the paired t-test of the per-seed
    differences (statsmodels as the reference), in points, with the two-seed warning."""
    from statsmodels.stats.weightstats import DescrStatsW

    at = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                 lottery_measure="mean_corruption_accuracy", h2h_sparsity="0.8",
                 h2h_a="gmp", h2h_b="snip")
    with open_store(synthetic_sweep_store) as con:
        values = queries.seed_values(con, "mean_corruption_accuracy")
    a, b = (values.filter((pl.col("recipe") == r) & (pl.col("target_sparsity") == 0.8))
            .sort("seed")["value"].to_numpy() for r in ("gmp", "snip"))
    d = DescrStatsW(a - b)
    low, high = d.tconfint_mean()
    (line,) = [m.value for m in at.markdown if "paired by seed" in m.value]
    assert f"difference **{100 * (a - b).mean():+.2f} pts**" in line
    assert f"95 % interval {100 * low:+.2f} pts to {100 * high:+.2f} pts" in line
    assert f"p = {d.ttest_mean()[1]:.3g}" in line and "1 degree of freedom" in line
    assert any("This rests on 2 seeds" in w.value for w in at.warning)


def test_the_seed_lottery_splits_the_spread_between_recipes_and_seeds(synthetic_sweep_store,
                                                                      monkeypatch):
    """Per pruned sparsity, the F-test and components of value ~ recipe over the pruned models
    there (statsmodels' ANOVA as the reference); dense models, a recipe of their own at 0 %,
    take no part."""
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    at = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                 lottery_measure="mean_corruption_accuracy")
    parts = next(d.value for d in at.dataframe if "method_share" in d.value.columns)
    with open_store(synthetic_sweep_store) as con:
        values = queries.seed_values(con, "mean_corruption_accuracy").to_pandas()
    pruned = values[values["method"] != "dense"]
    assert sorted(parts["target_sparsity"]) == pytest.approx([50, 80, 90])  # in percent
    for row in parts.to_dict("records"):
        at_level = pruned[(100 * pruned["target_sparsity"] - row["target_sparsity"]).abs() < 1e-6]
        table = anova_lm(ols("value ~ C(recipe)", pd.DataFrame(at_level)).fit())
        assert row["models"] == len(at_level) == 8
        assert row["F"] == pytest.approx(table["F"].iloc[0])
        assert row["p"] == pytest.approx(table["PR(>F)"].iloc[0])
        # The seeds' spread less the test samples' part (sampling_noise), which is apart.
        sampling = (row["sample_sd"] / 100) ** 2
        assert sampling > 0
        assert (row["seed_sd"] / 100) ** 2 == pytest.approx(
            max(table["mean_sq"].iloc[1] - sampling, 0), abs=1e-12)
        assert row["method_share"] + row["seed_share"] + row["sample_share"] == pytest.approx(100)
    ece = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                  lottery_measure="corruption_ece")  # no per-sample form: the seeds keep it
    parts = next(d.value for d in ece.dataframe if "method_share" in d.value.columns)
    assert "sample_sd" not in parts.columns


def test_compare_two_tests_each_condition_and_names_both_models_in_the_url(tmp_path,
                                                                          monkeypatch):
    """Any two models from the URL: per condition at the chosen severity, McNemar's exact test
    of their discordant samples, Benjamini-Hochberg over the conditions shown (statsmodels as
    the reference); the model that lost a class differs from dense for real, and the page
    links to the Samples page where A is B's reference."""
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests

    from tests.support.synthetic import MODELS, Spec, build_synthetic_store

    store = build_synthetic_store(tmp_path / "mixed.duckdb", models=[
        *MODELS, Spec("dead-3", "magnitude", 0.8, 0, dead_class=3)])
    at = page_on(store, monkeypatch, "compare.py", a="dense", b="dead-3", severity="1")
    assert (at.selectbox(key="a").value, at.selectbox(key="b").value) == ("dense", "dead-3")
    table = at.dataframe[0].value
    assert table["condition"].to_list() == ["clean", "gaussian_noise-1", "contrast-1",
                                            "pixelate-1"]
    p = [mcnemar([[0, f], [g, 0]], exact=True).pvalue
         for f, g in zip(table["fragile"], table["gain"], strict=True)]
    assert table["p_adjusted"].to_list() == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert (table["p_adjusted"] < 0.05).all()  # a lost class is about a tenth of the samples
    links = [link.proto.page for link in at.get("page_link")]
    assert sum("samples" in page for page in links) == 2
    other = page_on(store, monkeypatch, "compare.py", a="magnitude-80", b="dead-3")
    assert any("cannot list their flips" in c.value for c in other.caption)


@pytest.mark.parametrize(("page", "params", "said"), [
    ("overview.py", {"severity": "abc"}, "severity 'abc'"),
    ("pruning.py", {"corruption": "nosuch"}, "corruption 'nosuch'"),
    ("samples.py", {"model": "ghost"}, "'ghost'"),
    ("geometry.py", {"models": ["ghost", "dense"]}, "models 'ghost'"),
])
def test_a_link_naming_what_the_store_lacks_says_so_and_shows_the_default(synthetic_store,
                                                                         monkeypatch, page,
                                                                         params, said):
    if page == "overview.py":  # the entry page: the link's first run is its own
        at = app_on(synthetic_store, monkeypatch)
        at.query_params.update(params)
        at.run()
    else:
        at = page_on(synthetic_store, monkeypatch, page, **params)
    notes = [w.value for w in at.warning if "The link asks for" in w.value]
    assert len(notes) == 1 and said in notes[0], [w.value for w in at.warning]
    at.run()  # said once, on the run that read the link
    assert not [w.value for w in at.warning if "The link asks for" in w.value]


@pytest.mark.parametrize(("store", "inverted"), [("synthetic_store", ["magnitude-80"]),
                                                 ("population_store", [])])
def test_the_overview_says_where_relative_mce_and_mce_disagree(request, monkeypatch, store,
                                                               inverted):
    """magnitude-80 of the synthetic store errs more than dense under corruption (mCE 122) but
    loses less of its own clean accuracy (relative mCE 82), each beyond its 95 % interval's
    reach of 100: said beside the table; the population's ratios agree, and nothing is said."""
    path = request.getfixturevalue(store)
    at = app_on(path, monkeypatch)
    at.query_params.update({"avg": "0"})
    at.run()
    table = at.dataframe[0].value
    assert table[(table["relative_mce"] < 100) & (table["mce"] > 100)]["model"].to_list() == inverted
    with open_store(path) as con:
        bounds = queries.robustness_intervals(con).to_pandas().set_index("model")
    for model in inverted:
        assert bounds.loc[model, "mce_low"] > 100 > bounds.loc[model, "relative_mce_high"]
    notes = [c.value for c in at.caption if "Relative mCE and mCE disagree" in c.value]
    assert len(notes) == bool(inverted)
    for model in inverted:
        assert f"**{model}**" in notes[0]


def test_a_disagreement_within_the_intervals_is_not_called_one(collapsed_store, monkeypatch):
    """magnitude-80 of the collapsed store has mCE > 100 and relative mCE < 100, but its mCE
    interval holds 100: the page does not call that a disagreement."""
    at = app_on(collapsed_store, monkeypatch)
    at.query_params.update({"avg": "0"})
    at.run()
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["magnitude-80", "mce"] > 100 > table.loc["magnitude-80", "relative_mce"]
    with open_store(collapsed_store) as con:
        bounds = queries.robustness_intervals(con).to_pandas().set_index("model")
    assert bounds.loc["magnitude-80", "mce_low"] <= 100
    assert not [c.value for c in at.caption if "Relative mCE and mCE disagree" in c.value]


def test_seeds_averaged_the_pruning_heatmap_has_one_cell_per_group(synthetic_sweep_store,
                                                                    monkeypatch):
    """Averaged, each recipe at a sparsity is one cell per corruption holding its seeds' mean
    change, as the ranked table's row holds it (two seeds' cells drawn over each other misled)."""
    at = page_on(synthetic_sweep_store, monkeypatch, "pruning.py", corruption="contrast")
    heat = next(c for c in at.get("vega_lite_chart") if '"change_pts"' in c.proto.spec)
    cells = next(f for f in chart_frames(heat) if "change_pts" in f.columns)
    assert cells.select("model", "corruption").is_duplicated().sum() == 0
    with open_store(synthetic_sweep_store) as con:
        per_seed = queries.change_vs_dense(con, None)
    seeds = per_seed.filter(pl.col("model").str.starts_with("magnitude-50")
                            & (pl.col("corruption") == "contrast"))["change"]
    (cell,) = cells.filter((pl.col("model") == "magnitude-50")
                           & (pl.col("corruption") == "contrast"))["change_pts"]
    assert len(seeds) == 2 and cell == pytest.approx(100 * seeds.mean())
    ranked = at.dataframe[0].value.set_index("model")
    assert ranked.loc["magnitude-50", "change"] == pytest.approx(cell)


def test_a_link_naming_one_model_twice_says_so(synthetic_store, monkeypatch):
    at = page_on(synthetic_store, monkeypatch, "compare.py", a="magnitude-80", b="magnitude-80")
    assert not at.exception
    (line,) = [w.value for w in at.warning if "as both models" in w.value]
    assert "'magnitude-80'" in line
    assert not [w.value for w in at.warning if "does not offer" in w.value]
    assert at.selectbox(key="b").value == "magnitude-80" and at.selectbox(key="a").value == "dense"


def test_the_head_to_head_adds_the_per_sample_test_pooled_over_the_seeds(synthetic_sweep_store,
                                                                         monkeypatch):
    """Beside the seeds' test, the same difference tested on the samples with these seeds fixed
    (scipy's t-test of each sample's accuracy averaged over the seeds), and a link to Compare
    two with both recipes, B minus A as the head to head's sign."""
    from scipy import stats

    at = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                 lottery_measure="clean_accuracy", h2h_sparsity="0.8", h2h_a="gmp",
                 h2h_b="snip")
    with open_store(synthetic_sweep_store) as con:
        rows = con.sql("""SELECT m.recipe, mt.sample_id, avg(mt.correct::INT) AS y
                          FROM metrics mt JOIN models m USING (model_id)
                          WHERE mt.condition_id = 0 AND m.target_sparsity = 0.8
                          GROUP BY ALL ORDER BY ALL""").pl()
    a, b = (rows.filter(pl.col("recipe") == r)["y"].to_numpy() for r in ("gmp", "snip"))
    test = stats.ttest_1samp(a - b, 0)
    low, high = test.confidence_interval()
    (line,) = [m.value for m in at.markdown if "sample by sample" in m.value]
    assert f"{100 * (a - b).mean():+.2f} pts, has 95 % interval {100 * low:+.2f} pts to " \
           f"{100 * high:+.2f} pts, p = {test.pvalue:.3g}" in line
    assert "450 test samples" in line
    (link,) = [x.proto for x in at.get("page_link") if "condition by condition" in x.proto.label]
    assert "compare" in link.page and "ga=snip-80" in link.query_string
    assert "gb=gmp-80" in link.query_string and "of=recipes" in link.query_string
    ece = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                  lottery_measure="corruption_ece", h2h_sparsity="0.8")
    assert any("the test over the seeds above is the one" in c.value for c in ece.caption)


def test_compare_two_recipes_tests_each_condition_over_the_seeds_and_the_samples(
        synthetic_sweep_store, monkeypatch):
    """Two recipes of a sweep from the URL: per condition, B's seed mean minus A's, tested over
    the seeds paired by seed (scipy's ttest_rel) and on the samples with the seeds fixed
    (ttest_1samp of the seed-averaged per-sample changes), each with Benjamini-Hochberg over the
    conditions shown (statsmodels), and the warning that two seeds say little."""
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    at = page_on(synthetic_sweep_store, monkeypatch, "compare.py", of="recipes",
                 ga="magnitude-90", gb="random-90", severity="1")
    assert (at.selectbox(key="ga").value, at.selectbox(key="gb").value) == ("magnitude-90",
                                                                          "random-90")
    table = at.dataframe[0].value
    with open_store(synthetic_sweep_store) as con:
        rows = con.sql("""SELECT m.recipe, m.seed, c.name AS condition, mt.sample_id,
                                 mt.correct::INT AS y
                          FROM metrics mt JOIN models m USING (model_id)
                          JOIN conditions c USING (condition_id)
                          WHERE m.target_sparsity = 0.9 AND c.severity IN (0, 1)""").pl()
    seeds_p, samples_p = [], []
    for condition in table["condition"]:
        at_c = rows.filter(pl.col("condition") == condition)
        per_seed = at_c.group_by("recipe", "seed").agg(pl.col("y").mean()).sort("seed")
        x, y = (per_seed.filter(pl.col("recipe") == r)["y"].to_numpy()
                for r in ("random", "magnitude"))
        seeds_p.append(stats.ttest_rel(x, y).pvalue)
        per_sample = at_c.group_by("recipe", "sample_id").agg(pl.col("y").mean()).sort("sample_id")
        d = (per_sample.filter(pl.col("recipe") == "random")["y"].to_numpy()
             - per_sample.filter(pl.col("recipe") == "magnitude")["y"].to_numpy())
        samples_p.append(stats.ttest_1samp(d, 0).pvalue)
        got = table[table["condition"] == condition]
        assert float(got["change"].iloc[0]) == pytest.approx(100 * (x.mean() - y.mean()))
    assert table["p_adjusted"].to_list() == pytest.approx(multipletests(seeds_p, method="fdr_bh")[1])
    assert table["p_samples"].to_list() == pytest.approx(multipletests(samples_p, method="fdr_bh")[1])
    assert any("rests on 2 seeds each" in w.value for w in at.warning)
    links = [x.proto for x in at.get("page_link") if "Compare two models" in x.proto.label]
    assert len(links) == 1 and "of=models" in links[0].query_string


def test_the_head_to_head_leaves_out_a_model_without_a_finite_value_and_says_so(
        synthetic_sweep_store, monkeypatch):
    """A lost class puts a model's distance to its boundary at -inf: the head to head names the
    models left out and compares the others (here one seed a side remains, which it says),
    never calling a recipe of two seeds one of a single seed."""
    at = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                 lottery_measure="corrupted_margin_distance", h2h_sparsity="0.9", h2h_a="gmp",
                 h2h_b="magnitude")
    (lost,) = [w.value for w in at.warning if "no finite" in w.value]
    assert "gmp-90-s1, gmp-90-s2, magnitude-90-s2 have" in lost and "leaves them out" in lost
    assert any("fewer than two seeds with a value" in i.value for i in at.info)
    assert not any("single seed" in i.value for i in at.info)
    finite = page_on(synthetic_sweep_store, monkeypatch, "sweep.py", view="Seed lottery",
                     lottery_measure="corrupted_margin_distance", h2h_sparsity="0.8",
                     h2h_a="gmp", h2h_b="snip")
    assert not [w.value for w in finite.warning if "no finite" in w.value]
    assert any("paired by seed" in m.value for m in finite.markdown)


def test_compare_two_counts_the_samples_a_shift_leaves_out(synthetic_sweep_store, monkeypatch):
    """A model that lost a class has no finite distance to that class's boundary: the shift is
    over the samples where both have one, and the table says how many of how many."""
    at = page_on(synthetic_sweep_store, monkeypatch, "compare.py", a="dense-s1", b="gmp-90-s1",
                 shift="margin_distance", severity="5")
    table = at.dataframe[0].value
    with open_store(synthetic_sweep_store) as con:
        finite = con.sql("""SELECT count(*) FROM metrics mt JOIN models m USING (model_id)
                            WHERE m.name = 'gmp-90-s1' AND mt.condition_id = 0
                              AND isfinite(mt.margin_distance)""").fetchall()[0][0]
    clean = table[table["condition"] == "clean"]["shift"].iloc[0]
    assert clean.endswith(f", {finite} of 450") and finite < 450
    length = page_on(synthetic_sweep_store, monkeypatch, "compare.py", a="dense-s1",
                     b="gmp-90-s1", shift="length", severity="5").dataframe[0].value
    assert not length["shift"].str.contains(" of ").any()


def test_the_overview_of_a_store_without_corruptions_says_so_under_severity(synthetic_store,
                                                                             tmp_path, monkeypatch):
    """An attacks-only store (the CIFAR-10 attacks build) has nothing to draw against severity:
    each severity tab says so in one line instead of an empty chart."""
    path = tmp_path / "clean-only.duckdb"
    shutil.copy(synthetic_store, path)
    with duckdb.connect(str(path)) as con:
        tables = con.execute("""SELECT DISTINCT c.table_name FROM duckdb_columns() c
                                JOIN duckdb_tables() t USING (table_name)
                                WHERE c.column_name = 'condition_id'""").fetchall()
        for (table,) in tables:
            con.execute(f"DELETE FROM {table} WHERE condition_id <> 0")
    for tab in ("Severity by family", "One corruption"):
        at = page_on(path, monkeypatch, "overview.py", section=tab)
        assert [i.value for i in at.info] == ["This store has no corruption to draw against "
                                              "severity."], tab
        assert not at.get("vega_lite_chart")[1:], tab  # the accuracy heatmap only


@pytest.mark.parametrize("store", ["synthetic_store", "synthetic_sweep_store", "population_store"])
def test_every_key_a_view_writes_to_its_link_is_one_its_page_reads(request, store, monkeypatch):
    """A link copied from any view (every tab of every page, on a small store, a sweep and a
    seeded population) opens without the line about keys the page ignores: each page declares
    every key it can read (`state.link_keys`), whichever tab wrote it."""
    from app.headless import VIEWS

    at = app_on(request.getfixturevalue(store), monkeypatch).run()
    for name, path, _, _ in VIEWS:
        page, _, query = path.lstrip("/").partition("?")
        open_page(at, f"{page or 'overview'}.py", **dict(urllib.parse.parse_qsl(query)))
        written = set(at.query_params)
        assert written <= at.session_state["_link_keys"], (name, written)
        assert not [w.value for w in at.warning if "does not read" in w.value], name


def test_a_link_key_the_page_does_not_read_gets_one_line_once(synthetic_store, monkeypatch):
    """The Overview shows every model, so `?models=` (a key of the Geometry and Attacks pages)
    changes nothing there: the link says so instead of being silently ignored."""
    at = app_on(synthetic_store, monkeypatch)
    at.query_params.update(models="nope", severity="5")
    at.run()  # the Overview, opened by the link
    (line,) = [w.value for w in at.warning if "does not read" in w.value]
    assert "`models=nope`" in line and "severity" not in line.split("from the link")[0]
    assert at.selectbox(key="severity").value == "5"  # the keys it does read still apply
    assert "models" not in at.query_params  # left out of the link: a copy no longer carries it
    at.run()  # said once, not on every rerun
    assert not [w.value for w in at.warning if "does not read" in w.value]
