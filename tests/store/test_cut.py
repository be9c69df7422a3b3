"""A store cut for sharing (store/cut.py): valid, smaller, answering every query as the original
does on what it keeps, with the summaries that depend on the kept samples recomputed."""

from __future__ import annotations

import polars as pl
import pytest

from store import SCHEMA_VERSION, StoreError, derived, open_store, queries
from store import cut as store_cut
from store.analysis import correlation_matrix
from store.cut import cut
from store.queries.similarity import corruption_correlation
from tests.support.measures import assert_overview_follows_the_definitions


def test_a_cut_of_some_models_and_conditions_answers_as_the_original(synthetic_store, tmp_path):
    path, notes = cut(synthetic_store, tmp_path / "cut.duckdb", models=["magnitude-80"],
                      conditions=["gaussian_noise-5", "contrast-5"])
    assert any("dense reference dense" in n for n in notes) and any("clean" in n for n in notes)
    old, new = open_store(synthetic_store), open_store(path)
    assert [n for (n,) in new.execute("SELECT name FROM conditions ORDER BY 1").fetchall()] == [
        "clean", "contrast-5", "gaussian_noise-5"]
    kept = new.execute("SELECT model_id, condition_id, accuracy FROM accuracy ORDER BY 1, 2").fetchall()
    before = dict(((m, c), a) for m, c, a in old.execute("SELECT * EXCLUDE (n) FROM accuracy").fetchall())
    assert kept and all(before[(m, c)] == a for m, c, a in kept)
    # Every test sample kept: linear CKA and clean accuracy carry over unchanged.
    overview = queries.model_overview(new).select("model", "clean_accuracy")
    assert overview.to_dicts() == queries.model_overview(old).select(
        "model", "clean_accuracy").to_dicts()
    assert new.execute("SELECT count(*) FROM model_similarity").fetchall()[0][0] == 2 * 2 * 3
    version = new.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert version == [(SCHEMA_VERSION,)]


def test_a_cut_of_samples_spreads_over_the_classes_and_recomputes_what_depends_on_them(
        synthetic_store, tmp_path, monkeypatch):
    monkeypatch.setattr(store_cut, "MOMENTS_FROM_ROWS", 0)  # store them, however small the cut
    path, notes = cut(synthetic_store, tmp_path / "cut.duckdb", samples=25, thumbnails=3,
                      drop_angles=True)
    assert any("linear CKA" in n for n in notes)
    con = open_store(path)
    per_class = [n for (n,) in con.execute(
        "SELECT count(*) FROM samples GROUP BY label ORDER BY label").fetchall()]
    assert sum(per_class) == 25 and max(per_class) - min(per_class) <= 1
    clean = dict(con.execute("""
        SELECT model_id, avg(correct::DOUBLE) FROM metrics JOIN conditions USING (condition_id)
        WHERE corruption = 'clean' GROUP BY 1""").fetchall())
    assert dict(con.execute("SELECT model_id, clean_accuracy FROM models").fetchall()) == clean
    assert_overview_follows_the_definitions(con)  # the robustness intervals are the cut's own
    assert con.execute("SELECT count(*) FROM metrics WHERE angles IS NOT NULL").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM model_similarity").fetchall() == [(0,)]
    per_condition = con.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM condition_thumbnails GROUP BY condition_id)")
    assert per_condition.fetchall()[0][0] <= 3
    # The shift moments are the cut's own: the stored ones give what its metric rows give.
    models = [m for (m,) in con.execute("SELECT model_id FROM models").fetchall()]
    stored = corruption_correlation(con, "margin_distance", models, 5)
    wide = derived.corruption_shifts(con, "margin_distance", models, 5)
    names = [c for c in wide.columns if c not in ("model_id", "sample_id")]
    live = correlation_matrix(wide.select(names).to_numpy())
    assert stored.height == len(names) ** 2
    assert con.execute("SELECT count(DISTINCT model_id) FROM shift_moments").fetchall() == [(2,)]
    for row in stored.iter_rows(named=True):
        i, j = names.index(row["corruption_a"]), names.index(row["corruption_b"])
        assert row["r"] == pytest.approx(live[i, j], abs=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"models": ["nope"]}, "No model named nope in the store; it has dense, magnitude-80"),
    ({"conditions": ["fog-9"]}, "No condition named fog-9"),
    ({"classes": ["x"]}, "No class named x"),
    ({"samples": 5, "classes": ["0"]}, "not both"),
    ({"samples": 0}, "at least 1"),
    ({"thumbnails": -1}, "0 or more"),
])
def test_every_bad_choice_is_one_sentence_and_writes_nothing(synthetic_store, tmp_path, kwargs,
                                                             message):
    with pytest.raises(StoreError, match=message):
        cut(synthetic_store, tmp_path / "cut.duckdb", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_cut_never_overwrites_its_source(synthetic_store):
    with pytest.raises(StoreError, match="new file"):
        cut(synthetic_store, synthetic_store)


def test_the_app_reads_a_cut_like_any_store(synthetic_store, tmp_path):
    path, _ = cut(synthetic_store, tmp_path / "cut.duckdb", samples=40)
    con = open_store(path)
    flips = queries.pruning_flips(con, 5)
    assert isinstance(flips, pl.DataFrame) and flips["n"].max() == 40


def test_a_small_cut_leaves_the_moments_to_the_rows_and_the_view_still_answers(synthetic_store,
                                                                             tmp_path):
    path, notes = cut(synthetic_store, tmp_path / "cut.duckdb", samples=60)
    assert any("shift moments" in n for n in notes)
    con = open_store(path)
    assert con.execute("SELECT count(*) FROM shift_moments").fetchall() == [(0,)]
    models = [m for (m,) in con.execute("SELECT model_id FROM models").fetchall()]
    assert corruption_correlation(con, "length", models, None).height > 0
