"""The app: every page renders on a real store, explains a missing or foreign one, and never needs
torch or compute."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "streamlit_app.py")
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py") if p.name != "shared.py")


def app_on(store: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("RLE_STORE", str(store))
    return AppTest.from_file(APP, default_timeout=60)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_real_store(tiny_store, monkeypatch, page):
    at = app_on(tiny_store, monkeypatch).run()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, at.exception
    assert not at.error


def test_overview_shows_models_and_reacts_to_the_corruption_choice(tiny_store, monkeypatch):
    at = app_on(tiny_store, monkeypatch).run()
    table = at.dataframe[0].value
    assert list(table["model"]) == ["dense", "magnitude-80"]
    assert table["sparsity"][1] == pytest.approx(0.8, abs=0.005)
    box = at.selectbox(key="severity_corruption")
    assert box.options == ["all corruptions (mean)", "gaussian_noise", "contrast", "pixelate"]
    for option in box.options:
        at.selectbox(key="severity_corruption").select(option).run()
        assert not at.exception, (option, at.exception)


def test_missing_store_explains_how_to_build_one(tmp_path, monkeypatch):
    at = app_on(tmp_path / "none.duckdb", monkeypatch).run()
    assert not at.exception
    assert any("python -m compute build configs/demo.toml" in i.value for i in at.info)


def test_foreign_file_gets_an_error_not_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE t (a INT)").close()
    at = app_on(path, monkeypatch).run()
    assert not at.exception
    assert "not a Robustness Lottery store" in at.error[0].value


APP_FILES = [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py")),
             *sorted((ROOT / "store").glob("*.py"))]


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


def test_app_runs_with_torch_and_compute_unimportable(tiny_store):
    """Not just no import statements: nothing the app imports pulls torch in either."""
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("torch", "torchvision", "compute"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        import os
        os.environ["RLE_STORE"] = {str(tiny_store)!r}
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({APP!r}, default_timeout=60).run()
        assert not at.exception, at.exception
        assert len(at.dataframe) == 1
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
