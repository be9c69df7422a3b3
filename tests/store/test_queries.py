"""The pages' queries on a hand-made store whose answers are known by construction.

Two models (a dense one and a pruned one referring to it), 3 classes, 4 samples; each model's
prediction under each condition is chosen, the features are made to produce exactly it, and the
geometry follows its definitions (tests/support/geometry.py). Which samples are wrong is therefore
known, and so are the accuracies, mCE, agreement and error overlap the queries must return.
"""

from __future__ import annotations

import math
import shutil

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from store import SCHEMA_VERSION, StoreError, derived, open_store, queries
from store.analysis import correlation_matrix
from store.records import ConditionRecord, ModelRecord
from store.writer import StoreWriter
from tests.support.geometry import reference_geometry
from tests.support.measures import assert_overview_follows_the_definitions
from tests.support.synthetic import linear_cka

LABELS = np.array([0, 1, 2, 0])
# condition -> (corruption, severity, family); two benchmark corruptions at two severities
CONDITIONS = [("clean", 0, "clean"), ("noise", 1, "noise"), ("noise", 2, "noise"),
              ("blur", 1, "blur"), ("blur", 2, "blur")]
# how many of the 4 samples (the first k) each model gets wrong, per condition
WRONG = {0: [0, 1, 2, 0, 1], 1: [1, 2, 3, 1, 2]}


def make_features(model: int, wrong: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    pred = np.where(np.arange(4) < wrong, (LABELS + 1) % 3, LABELS)
    f = np.zeros((4, 4))
    f[np.arange(4), pred] = 3.0
    return f + rng.normal(0, 0.2, (4, 4)), pred


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("hand") / "hand.duckdb"
    rng = np.random.default_rng(0)
    weights = {m: np.hstack([2 * np.eye(3), np.zeros((3, 1))]) + rng.normal(0, 0.2, (3, 4))
               for m in (0, 1)}
    biases = {m: rng.normal(0, 0.1, 3) for m in (0, 1)}
    raw: dict[tuple[int, int], np.ndarray] = {}
    with StoreWriter(path, "hand", num_classes=3) as w:
        w.put_classes(["a", "b", "c"])
        w.put_conditions([ConditionRecord(i, c if s == 0 else f"{c}-{s}", c, s, f, s > 0)
                          for i, (c, s, f) in enumerate(CONDITIONS)])
        w.put_samples(LABELS, ["x"] * 4, [b"\x89PNG"] * 4)
        for m in (0, 1):
            w.put_model(ModelRecord(m, ["dense", "pruned"][m], "hand", ["dense", "magnitude"][m],
                                    None, 0.5 * m, 15, 15, 0 if m else None, 3, 4),
                        weights[m], biases[m])
        for c in range(5):
            feats = []
            for m in (0, 1):
                f, pred = make_features(m, WRONG[m][c], rng)
                out = reference_geometry(f, weights[m], biases[m], LABELS)
                assert (out["pred"] == pred).all(), "the features must give the chosen pred"
                w.put_metrics(m, c, np.arange(4, dtype=np.int32), out)
                raw[(m, c)] = f
                feats.append(f)
            w.put_similarity(c, [0, 1], np.array([[linear_cka(a, b) for b in feats] for a in feats]))
        for metric, severity in derived.shift_moment_views([1, 2]):
            w.put_shift_moments(metric, severity)
        w.commit()
    return path, weights, raw


@pytest.fixture
def con(hand_store):
    connection = open_store(hand_store[0])
    yield connection
    connection.close()


def test_accuracy_and_mce_by_construction(con):
    rows = {r["model"]: r for r in queries.model_overview(con).iter_rows(named=True)}
    assert rows["dense"]["clean_accuracy"] == 1.0 and rows["pruned"]["clean_accuracy"] == 0.75
    # mean over the 4 corrupted conditions of 1 - wrong/4
    assert rows["dense"]["mean_corruption_accuracy"] == pytest.approx(0.75)
    assert rows["pruned"]["mean_corruption_accuracy"] == pytest.approx(0.5)
    # The reference model scores exactly 100; the pruned one: noise (.5+.75)/(.25+.5) = 5/3,
    # blur (.25+.5)/(0+.25) = 3, mean x 100. Relative: (.25+.5)/(.25+.5) = 1 and .25/.25 = 1.
    assert rows["dense"]["mce"] == pytest.approx(100.0)
    assert rows["dense"]["relative_mce"] == pytest.approx(100.0)
    assert rows["pruned"]["mce"] == pytest.approx(100 * (5 / 3 + 3) / 2)
    assert rows["pruned"]["relative_mce"] == pytest.approx(100.0)
    assert rows["pruned"]["reference"] == "dense"


def test_pruned_models_against_their_dense_reference_by_construction(con):
    # Conditions: clean, noise-1, noise-2, blur-1, blur-2; wrong: dense 0,1,2,0,1, pruned 1,2,3,1,2
    # (the first k samples): so at severity 2 pruning breaks sample 2 under noise and 1 under
    # blur, on clean sample 0, and mends none.
    flips = queries.pruning_flips(con, 2)
    got = {r["condition"]: (r["fragile"], r["gain"], r["n"]) for r in flips.iter_rows(named=True)}
    assert got == {"clean": (1, 0, 4), "noise-2": (1, 0, 4), "blur-2": (1, 0, 4)}
    # Chance is 1/3, near chance below 1.5 x that = 0.5: the pruned model's 1 of 4 under noise-2
    # is, the dense model's 2 of 4 is not; averaged, a corruption is flagged by its worst severity.
    chance = {r["condition"]: (r["chance"], r["chance_everywhere"]) for r in flips.iter_rows(named=True)}
    assert chance == {"clean": (None, False), "blur-2": (None, False),
                      "noise-2": ("pruned near chance at severity 2", True)}
    mean_chance = {r["corruption"]: (r["chance"], r["chance_everywhere"])
                   for r in queries.change_vs_dense(con).iter_rows(named=True)}
    assert mean_chance == {"noise": ("pruned near chance at severity 2", False),
                           "blur": (None, False)}
    # Over all severities the same identity holds per condition: fragile - gain = n x (dense
    # accuracy - pruned accuracy).
    every = queries.pruning_flips(con, None)
    grid = queries.accuracy_grid(con).pivot(on="model", index="condition", values="accuracy")
    for row in every.join(grid, on="condition").iter_rows(named=True):
        assert row["fragile"] - row["gain"] == pytest.approx(row["n"] * (row["dense"] - row["pruned"]))
    change = queries.change_vs_dense(con, 2)
    rows = {r["corruption"]: r for r in change.iter_rows(named=True)}
    assert set(rows) == {"noise", "blur"} and rows["noise"]["model"] == "pruned"
    assert rows["noise"]["change"] == pytest.approx(0.25 - 0.5)
    assert rows["noise"]["drop"] == pytest.approx(0.75 - 0.25)  # clean minus corrupted
    assert rows["noise"]["reference_drop"] == pytest.approx(1.0 - 0.5)
    mean = {r["corruption"]: r["accuracy"] for r in queries.change_vs_dense(con).iter_rows(named=True)}
    assert mean == pytest.approx({"noise": 0.375, "blur": 0.625})
    assert queries.near_chance_models(con).is_empty()  # 75 % and 100 % on 3 classes


def test_accuracy_by_corruption_family_and_severity(con):
    grid = queries.accuracy_by_corruption(con, 2)
    got = {(r["model"], r["corruption"]): r["accuracy"] for r in grid.iter_rows(named=True)}
    assert got == {("dense", "clean"): 1.0, ("dense", "noise"): 0.5, ("dense", "blur"): 0.75,
                   ("pruned", "clean"): 0.75, ("pruned", "noise"): 0.25, ("pruned", "blur"): 0.5}
    mean = queries.accuracy_by_corruption(con, None)
    assert mean.filter(mean["corruption"] == "noise")["accuracy"].to_list() == [0.625, 0.375]
    fam = queries.accuracy_by_family(con)
    blur = fam.filter((fam["family"] == "blur") & (fam["model"] == "pruned"))
    assert blur["severity"].to_list() == [0, 1, 2]
    assert blur["accuracy"].to_list() == [0.75, 0.75, 0.5]


def test_the_severity_curve_of_every_corruption_averages_what_mean_corruption_accuracy_does(
        hand_store, tmp_path):
    """The Overview's curve over "the benchmark corruptions" leaves out a held-out corruption as
    mean corruption accuracy does, so its mean over severities is that figure."""
    path = tmp_path / "held-out.duckdb"
    shutil.copy(hand_store[0], path)
    with duckdb.connect(str(path)) as rw:  # blur held out, as the benchmark's four extras are
        rw.execute("UPDATE conditions SET benchmark = false WHERE corruption = 'blur'")
    with open_store(path) as held_out:
        curve = queries.accuracy_by_severity(held_out)
        overview = queries.model_overview(held_out)
    pruned = curve.filter(pl.col("model") == "pruned")
    assert pruned["accuracy"].to_list() == pytest.approx([0.75, 0.5, 0.25])  # clean, noise-1, -2
    mca = dict(zip(overview["model"], overview["mean_corruption_accuracy"], strict=True))
    for model, rows in curve.filter(pl.col("severity") > 0).group_by("model"):
        assert rows["accuracy"].mean() == pytest.approx(mca[model[0]]), model


def test_agreement_error_overlap_and_cka(con):
    clean = {(r["model_a"], r["model_b"]): r for r in
             queries.model_similarity(con, 0, [0, 1]).iter_rows(named=True)}
    for m in ("dense", "pruned"):
        assert clean[(m, m)]["agreement"] == 1.0
        assert clean[(m, m)]["linear_cka"] == pytest.approx(1.0)
        assert clean[(m, m)]["margin_correlation"] == pytest.approx(1.0)
    assert clean[("dense", "pruned")]["agreement"] == 0.75  # the pruned model errs on sample 0
    assert clean[("dense", "pruned")]["error_jaccard"] == 0.0  # the dense model never errs
    assert clean[("dense", "dense")]["error_jaccard"] is None  # no errors: overlap undefined
    noisy = {(r["model_a"], r["model_b"]): r for r in
             queries.model_similarity(con, 2, [0, 1]).iter_rows(named=True)}
    # wrong sets {0, 1} and {0, 1, 2}, with the same wrong class where both err
    assert noisy[("dense", "pruned")]["agreement"] == 0.75
    assert noisy[("dense", "pruned")]["error_jaccard"] == pytest.approx(2 / 3)
    # Pooled over clean and noise: every (sample, condition) a row, errors counted over both
    # (clean: both wrong 0 of 1 either-wrong; noise: 2 of 3), CKA averaged.
    both = {(r["model_a"], r["model_b"]): r for r in
            queries.model_similarity(con, [0, 2], [0, 1]).iter_rows(named=True)}
    assert both[("dense", "pruned")]["agreement"] == 0.75
    assert both[("dense", "pruned")]["error_jaccard"] == pytest.approx(2 / 4)
    assert both[("dense", "pruned")]["linear_cka"] == pytest.approx(
        (clean[("dense", "pruned")]["linear_cka"] + noisy[("dense", "pruned")]["linear_cka"]) / 2)
    assert noisy[("dense", "pruned")]["linear_cka"] == noisy[("pruned", "dense")]["linear_cka"]


def test_shift_summary_counts_the_flips(con):
    rows = {r["model"]: r for r in queries.shift_summary(con, [0, 1], 2, [0, 1, 2]).iter_rows(named=True)}
    assert (rows["dense"]["broken"], rows["dense"]["fixed"]) == (2, 0)
    assert (rows["pruned"]["broken"], rows["pruned"]["fixed"]) == (2, 0)
    assert rows["pruned"]["samples"] == 4
    only_a = queries.shift_summary(con, [1], 2, [0])  # class a: samples 0 and 3
    assert only_a["samples"].to_list() == [2] and only_a["broken"].to_list() == [0]
    # The spread of the per-sample shifts, for their paired intervals, from the raw rows.
    raw = con.sql("SELECT condition_id, sample_id, length, angle_true FROM metrics "
                  "WHERE model_id = 1 ORDER BY ALL").pl()
    for metric in ("length", "angle_true"):
        d = (raw.filter(pl.col("condition_id") == 2)[metric]
             - raw.filter(pl.col("condition_id") == 0)[metric]).to_numpy()
        assert rows["pruned"][f"d_{metric}"] == pytest.approx(d.mean(), rel=1e-5)
        assert rows["pruned"][f"sd_{metric}"] == pytest.approx(d.std(ddof=1), rel=1e-4)
    assert rows["pruned"]["n_margin"] == 4


def test_histograms_count_every_selected_sample(con):
    hist = queries.metric_histogram(con, "margin_distance", [0, 1], 2, [0, 1, 2], bins=5)
    assert hist["n"].sum() == 8
    wrong = hist.filter(~pl.col("grp")).group_by("model").agg(pl.col("n").sum())
    assert dict(wrong.iter_rows()) == {"dense": 2, "pruned": 3}
    with pytest.raises(ValueError, match="unknown metric"):
        queries.metric_histogram(con, "length; DROP TABLE metrics", [0], 0, [0])


def test_clean_and_corrupted_share_their_bins_and_count_the_same_samples(con):
    hist = queries.overlay_histogram(con, "length", [0, 1], 2, [0, 1, 2], bins=5)
    counts = {(m, g): n for m, g, n in
              hist.group_by("model", "grp").agg(pl.col("n").sum()).iter_rows()}
    noise = con.execute("SELECT name FROM conditions WHERE condition_id = 2").fetchone()[0]
    assert counts == {(m, g): 4 for m in ("dense", "pruned") for g in ("clean", noise)}
    body = hist.filter(pl.col("tail").is_null())
    edges = {g: set(body.filter(pl.col("grp") == g)["x0"].to_list()) for g in ("clean", noise)}
    lo = min(body["x0"])
    width = (body["x1"] - body["x0"]).max()
    # one grid for both: every bin edge is lo + k * width
    for x0 in edges["clean"] | edges[noise]:
        assert (x0 - lo) / width == pytest.approx(round((x0 - lo) / width), abs=1e-4)


def test_class_pair_plane_reproduces_the_raw_projections(con, hand_store):
    _, weights, raw = hand_store
    for a, b in ((0, 1), (2, 0), (1, 2)):
        plane = queries.class_pair_plane(con, [0, 1], 3, a, b)
        assert len(plane) == 2 * int(np.isin(LABELS, [a, b]).sum())
        for row in plane.iter_rows(named=True):
            m = ["dense", "pruned"].index(row["model"])
            w = weights[m]
            u1 = w[a] / np.linalg.norm(w[a])
            r = w[b] - (w[b] @ u1) * u1
            u2 = r / np.linalg.norm(r)
            f = raw[(m, 3)][row["sample_id"]]
            assert row["x"] == pytest.approx(f @ u1, abs=1e-4, rel=1e-4)
            assert row["y"] == pytest.approx(f @ u2, abs=1e-4, rel=1e-4)


def test_each_model_on_its_own_scale_divides_its_plane_by_its_median_length(con):
    shared = queries.angle_length_points(con, [0, 1], 3, [0, 1, 2])
    scaled = queries.angle_length_points(con, [0, 1], 3, [0, 1, 2], per_model=True)
    assert scaled.select("model", "sample_id").equals(shared.select("model", "sample_id"))
    for model in ("dense", "pruned"):
        mine = shared.filter(pl.col("model") == model)
        theirs = scaled.filter(pl.col("model") == model)
        assert theirs["length"].median() == pytest.approx(1.0)
        unit = mine["length"].median()
        for col in ("x", "y", "length"):
            np.testing.assert_allclose(theirs[col].to_numpy(), mine[col].to_numpy() / unit,
                                       rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(theirs["angle_true"].to_numpy(), mine["angle_true"].to_numpy())
    cells = queries.angle_length_bins(con, [0, 1], 3, [0, 1, 2], per_model=True)
    assert cells["n"].sum() == len(scaled)
    radius = max(scaled["x"].abs().max(), scaled["y"].max())
    assert cells["x1"].max() == pytest.approx(radius)  # the grid spans the scaled points


@pytest.mark.parametrize("bins", [1, 3, 60])
def test_class_pair_bins_hold_every_point_of_the_plane_once(con, bins):
    """The binned plane counts each point in the cell whose bounds hold it, and the cell's share
    labelled a and accuracy are those of its points."""
    a, b = 0, 2
    points = queries.class_pair_plane(con, [0, 1], 3, a, b)
    cells = queries.class_pair_bins(con, [0, 1], 3, a, b, bins=bins)
    for model in ("dense", "pruned"):
        mine, theirs = points.filter(pl.col("model") == model), cells.filter(pl.col("model") == model)
        assert theirs["n"].sum() == len(mine)
        assert len(theirs) <= bins * bins
        a_name = con.execute("SELECT name FROM classes WHERE class_id = ?", [a]).fetchone()[0]
        for cell in theirs.iter_rows(named=True):
            # each cell's points: inside its bounds (the last row and column closed at the top)
            held = mine.filter(pl.col("x").is_between(cell["x0"] - 1e-9, cell["x1"] + 1e-9)
                               & pl.col("y").is_between(cell["y0"] - 1e-9, cell["y1"] + 1e-9))
            assert len(held) >= cell["n"]
        assert (theirs["share_a"] * theirs["n"]).sum() == pytest.approx(
            (mine["label"] == a_name).sum())
        assert (theirs["accuracy"] * theirs["n"]).sum() == pytest.approx(mine["correct"].sum())


@pytest.mark.parametrize("metric", ["length", "margin_distance"])
def test_one_models_shift_against_anothers_counts_each_sample_once(con, metric):
    col = metric
    rows = con.execute(f"""
        SELECT c.model_id, c.sample_id, x.{col} - c.{col}
        FROM metrics c JOIN metrics x USING (model_id, sample_id)
        WHERE c.condition_id = 0 AND x.condition_id = 3 ORDER BY 1, 2""").fetchall()
    d = {(m, s): v for m, s, v in rows}
    samples = sorted({s for _, s in d})
    xa = np.array([d[(0, s)] for s in samples])
    yb = np.array([d[(1, s)] for s in samples])
    cells = queries.paired_shift_cells(con, metric, 0, 1, 3, [0, 1, 2], bins=7)
    assert cells["n"].sum() == len(samples) == cells["samples"][0]
    assert cells["b_worse"][0] == pytest.approx((yb > xa).mean())
    assert cells["r"][0] == pytest.approx(np.corrcoef(xa, yb)[0, 1])
    width = float((cells["x1"] - cells["x0"]).mean())
    lo = min(cells["x0"].min(), cells["y0"].min())
    for edge in [*cells["x0"], *cells["y0"]]:  # one grid for both axes
        assert (edge - lo) / width == pytest.approx(round((edge - lo) / width), abs=1e-6)


def test_class_pair_boundary_is_where_the_two_logits_tie(con, hand_store):
    _, weights, _ = hand_store
    a, b = 0, 2
    for row in queries.class_pair_boundary(con, [0, 1], a, b).iter_rows(named=True):
        m = ["dense", "pruned"].index(row["model"])
        w = weights[m]
        bias = con.execute("SELECT bias FROM class_directions WHERE model_id = ? ORDER BY class_id",
                           [m]).fetchall()
        u1 = w[a] / np.linalg.norm(w[a])
        u2 = w[b] - (w[b] @ u1) * u1
        u2 /= np.linalg.norm(u2)
        # a point on the line, lifted back into feature space, has z_a == z_b
        x = 0.7
        y = -(row["x_coef"] * x + row["bias_diff"]) / row["y_coef"]
        f = x * u1 + y * u2
        z = w @ f + np.array([v for (v,) in bias])
        assert z[a] == pytest.approx(z[b], abs=1e-9)


def test_corruption_correlation_is_symmetric_with_a_unit_diagonal(synthetic_store):
    con = open_store(synthetic_store)
    corr = queries.corruption_correlation(con, "margin_distance", [0, 1])
    r = {(row["corruption_a"], row["corruption_b"]): row["r"] for row in corr.iter_rows(named=True)}
    names = {a for a, _ in r}
    assert names == {"gaussian_noise", "contrast", "pixelate"}
    for a in names:
        assert r[(a, a)] == 1.0
        for b in names:
            assert r[(a, b)] == pytest.approx(r[(b, a)]) and -1 <= r[(a, b)] <= 1
    assert sorted(corr["order_a"].unique().to_list()) == [0, 1, 2]
    cka = queries.model_similarity(con, 0, [0, 1])
    diag = cka.filter(cka["model_a"] == cka["model_b"])
    assert diag["linear_cka"].to_list() == pytest.approx([1.0, 1.0])
    assert diag["agreement"].to_list() == [1.0, 1.0]
    off = cka.filter(cka["model_a"] != cka["model_b"])["linear_cka"].to_list()
    assert all(0 < v < 1 and not math.isnan(v) for v in off)


@pytest.mark.parametrize("metric", ["margin_distance", "length", "loss"])
@pytest.mark.parametrize("severity", [None, 1, 2])
def test_corruption_correlation_from_stored_moments_equals_the_shifts(hand_store, con, metric,
                                                                        severity):
    """The view pools the per-model moments the build stored; they must give the correlation of
    the per-sample shifts themselves, for every model subset, and so must a version-2 store,
    which has no moments."""
    for models in ([0], [1], [0, 1]):
        fast = queries.corruption_correlation(con, metric, models, severity)
        wide = derived.corruption_shifts(con, metric, models, severity)
        names = [c for c in wide.columns if c not in ("model_id", "sample_id")]
        assert names == ["noise", "blur"]
        want = correlation_matrix(wide.select(names).to_numpy())
        got = {(r["corruption_a"], r["corruption_b"]): r["r"] for r in fast.iter_rows(named=True)}
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                assert got[(a, b)] == pytest.approx(want[i, j], abs=1e-9, nan_ok=True)


def test_a_store_without_moments_computes_the_correlation_from_the_rows(hand_store, tmp_path, con):
    old = tmp_path / "no-moments.duckdb"
    shutil.copy(hand_store[0], old)
    with duckdb.connect(str(old)) as rw:  # what a small cut leaves out
        rw.execute("DELETE FROM shift_moments")
    v2 = open_store(old)
    for models in ([0], [0, 1]):
        live = queries.corruption_correlation(v2, "margin_distance", models)
        stored = queries.corruption_correlation(con, "margin_distance", models)
        assert live.drop("r").equals(stored.drop("r"))  # the same corruptions in the same order
        assert live["r"].to_list() == pytest.approx(stored["r"].to_list(), abs=1e-9)
    v2.close()
    with duckdb.connect(str(old)) as rw:
        rw.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    expected = f"schema version 3, this code reads versions {SCHEMA_VERSION}: rebuild"
    with pytest.raises(StoreError, match=expected):
        open_store(old)


def category(con, name, model=1, condition=2, models=(0, 1), classes=(0, 1, 2), **kw):
    return set(queries.sample_category(con, name, model, condition, list(models), list(classes),
                                       **kw)["sample_id"].to_list())


def test_sample_categories_by_construction(con):
    # wrong sets: dense the first 0,1,2,0,1 samples per condition, pruned the first 1,2,3,1,2
    assert category(con, "pruning-fragile", condition=0) == {0}
    assert category(con, "pruning-fragile", condition=2) == {2}
    assert category(con, "pruning-gain", condition=2) == set()
    assert category(con, "corruption-fragile", condition=2) == {1, 2}
    assert category(con, "corruption-fragile", model=0, condition=4) == {0}
    assert category(con, "always-right") == {3}
    assert category(con, "always-wrong") == {0, 1}
    assert category(con, "always-wrong", condition=3) == set()  # dense right on all there
    assert category(con, "always-wrong", models=(1,)) == {0, 1, 2}  # under condition 2
    assert category(con, "always-wrong", models=(1,), condition=0) == {0}
    assert category(con, "models-disagree", condition=2) == {2}  # same wrong class elsewhere
    assert category(con, "models-disagree", condition=0) == {0}


def test_sample_filters_by_class_and_metric_range(con):
    assert category(con, "corruption-fragile", classes=(1,)) == {1}
    assert category(con, "corruption-fragile", classes=(0,)) == set()
    assert category(con, "corruption-fragile", metric="margin_distance", high=0.0) == {1, 2}
    assert category(con, "corruption-fragile", metric="margin_distance", low=0.0) == set()
    assert category(con, "always-right", metric="confidence", low=0.0, high=1.0) == {3}
    rows = queries.sample_category(con, "pruning-fragile", 1, 2, [0, 1], [0, 1, 2])
    row = rows.row(0, named=True)
    assert (row["label"], row["pred"], row["reference_pred"], row["correct"]) == ("c", "a", "c", False)
    with pytest.raises(ValueError, match="unknown category"):
        queries.sample_category(con, "nonsense", 1, 2, [0], [0])


def test_one_sample_across_models_conditions_and_severities(con):
    table = queries.sample_metrics(con, 2)
    assert len(table) == 2 * 5
    wrong = table.filter(~pl.col("correct"))
    # sample 2 is among the first 3 only where the pruned model errs on 3
    assert list(zip(wrong["model"], wrong["condition"], strict=True)) == [("pruned", "noise-2")]
    path = queries.sample_path(con, 2, "blur")
    assert path.filter(pl.col("model") == "dense")["severity"].to_list() == [0, 1, 2]
    images = queries.sample_images(con, 2)
    assert images["condition"].to_list() == ["clean"]  # no inspection thumbnails in this store
    assert images["image"][0].startswith("data:image/png;base64,")
    export = queries.sample_export(con, [0, 2], [0, 1], 2)
    assert len(export) == 4 and {"angles", "margin_distance", "model", "label"} <= set(export.columns)


def test_mce_and_relative_mce_follow_their_definitions_on_a_stored_build(synthetic_store):
    con = open_store(synthetic_store)
    assert_overview_follows_the_definitions(con)
    con.close()


@settings(max_examples=60, deadline=None)
@example(values=np.array([-89.0] * 3 + [0.0] * 83), bins=2)  # a tie at the quantile: inside
@example(values=np.array([0.0] + [-89.0] * 85), bins=2)  # ...even when it is most of the values
@given(values=hnp.arrays(np.float64, st.integers(3, 300),
                         elements=st.floats(-1e6, 1e6, allow_nan=False, width=32)),
       bins=st.integers(2, 40))
def test_histogram_tails_are_apart_and_every_value_is_counted_once(values, bins):
    """Values beyond the 0.5 / 99.5 % quantiles come as 'below' / 'above' rows spanning what
    they hold, never piled into the edge bins; the bins tile the range between; counts add up."""
    from store.queries.geometry import _histogram

    db = duckdb.connect()
    db.execute("CREATE TABLE models AS SELECT 0 AS model_id, 'm' AS name")
    db.execute("CREATE TABLE v AS SELECT 0 AS model_id, true AS grp, unnest($x)::DOUBLE AS x",
               {"x": values.tolist()})
    hist = _histogram(db, "SELECT model_id, grp, x FROM v", bins)
    assert hist["n"].sum() == len(values)
    assert hist["share"].sum() == pytest.approx(1.0)
    body = hist.filter(pl.col("tail").is_null()).sort("x0")
    lo, hi = np.quantile(values, [0.005, 0.995])
    if hi > lo:
        assert body["x0"].min() >= lo - 1e-6 * max(1, abs(lo))
        assert body["x1"].max() <= hi + 1e-6 * max(1, abs(hi))
        inside = ((values >= lo) & (values <= hi)).sum()
        assert body["n"].sum() == pytest.approx(inside, abs=2)  # quantile rounding at the edges
    for side, keep in (("below", values < lo), ("above", values > hi)):
        tail = hist.filter(pl.col("tail") == side)
        if hi > lo and keep.sum() > 2:
            assert tail.height == 1
            row = tail.row(0, named=True)
            assert row["x0"] <= row["x1"]
            assert (row["x0"], row["x1"]) == pytest.approx(
                (values[keep].min(), lo) if side == "below" else (hi, values[keep].max()), rel=1e-6)


def test_the_harsh_condition_is_the_hardest_where_no_model_is_at_chance(con):
    # Accuracy dense / pruned: noise-1 .75/.5, noise-2 .5/.25, blur-1 1/.75, blur-2 .75/.5; near
    # chance is below .5 (1.5 x 1/3). noise-2 is the hardest but the pruned model is at chance
    # there; noise-1 and blur-2 tie next (mean .625), and the name decides.
    assert queries.harsh_condition(con) == "blur-2"


def test_model_robustness_is_the_overviews_without_reading_the_samples(synthetic_store):
    """The Sweep's light read of mCE and relative mCE equals the Overview's full one."""
    from polars.testing import assert_frame_equal

    with open_store(synthetic_store) as con:
        full = queries.model_overview(con).select("model_id", "clean_accuracy",
                                                  "mean_corruption_accuracy", "mce",
                                                  "relative_mce")
        light = queries.model_robustness(con)
    assert light["mce"].is_not_null().all()
    assert_frame_equal(light, full, check_exact=False, rel_tol=1e-12)


def test_two_models_compared_sample_by_sample_by_construction(con, hand_store):
    """Dense (0) against pruned (1): the discordant counts are the pruning flips, the
    accuracies the stored ones, and each shift the mean and spread over the samples of the
    pruned model's value minus the dense one's, as the raw metric rows give them."""
    every = [0, 1, 2, 3, 4]
    pairs = queries.compare_two(con, 0, 1, every)
    flips = queries.pruning_flips(con, None)
    assert pairs["fragile"].to_list() == flips["fragile"].to_list()
    assert pairs["gain"].to_list() == flips["gain"].to_list()
    grid = queries.accuracy_grid(con)
    for m, col in ((0, "accuracy_a"), (1, "accuracy_b")):
        assert pairs[col].to_list() == grid.filter(pl.col("model_id") == m)["accuracy"].to_list()
    rows = con.sql("SELECT model_id, condition_id, sample_id, length, margin_distance "
                   "FROM metrics ORDER BY ALL").pl()
    for c in every:
        x, y = (rows.filter((pl.col("model_id") == m) & (pl.col("condition_id") == c))
                for m in (0, 1))
        for metric in ("length", "margin_distance"):
            d = (y[metric] - x[metric]).to_numpy()
            d = d[np.isfinite(d)]
            got = pairs.row(c, named=True)
            assert got[f"{metric}_diff"] == pytest.approx(d.mean(), rel=1e-5)
            assert got[f"{metric}_sd"] == pytest.approx(d.std(ddof=1), rel=1e-4)
            assert got[f"{metric}_n"] == len(d)
    assert queries.compare_two(con, 0, 1, [2])["condition"].to_list() == ["noise-2"]
