"""The sweep's views on a hand-built population whose answers are known (tests/support/population.py):
the exemplars, the seed spread, the ECE and the reliability bins, worked out by hand."""

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import derived, open_store, queries, statistics
from tests.support.population import (
    CONFIDENCE,
    DENSE_MODE,
    EXEMPLARS,
    GMP_MODE,
    LABELS,
    MODELS,
    PRED,
    build_population_store,
)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    connection = open_store(build_population_store(tmp_path_factory.mktemp("sweep") / "s.duckdb"))
    yield connection
    connection.close()


def test_models_carry_their_place_in_the_sweep(con):
    rows = queries.sweep_models(con).select("model", "recipe", "target_sparsity", "seed",
                                            "reference").rows()
    assert rows[0] == ("dense-s1", "dense", 0.0, 1, None)
    assert rows[4] == ("gmp-90-s3", "gmp", 0.9, 3, "dense-s1")


def test_exemplars_are_where_the_modal_predictions_differ(con):
    pruned, dense = queries.populations(con, "gmp", 0.9)
    assert (pruned, dense) == ([2, 3, 4], [0, 1])
    found = queries.exemplars(con, 1, pruned, dense)
    assert sorted(found["sample_id"].to_list()) == EXEMPLARS
    by_id = {r["sample_id"]: r for r in found.iter_rows(named=True)}
    for s in EXEMPLARS:
        assert (by_id[s]["dense_modal"], by_id[s]["pruned_modal"]) == (DENSE_MODE[s], GMP_MODE[s])
    assert by_id[5]["dense_share"] == 0.5 and by_id[4]["pruned_share"] == 1.0
    summary = queries.exemplar_summary(con, 1, pruned, dense)
    # dense modes right on 0, 2, 4 of the exemplars (labels 0 2 1 2 -> modes 0 2 1 0): 3 of 4
    assert summary["exemplars"] == 4 and summary["dense_accuracy_exemplars"] == 0.75
    assert summary["pruned_accuracy_exemplars"] == 0.25  # only sample 5 (mode 2, label 2)
    assert queries.exemplars(con, 0, pruned, dense).is_empty()  # clean: all right, no exemplar


def test_the_samples_page_category_lists_the_same_exemplars_with_their_modes(con):
    for focus in (2, 3, 4):  # any seed of the group names the same population
        found = queries.sample_category(con, "pruning-identified", focus, 1, [0, 1, 2, 3, 4],
                                        [0, 1, 2])
        assert sorted(found["sample_id"].to_list()) == EXEMPLARS
    modes = queries.exemplar_modes(con, 3, 1)
    names = "abc"
    assert {r["sample_id"]: (r["pred"], r["reference_pred"]) for r in modes.iter_rows(named=True)} \
        == {s: (names[GMP_MODE[s]], names[DENSE_MODE[s]]) for s in EXEMPLARS}


def test_seed_spread_and_disagreement_by_construction(con):
    acc = (PRED == LABELS).mean(axis=1)  # corrupted accuracy per model: the benchmark mean
    spread = {r["recipe"]: r for r in queries.seed_spread(con, "mean_corruption_accuracy")
              .iter_rows(named=True)}
    assert spread["gmp"]["range"] == pytest.approx(acc[2:].max() - acc[2:].min())
    assert spread["gmp"]["mean"] == pytest.approx(acc[2:].mean())
    assert spread["gmp"]["std"] == pytest.approx(acc[2:].std(ddof=1))
    assert spread["dense"]["range"] == pytest.approx(abs(acc[0] - acc[1]))
    # one pruned recipe at 90 %: no other method to compare with, so no lottery ratio
    assert spread["gmp"]["lottery"] is None
    flips = {r["recipe"]: r for r in queries.seed_disagreement(con, 1).iter_rows(named=True)}
    gmp = PRED[2:]
    assert flips["gmp"]["predictions_differ"] == pytest.approx(
        np.mean([len(set(gmp[:, s])) > 1 for s in range(6)]))
    right = gmp == LABELS
    assert flips["gmp"]["correctness_differs"] == pytest.approx(
        np.mean(right.any(axis=0) & ~right.all(axis=0)))
    curves = queries.sparsity_curves(con, "mean_corruption_accuracy")
    assert curves.filter(curves["recipe"] == "gmp")["seeds"].to_list() == [3]


def ece_by_hand(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Guo et al.'s ECE, written out: bins (b/B, (b+1)/B]."""
    total = 0.0
    for b in range(bins):
        inside = (confidence > b / bins) & (confidence <= (b + 1) / bins)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def test_ece_and_reliability_bins_by_construction(con):
    ece = {(r["model"], r["condition"]): r["ece"] for r in queries.ece(con).iter_rows(named=True)}
    for i, (name, *_) in enumerate(MODELS):
        want = ece_by_hand(CONFIDENCE.astype(np.float32).astype(float), PRED[i] == LABELS)
        assert ece[(name, "gaussian_noise-5")] == pytest.approx(want, abs=1e-6)
        assert ece[(name, "clean")] == pytest.approx(0.1, abs=1e-6)  # always right at 0.9
    bins = queries.reliability(con, [0], 1)
    # 0.95 and 0.999 share the top bin; every other confidence has a bin of its own
    assert bins["bin"].to_list() == [0, 5, 8, 12, 14]
    assert bins.filter(bins["bin"] == 14)["n"].to_list() == [2]
    assert bins["share"].sum() == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(2**-20, 1.0, width=32), st.booleans()), min_size=1, max_size=40))
def test_the_stored_ece_is_guo_et_al_s_for_any_confidences(rows):
    con = duckdb.connect()
    con.execute("CREATE TABLE metrics (model_id SMALLINT, condition_id SMALLINT, confidence FLOAT,"
                " correct BOOLEAN)")
    con.executemany("INSERT INTO metrics VALUES (0, 0, ?, ?)", rows)
    con.execute(f"CREATE TABLE calibration AS {derived.calibration_sql()}")
    got, low, high = con.execute("SELECT sum(n * abs(accuracy - confidence)) / sum(n), min(bin), "
                                 "max(bin) FROM calibration").fetchall()[0]
    conf = np.array([c for c, _ in rows], dtype=np.float32).astype(float)
    assert got == pytest.approx(ece_by_hand(conf, np.array([r for _, r in rows])), abs=1e-9)
    assert 0 <= low <= high < derived.CALIBRATION_BINS


def test_seed_groups_name_a_recipe_at_its_sparsity(con):
    groups = queries.seed_groups(con)
    assert groups.select("model", "group", "seeds").rows() == [
        ("dense-s1", "dense", 2), ("dense-s2", "dense", 2), ("gmp-90-s1", "gmp", 3),
        ("gmp-90-s2", "gmp", 3), ("gmp-90-s3", "gmp", 3)]


def test_averaging_the_seeds_gives_each_groups_mean_and_band(con):
    acc = (PRED == LABELS).mean(axis=1)
    per_model = queries.accuracy_by_corruption(con, 5)
    averaged = queries.average_seeds(per_model, queries.seed_groups(con), ["accuracy"])
    noisy = averaged.filter(averaged["corruption"] == "gaussian_noise")
    assert noisy["model"].to_list() == ["dense", "gmp"]  # in build order
    gmp = noisy.row(1, named=True)
    assert gmp["accuracy"] == pytest.approx(acc[2:].mean())
    assert (gmp["accuracy_low"], gmp["accuracy_high"]) == pytest.approx((acc[2:].min(),
                                                                          acc[2:].max()))
    assert gmp["seeds"] == 3 and gmp["family"] == "noise"


def test_the_samples_part_of_the_seed_spread_is_read_from_the_raw_rows(synthetic_sweep_store):
    """sampling_noise per sparsity equals the two-way residual of the per-sample accuracies of
    its pruned models recomputed from the metric rows, and the Sweep's variance parts use it."""
    with open_store(synthetic_sweep_store) as db:
        rows = db.sql("""
            SELECT m.model_id, m.target_sparsity, mt.sample_id, c.benchmark,
                   c.corruption = 'clean' AS clean, mt.correct::INT AS y
            FROM metrics mt JOIN models m USING (model_id) JOIN conditions c USING (condition_id)
            WHERE m.reference_model_id IS NOT NULL""").pl()
        for measure, where in (("mean_corruption_accuracy", "benchmark"), ("clean_accuracy", "clean")):
            stored = dict(queries.sampling_variance(db, measure).iter_rows())
            assert len(stored) == rows["target_sparsity"].n_unique() >= 2
            for sparsity, part in rows.filter(where).group_by("target_sparsity"):
                per = part.group_by("model_id", "sample_id").agg(
                    pl.col("y").mean()).sort("model_id", "sample_id")
                y = per["y"].to_numpy().reshape(per["model_id"].n_unique(), -1)
                r = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
                expected = (r**2).sum() / ((y.shape[0] - 1) * (y.shape[1] - 1)) / y.shape[1]
                assert stored[sparsity[0]] == pytest.approx(expected, rel=1e-9)
        assert queries.sampling_variance(db, "mce").is_empty()  # no per-sample form


def test_each_samples_accuracy_is_stored_as_its_counts_over_the_measures_conditions(
        synthetic_sweep_store):
    """sample_accuracy: per model, measure and sample, the raw rows' count of conditions of the
    measure under which it is right, and of its conditions, for every model and sample."""
    with open_store(synthetic_sweep_store) as db:
        for measure, where in derived.SAMPLED_MEASURES.items():
            stored = db.sql(f"""SELECT model_id, sample_id, correct, k FROM sample_accuracy
                                WHERE measure = '{measure}' ORDER BY ALL""").pl()
            raw = db.sql(f"""SELECT mt.model_id, mt.sample_id,
                                    sum(mt.correct::INT) AS correct, count(*) AS k
                             FROM metrics mt JOIN conditions c USING (condition_id)
                             WHERE {where} GROUP BY ALL ORDER BY ALL""").pl()
            assert stored.height == 26 * 450
            assert stored.cast(raw.schema).equals(raw)
        assert db.sql("SELECT DISTINCT k FROM sample_accuracy ORDER BY 1").fetchall() == [(1,), (6,)]


def _per_sample(db, models: list[int], where: str) -> np.ndarray:
    """Each sample's accuracy averaged over `models` and the conditions `where` picks, from the
    raw rows, in sample order."""
    rows = db.sql(f"""
        SELECT mt.sample_id, mt.correct::INT AS y FROM metrics mt
        JOIN conditions c USING (condition_id)
        WHERE ({where}) AND mt.model_id IN ({', '.join(map(str, models))})""").pl()
    return rows.group_by("sample_id").agg(pl.col("y").mean()).sort("sample_id")["y"].to_numpy()


@pytest.mark.parametrize(("measure", "where"), [("mean_corruption_accuracy", "c.benchmark"),
                                                ("clean_accuracy", "c.corruption = 'clean'")])
def test_two_recipes_are_tested_sample_by_sample_pooled_over_their_seeds(synthetic_sweep_store,
                                                                         measure, where):
    """The pooled per-sample test of two recipes' seeds is scipy's one-sample t-test of each
    sample's accuracy averaged over one recipe's seeds (and the measure's conditions) minus the
    other's, and its mean is the difference of the recipes' mean accuracies."""
    from scipy import stats

    with open_store(synthetic_sweep_store) as db:
        values = queries.seed_values(db, measure).filter(pl.col("target_sparsity") == 0.8)
        a, b = (values.filter(pl.col("recipe") == r)["model_id"].to_list() for r in ("gmp", "snip"))
        got = queries.pooled_sample_difference(db, measure, a, b)
        d = _per_sample(db, a, where) - _per_sample(db, b, where)
        assert queries.pooled_sample_difference(db, "mce", a, b) == {}  # no per-sample form
    assert got["n"] == len(d) == 450 and len(a) == len(b) == 2
    assert got["mean"] == pytest.approx(d.mean(), abs=1e-12)
    assert got["sd"] == pytest.approx(d.std(ddof=1), rel=1e-9)
    means = values.group_by("recipe").agg(pl.col("value").mean())
    by = dict(means.iter_rows())
    assert got["mean"] == pytest.approx(by["gmp"] - by["snip"], abs=1e-12)
    (p,) = statistics.mean_test([got["mean"]], [got["sd"]], [got["n"]])
    assert p == pytest.approx(stats.ttest_1samp(d, 0).pvalue, rel=1e-9)


@pytest.fixture(scope="module")
def gappy_sweep_store(synthetic_sweep_store, tmp_path_factory):
    """The synthetic sweep with some rows of one model gone (a store whose models were not all
    scored on every sample): its rows fill no grid."""
    import shutil

    path = tmp_path_factory.mktemp("gappy") / "gappy.duckdb"
    shutil.copy(synthetic_sweep_store, path)
    with duckdb.connect(str(path)) as db:
        db.execute("DELETE FROM metrics WHERE model_id = 6 AND sample_id % 7 = 3")
    return path


@pytest.fixture(scope="module")
def holey_sweep_store(synthetic_sweep_store, tmp_path_factory):
    """The synthetic sweep without some samples, for every model (a cut keeps some samples): its
    rows fill a grid whose sample ids have gaps."""
    import shutil

    path = tmp_path_factory.mktemp("holey") / "holey.duckdb"
    shutil.copy(synthetic_sweep_store, path)
    with duckdb.connect(str(path)) as db:
        db.execute("DELETE FROM metrics WHERE sample_id % 7 = 3 OR sample_id = 0")
    return path


@pytest.mark.parametrize("store", ["synthetic_sweep_store", "gappy_sweep_store",
                                   "holey_sweep_store"])
def test_two_groups_of_seeds_are_compared_per_condition_sample_by_sample(request, store):
    """compare_groups per condition: each group's accuracy, the per-sample change averaged over
    the seeds with its spread, the samples every seed of one gets right and every seed of the
    other wrong, and the shifts of seed-averaged metrics, as the raw rows give them; from the
    models x conditions x samples grid where the rows fill one, else from DuckDB's aggregate."""
    from store.queries import compare

    with open_store(request.getfixturevalue(store)) as db:
        members = queries.seed_groups(db)
        a, b = (members.filter(pl.col("group") == g)["model_id"].to_list()
                for g in ("magnitude-90", "random-90"))
        conditions = [0, 2, 6]
        got = queries.compare_groups(db, a, b, conditions)
        aggregated = compare._aggregate_moments(db, a, b, conditions).sort("condition_id")
        rows = db.sql(f"""SELECT model_id, condition_id, sample_id, correct::INT AS y, length
                          FROM metrics WHERE model_id IN {tuple(a + b)}""").pl()
    assert got["condition_id"].to_list() == conditions
    assert np.allclose(got.select(aggregated.columns).to_numpy().astype(float),
                       aggregated.to_numpy().astype(float), rtol=1e-9, equal_nan=True)
    for c, row in zip(conditions, got.iter_rows(named=True), strict=True):
        at = rows.filter(pl.col("condition_id") == c)
        ya, yb = (at.filter(pl.col("model_id").is_in(g)).group_by("sample_id")
                  .agg(pl.col("y").mean(), pl.col("length").mean()).sort("sample_id")
                  for g in (a, b))
        both = set(ya["sample_id"].to_list()) & set(yb["sample_id"].to_list())
        ya, yb = (f.filter(pl.col("sample_id").is_in(list(both))) for f in (ya, yb))
        d = (yb["y"] - ya["y"]).to_numpy()
        assert row["n"] == len(d)
        assert row["accuracy_a"] == pytest.approx(ya["y"].mean(), abs=1e-12)
        assert row["change"] == pytest.approx(d.mean(), abs=1e-12)
        assert row["change_sd"] == pytest.approx(d.std(ddof=1), rel=1e-9)
        assert row["fragile"] == int(((ya["y"] == 1) & (yb["y"] == 0)).sum())
        assert row["gain"] == int(((yb["y"] == 1) & (ya["y"] == 0)).sum())
        shift = (yb["length"] - ya["length"]).to_numpy()
        assert row["length_diff"] == pytest.approx(shift.mean(), rel=1e-5)
        assert row["length_sd"] == pytest.approx(shift.std(ddof=1), rel=1e-4)
