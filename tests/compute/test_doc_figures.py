"""The docs' figures are written from stores (scripts/doc_figures.py): a fresh demo build gives
exactly the numbers docs/pruning.md prints."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("doc_figures", ROOT / "scripts" / "doc_figures.py")
doc_figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(doc_figures)


def test_a_block_is_replaced_between_its_markers_and_nothing_else_changes():
    text = "a\n  <!-- figures:x -->\n  old\n  <!-- /figures:x -->\nb\n"
    assert doc_figures.replace_block(text, "x", "  new\n  rows") == (
        "a\n  <!-- figures:x -->\n  new\n  rows\n  <!-- /figures:x -->\nb\n")
    with pytest.raises(KeyError, match="figures:y"):
        doc_figures.replace_block(text, "y", "new")


@pytest.mark.slow
def test_the_docs_print_what_a_fresh_demo_build_measures(demo_store, capsys):
    assert doc_figures.main(["--demo", str(demo_store), "--check"]) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_a_changed_figure_is_caught_and_rewritten(demo_store, tmp_path):
    (tmp_path / "docs").mkdir()
    doc = (ROOT / "docs" / "pruning.md").read_text().replace("| dense | dense |", "| dense | x |")
    (tmp_path / "docs" / "pruning.md").write_text(doc)
    args = ["--demo", str(demo_store), "--docs", str(tmp_path)]
    assert doc_figures.main([*args, "--check"]) == 1
    assert doc_figures.main(args) == 0
    assert doc_figures.main([*args, "--check"]) == 0
