"""Attacks as conditions (compute/attacks.py), against known answers: a budget of 0 is clean;
every adversarial input stays inside its budget and in [0, 1]; PGD from a fixed start does not
gain accuracy as the budget grows; the stored robust accuracy is what torchattacks itself gives
on the same model, inputs and seed; and a config's mistakes are one line each."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import torch
import torchattacks
from PIL import Image
from streamlit.testing.v1 import AppTest

from compute.attacks import batch_seed
from compute.conditions import resolve_conditions
from compute.config import load_config
from compute.datasets import load_data
from compute.preparation import prepare_models
from tests.compute.conftest import TINY_CONFIG, differences, run_cli, run_main
from tests.conftest import ROOT
from tests.support.pages import open_page

ATTACKS = """
[[conditions.attacks]]
attack = "pgd"
budgets = [0, "1/255", "2/255", "8/255"]
random_start = false

[[conditions.attacks]]
attack = "pgd"
norm = "L2"
mode = "transfer"
budgets = [0.5]
samples = 100
"""
TRANSFER = "SELECT condition_id FROM conditions WHERE name = 'pgd_l2_from_dense-1'"


def with_attacks(text: str, attacks: str = ATTACKS) -> str:
    """The tiny config with `attacks` at the end of its [conditions] table."""
    return text.replace("severities = [1, 5]\n", "severities = [1, 5]\n" + attacks, 1)


RADIUS = """
[radius]
method = "fab"
samples = 40
"""


@pytest.fixture(scope="module")
def attack_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("attacks") / "attacks.toml"
    path.write_text(with_attacks(TINY_CONFIG.replace('"tiny', '"attacks')) + RADIUS)
    result = run_cli("build", str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def store(attack_config: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(attack_config.with_name("attacks.duckdb")), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def prepared(attack_config: Path):
    """The config's models (from the weights the build cached), test set and conditions."""
    cfg = load_config(attack_config)
    data = load_data(cfg.data.source, **cfg.data.options)
    models = prepare_models(cfg, data, torch.device("cpu"))
    return cfg, data.test, models, {c.name: c for c in resolve_conditions(cfg, data.test)}


def accuracy(con: duckdb.DuckDBPyConnection, model: str, condition: str) -> float:
    return con.execute("""SELECT avg(correct::INT) FROM metrics JOIN models USING (model_id)
                          JOIN conditions c USING (condition_id)
                          WHERE models.name = ? AND c.name = ?""", [model, condition]).fetchone()[0]


def test_the_store_records_every_attack_as_it_ran(store):
    rows = store.execute("""SELECT c.name, c.family, c.benchmark, a.attack, a.norm, a.budget,
                                   a.steps, a.mode, s.name, a.samples
                            FROM attacks a JOIN conditions c USING (condition_id)
                            LEFT JOIN models s ON s.model_id = a.source_model_id
                            ORDER BY condition_id""").fetchall()
    assert [r[0] for r in rows] == ["pgd_linf-1", "pgd_linf-2", "pgd_linf-3", "pgd_linf-4",
                                    "pgd_l2_from_dense-1"]
    assert {r[1] for r in rows} == {"adversarial"} and not any(r[2] for r in rows)
    assert [r[5] for r in rows] == pytest.approx([0, 1 / 255, 2 / 255, 8 / 255, 0.5])
    assert rows[-1][7:9] == ("transfer", "dense") and rows[0][7:9] == ("white-box", None)
    assert [r[9] for r in rows] == [450] * 4 + [100]  # the whole test set, or the subset asked
    # The subset: the first 10 of each class in turn, evaluated for every model and nothing else.
    per_class = store.execute(f"""
        SELECT s.label, count(*) FROM metrics m JOIN samples s USING (sample_id)
        WHERE condition_id = ({TRANSFER}) AND model_id = 0 GROUP BY 1""").fetchall()
    assert sorted(n for _, n in per_class) == [10] * 10
    thumbs = store.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE sample_id NOT IN (
            SELECT sample_id FROM metrics WHERE condition_id = ({TRANSFER})))
        FROM condition_thumbnails WHERE condition_id = ({TRANSFER})""").fetchone()
    assert thumbs[0] > 0 and thumbs[1] == 0  # images of attacked samples only


def test_a_budget_of_zero_is_clean_to_the_last_bit(store):
    """An attack allowed no change leaves every input, so every stored metric, as it is clean."""
    columns = [c for (c,) in store.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'metrics' "
        "AND column_name NOT IN ('model_id', 'condition_id', 'sample_id')").fetchall()]
    pairs = store.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {' AND '.join(
            f'a.{c} IS NOT DISTINCT FROM z.{c}' for c in columns)})
        FROM metrics a JOIN metrics z USING (model_id, sample_id)
        WHERE a.condition_id = 0
          AND z.condition_id = (SELECT condition_id FROM conditions WHERE name = 'pgd_linf-1')
    """).fetchone()
    assert pairs[0] == 2 * 450 and pairs[1] == pairs[0]


def test_pgd_from_a_fixed_start_gains_nothing_from_a_larger_budget(store):
    for model in ("dense", "magnitude-80"):
        curve = [accuracy(store, model, f"pgd_linf-{k}") for k in (1, 2, 3, 4)]
        assert curve == sorted(curve, reverse=True), (model, curve)
        assert curve[-1] < curve[0] - 0.3, (model, curve)  # and 8/255 does break the model


def test_every_adversarial_input_stays_inside_its_budget_and_in_range(prepared, store):
    cfg, test, models, conditions = prepared
    for name in ("pgd_linf-3", "pgd_linf-4", "pgd_l2_from_dense-1"):
        condition = conditions[name]
        ids = condition.sample_ids(test)[:200]
        clean = test.images[ids].float() / 255
        for x in condition.inputs(test, ids, 0, torch.device("cpu"), models):
            assert x.min() >= 0 and x.max() <= 1
            delta = (x - clean).flatten(1)
            size = delta.abs().amax(1) if condition.attack.norm == "Linf" else delta.norm(dim=1)
            assert size.max() <= condition.eps + 1e-6, name
            assert size.max() > 0.5 * condition.eps, name  # the attack does use its budget
    # The transfer's stored images are the inputs every model was given, as PNG.
    transfer = conditions["pgd_l2_from_dense-1"]
    stored = store.execute("""SELECT sample_id, thumbnail FROM condition_thumbnails
                              WHERE condition_id = ? ORDER BY sample_id""",
                           [transfer.condition_id]).fetchall()
    assert stored
    kept = torch.tensor([s for s, _ in stored])
    inputs = transfer.shared_images(test, kept, torch.device("cpu"), models,
                                    cfg.evaluation.batch_size)
    pngs = np.stack([np.asarray(Image.open(io.BytesIO(t))) for _, t in stored])
    expected = (inputs * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(pngs, expected)


def test_the_stored_robust_accuracy_is_what_torchattacks_gives_directly(prepared, store):
    """The library's own attack, called by hand on the same model, batches and seed."""
    cfg, test, models, conditions = prepared
    batch = cfg.evaluation.batch_size
    for name, make in (
        ("pgd_linf-3", lambda m, eps: torchattacks.PGD(m, eps=eps, alpha=2.5 * eps / 10, steps=10,
                                                       random_start=False)),
        ("pgd_l2_from_dense-1", lambda m, eps: torchattacks.PGDL2(m, eps=eps, alpha=2.5 * eps / 10,
                                                                  steps=10, random_start=True)),
    ):
        condition = conditions[name]
        for m in models:
            attacked = m if condition.per_model else models[0]  # the transfer's source: dense
            right, ids = 0, condition.sample_ids(test)
            for start in range(0, len(ids), batch):
                x = test.images[ids[start:start + batch]].float() / 255
                y = test.labels[ids[start:start + batch]]
                torch.manual_seed(batch_seed(cfg.seed, condition.condition_id, start))
                adversarial = make(attacked.probe, condition.eps)(x, y)
                with torch.no_grad():
                    right += (m.probe(adversarial).argmax(1) == y).sum().item()
            assert right / len(ids) == accuracy(store, m.spec.name, name), (name, m.spec.name)


def test_the_attacks_page_draws_the_stored_curves_beside_the_reference(attack_config, store,
                                                                       monkeypatch):
    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("views/attacks.py").run()
    assert not at.exception, at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    # A curve per attack; the transfer at one budget is two points (clean and attacked), not a
    # line through budgets nothing measured.
    assert [c["mark"]["type"] for c in charts] == ["line", "point"]
    table = at.dataframe[0].value.set_index(["attack_name", "budget_label"])
    row = table.loc[("pgd_linf", "8/255")]
    assert row["model"] == "magnitude-80" and row["reference"] == "dense"
    pruned, dense = (accuracy(store, m, "pgd_linf-4") for m in ("magnitude-80", "dense"))
    assert row["accuracy"] == pytest.approx(100 * pruned)
    assert row["change_vs_reference"] == pytest.approx(100 * (pruned - dense))
    # Budget 0 of the transfer, which lists no 0, is the clean accuracy of the samples attacked.
    subset = store.execute(f"""SELECT avg(correct::INT) FROM metrics WHERE model_id = 1
        AND condition_id = 0 AND sample_id IN (SELECT sample_id FROM metrics
                                               WHERE condition_id = ({TRANSFER}))""").fetchone()[0]
    assert subset != accuracy(store, "magnitude-80", "clean")
    assert table.loc[("pgd_l2_from_dense", "0 (clean)"), "accuracy"] == pytest.approx(100 * subset)


def test_the_overview_averages_the_attacks_the_attacks_page_draws(attack_config, store,
                                                                   monkeypatch):
    """The adversarial family in the Overview's table: per model, the mean of the accuracies the
    Attacks page draws at every budget above 0, and its change from the dense reference's."""
    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    (overview,) = [d.value.set_index("model") for d in at.dataframe
                   if "mean_attack_accuracy" in d.value.columns]
    assert "mean_attack_accuracy" not in at.dataframe[0].value.columns  # a table of its own
    at.switch_page("views/attacks.py").run()
    curves = at.dataframe[0].value  # each pruned model beside its reference, in %
    curves = curves[(curves["budget_label"] != "0 (clean)") & (curves["mode"] == "white-box")]
    assert len(curves) == 3  # PGD at its three budgets above 0; the transfer is left out
    mine, dense = curves["accuracy"].mean(), curves["reference_accuracy"].mean()
    assert overview.loc["magnitude-80", "mean_attack_accuracy"] == pytest.approx(mine)
    assert overview.loc["dense", "mean_attack_accuracy"] == pytest.approx(dense)
    assert overview.loc["magnitude-80", "reference_attack_accuracy"] == pytest.approx(dense)
    assert overview.loc["magnitude-80", "attack_change"] == pytest.approx(mine - dense)
    assert np.isnan(overview.loc["dense", "attack_change"])  # no reference of its own


def test_the_radius_is_0_where_the_model_is_wrong_and_the_size_fab_finds_elsewhere(prepared,
                                                                                     store):
    """Each stored radius is the L2 size of the perturbation torchattacks' FAB, called by hand
    (unbounded, one restart, the config's steps and seed), finds, and it does flip the model."""
    cfg, test, models, _ = prepared
    for m in models:
        rows = store.execute("""
            SELECT r.sample_id, r.radius, mt.correct FROM radii r
            JOIN metrics mt ON mt.model_id = r.model_id AND mt.sample_id = r.sample_id
                           AND mt.condition_id = 0
            WHERE r.model_id = ? ORDER BY r.sample_id""", [m.model_id]).fetchall()
        assert len(rows) == 40
        ids = torch.tensor([r[0] for r in rows])
        stored = np.array([np.nan if r[1] is None else r[1] for r in rows])
        right = np.array([r[2] for r in rows])
        assert (stored[~right] == 0).all() and (stored[right] > 0).all()
        x, y = test.images[ids].float() / 255, test.labels[ids]
        fab = torchattacks.FAB(m.probe, norm="L2", eps=1e6, steps=cfg.radius.steps, n_restarts=1,
                               n_classes=10, seed=cfg.radius.seed)
        adversarial = fab(x, y)
        with torch.no_grad():
            flipped = (m.probe(adversarial).argmax(1) != y).numpy()
        size = (adversarial - x).flatten(1).double().norm(dim=1).numpy()
        assert flipped[right].all()
        np.testing.assert_allclose(stored, np.where(flipped, size, np.nan), rtol=1e-6)


def test_a_channels_last_batch_gets_the_same_attack_and_radius(prepared):
    """torchattacks `.view`s its inputs (FAB fails on a permuted batch): the memory layout of the
    images handed in must change nothing."""
    from compute.attacks import AttackSpec, perturb
    from compute.radius import RadiusSpec, radii

    _, test, models, _ = prepared
    probe = models[0].probe
    x, y = test.images[:8].float() / 255, test.labels[:8]
    permuted = x.to(memory_format=torch.channels_last)
    assert not permuted.is_contiguous()
    spec = RadiusSpec(steps=5)
    np.testing.assert_array_equal(radii(probe, spec, permuted, y), radii(probe, spec, x, y))
    pgd = AttackSpec(attack="pgd", budgets=(8 / 255,))
    assert torch.equal(perturb(probe, pgd, 8 / 255, permuted, y, 10, seed=3),
                       perturb(probe, pgd, 8 / 255, x, y, 10, seed=3))


def test_the_margins_view_correlates_the_two_margins_as_scipy_does(attack_config, store,
                                                                    monkeypatch):
    import scipy.stats

    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.query_params.clear()
    at.query_params["view"] = "Margins"  # a link to the tab
    at.switch_page("views/attacks.py").run()
    assert not at.exception, at.exception
    summary = at.dataframe[0].value.set_index("model")
    for model_id, name in ((0, "dense"), (1, "magnitude-80")):
        margin, radius = zip(*store.execute("""
            SELECT mt.margin_distance, r.radius FROM radii r
            JOIN metrics mt ON mt.model_id = r.model_id AND mt.sample_id = r.sample_id
                           AND mt.condition_id = 0
            WHERE r.model_id = ? AND mt.correct""", [model_id]).fetchall(), strict=True)
        rho = scipy.stats.spearmanr(margin, radius).statistic
        assert summary.loc[name, "spearman"] == pytest.approx(rho, abs=1e-9)
        assert summary.loc[name, "found"] == len(radius)
    assert len(at.get("vega_lite_chart")) == 1  # the scatter, a panel per model
    at.query_params["view"] = "Attacks and corruptions"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="overlap_severity").value == "5"  # the harshest by default
    assert len(at.get("vega_lite_chart")) == 1


def test_attacks_stay_out_of_what_averages_corruptions(attack_config, store, monkeypatch):
    """An attack's severity is its budget's rank: averaging it with corruptions, or two attacks
    at one rank, would mean nothing. Pages that compare models on one input say when a white-box
    attack gave each model its own."""
    from store import queries

    assert "adversarial" not in set(queries.accuracy_by_family(store)["family"])
    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.query_params.clear()
    at.query_params["condition"] = "pgd_linf-3"
    at.switch_page("views/similarity.py").run()
    assert not at.exception, at.exception
    assert any("white-box attack" in i.value for i in at.info)
    at.selectbox(key="condition").set_value("pgd_l2_from_dense-1").run()
    assert not any("white-box attack" in i.value for i in at.info)  # a transfer: same inputs
    at.selectbox(key="condition").set_value("all corrupted conditions").run()
    assert not at.exception and not any("white-box attack" in i.value for i in at.info)


def test_the_overlap_of_what_attacks_and_corruptions_break_counts_the_same_samples(store):
    """Every cell recomputed from the raw rows with Python sets."""
    from store import queries

    rows = store.execute("""SELECT m.model_id, c.name, c.corruption, c.family, c.severity,
                                   m.sample_id, m.correct
                            FROM metrics m JOIN conditions c USING (condition_id)
                            WHERE m.model_id = 1""").fetchall()
    right = {r[5] for r in rows if r[1] == "clean" and r[6]}
    broken = {}
    for _, name, corruption, family, severity, sample, correct in rows:
        if sample in right and not correct and severity > 0:
            key = name if family == "adversarial" else (corruption, severity)
            broken.setdefault(key, set()).add(sample)
    for severity in (5, None):
        cells = queries.broken_overlap(store, 1, severity)
        assert len(cells) == 5 * 3  # attack conditions x corruptions
        for cell in cells.iter_rows(named=True):
            a = broken.get(cell["attack"], set())
            c = set().union(*(v for k, v in broken.items() if isinstance(k, tuple)
                              and k[0] == cell["corruption"] and severity in (None, k[1])))
            assert (cell["attacked"], cell["corrupted"], cell["both"]) == (len(a), len(c),
                                                                           len(a & c))
            assert cell["right_clean"] == len(right)
            if a and c:
                assert cell["lift"] == pytest.approx(len(a & c) / (len(a) * len(c) / len(right)))
                assert cell["jaccard"] == pytest.approx(len(a & c) / len(a | c))


def test_a_killed_build_resumes_to_the_same_attacked_rows(attack_config, tmp_path):
    """Killed part way through its conditions, the rerun resumes, and every attack's rows and every
    radius equal the uninterrupted build's to the bit: the random starts are seeded per batch."""
    config = tmp_path / "attacks.toml"
    shutil.copy(attack_config, config)
    shutil.copytree(attack_config.parent / "checkpoints", tmp_path / "checkpoints")
    proc = subprocess.Popen([sys.executable, "-m", "compute", "build", str(config)], cwd=ROOT,
                            stderr=subprocess.PIPE)
    seen, part_way = b"", re.compile(rb"\b([8-9]|1[01])/12\b")  # into the attacks
    while not part_way.search(seen):
        chunk = proc.stderr.read1(4096)
        assert chunk, f"the build ended before it could be interrupted: {seen[-500:]!r}"
        seen += chunk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert config.with_name("attacks.duckdb.partial").exists()
    result = run_cli("build", str(config))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming" in result.stderr
    con = duckdb.connect()
    con.execute(f"ATTACH '{attack_config.with_name('attacks.duckdb')}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{config.with_name('attacks.duckdb')}' AS b (READ_ONLY)")
    rows, same = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE x.length = y.length AND x.pred = y.pred
                                          AND x.margin_distance = y.margin_distance)
        FROM a.metrics_named x JOIN b.metrics_named y USING (model, condition, sample_id)
        WHERE x.family = 'adversarial'""").fetchone()
    assert rows == 2 * (4 * 450 + 100) and same == rows
    assert con.execute("""SELECT count(*) FROM a.radii x JOIN b.radii y USING (model_id, sample_id)
                          WHERE x.radius IS NOT DISTINCT FROM y.radius""").fetchone()[0] == 80


def test_a_ray_build_gives_the_same_attacked_rows_and_radii(attack_config, tmp_path):
    """The Ray engine runs each attack condition and each model's radius search as its own task;
    on the build's thread count it gives the in-process store's rows, to float tolerance."""
    out = tmp_path / "ray.duckdb"
    result = run_cli("build", str(attack_config), "--engine", "ray", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    diff = differences(attack_config.with_name("attacks.duckdb"), out)
    assert diff.pop("missing") == 0 and diff.pop("pred") == 0 and diff.pop("correct") == 0
    assert all(v <= 1e-6 for v in diff.values()), diff
    con = duckdb.connect()
    con.execute(f"ATTACH '{attack_config.with_name('attacks.duckdb')}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{out}' AS b (READ_ONLY)")
    radii = con.execute("""SELECT x.radius, y.radius FROM a.radii x
                           FULL JOIN b.radii y USING (model_id, sample_id)""").fetchall()
    assert len(radii) == 2 * 40  # two models, the 40 samples of RADIUS
    mine, ray = (np.array([np.nan if r[i] is None else r[i] for r in radii]) for i in (0, 1))
    np.testing.assert_allclose(ray, mine, rtol=1e-6)
    assert con.execute("SELECT * FROM a.attacks EXCEPT SELECT * FROM b.attacks").fetchall() == []


def test_a_sample_shows_a_transfers_image_beside_its_perturbation(attack_config, store,
                                                                     monkeypatch):
    sample = store.execute(f"""
        SELECT t.sample_id FROM condition_thumbnails t
        JOIN metrics a ON a.sample_id = t.sample_id AND a.condition_id = t.condition_id
        JOIN metrics c ON c.sample_id = t.sample_id AND c.condition_id = 0
                      AND c.model_id = a.model_id
        WHERE t.condition_id = ({TRANSFER}) AND a.model_id = 0 AND c.correct AND NOT a.correct
        ORDER BY 1 LIMIT 1""").fetchone()[0]
    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.query_params.clear()  # a link to the sample, as a browser opens it
    at.query_params.update(category="corruption-fragile", model="dense",
                           condition="pgd_l2_from_dense-1", sample=str(sample))
    at.switch_page("views/samples.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="sample").value == sample
    captions = [i.caption for image in at.get("image") for i in image.proto.imgs]
    assert any("− clean, ×10" in c for c in captions), captions
    assert any("white-box attack conditions" in c.value for c in at.caption)


def test_a_plan_prices_attacks_by_their_gradient_steps(attack_config):
    result = run_main("plan", str(attack_config), "--json")
    assert result.returncode == 0, result.stderr
    seconds = {u["name"]: u["seconds"] for u in json.loads(result.stdout)["units"]
               if u["kind"] == "evaluate"}
    # Ten steps of a forward and a backward on both models cost more than a corruption.
    assert seconds["pgd_linf-4"] > 5 * seconds["contrast-5"]
    assert seconds["pgd_l2_from_dense-1"] < seconds["pgd_linf-4"]  # one model attacked


@pytest.mark.parametrize("table, message", [
    ('attack = "fgsm"\nbudgets = [0.1]',
     "'attack' in [[conditions.attacks]] number 1 must be pgd or autoattack"),
    ('attack = "pgd"\nbudgets = ["8/0"]', "budget '8/0' in [[conditions.attacks]] must be a number"),
    ('attack = "pgd"\nbudgets = [2]', "must be a non-empty list of distinct budgets in [0, 1]"),
    ('attack = "pgd"\nbudgets = [0.1, 0.1]', "must be a non-empty list of distinct budgets"),
    ('attack = "pgd"\nnorm = "L1"\nbudgets = [0.1]',
     "'norm' in [[conditions.attacks]] number 1 must be Linf or L2"),
    ('attack = "pgd"\nbudgets = [0.1]\nsource = "dense"', "applies to mode = \"transfer\" only"),
    ('attack = "pgd"\nbudgets = [0.1]\nmode = "transfer"\nsource = "nope"',
     "names 'nope', which is not a model of this config"),
    ('attack = "pgd"\nbudgets = [0.1]\n\n[[conditions.attacks]]\nattack = "pgd"\nbudgets = [0.2]',
     "two [[conditions.attacks]] tables are both 'pgd_linf'"),
    ('attack = "pgd"\nbudget = [0.1]', "did you mean 'budgets'?"),
    ('attack = "pgd"\nbudgets = [0.1]\n\n[radius]\nmethod = "deepfool"\nnorm = "Linf"',
     "method = \"deepfool\" measures L2 only"),
    ('attack = "pgd"\nbudgets = [0.1]\n\n[radius]\nmethod = "cw"',
     "'method' in [radius] must be fab or deepfool"),
])
def test_a_bad_attack_table_is_one_line_and_exit_2(tmp_path, table, message):
    path = tmp_path / "bad.toml"
    path.write_text(with_attacks(TINY_CONFIG, "\n[[conditions.attacks]]\n" + table + "\n"))
    result = run_main("build", str(path))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_heatmaps_name_each_attack_with_its_budget(attack_config, store, monkeypatch):
    """An attack's severity is its budget's rank: at severity 1 the PGD column is budget 0 and the
    transfer's 0.5 in L2. The Overview's and Pruning page's heatmaps say which, not "severity 1"."""
    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["severity"] = "2"
    at.run()
    assert not at.exception, at.exception
    heatmap = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    columns = heatmap["layer"][0]["encoding"]["x"]["sort"]
    assert "pgd_linf at 1/255" in columns and "pgd_l2_from_dense" not in " ".join(columns)
    at.selectbox(key="severity").set_value("mean").run()
    columns = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"][0]["encoding"]["x"]["sort"]
    assert {"pgd_linf, mean 0 (clean) to 8/255", "pgd_l2_from_dense at 0.5"} <= set(columns)
    at.query_params.clear()
    at.switch_page("views/pruning.py").run()
    at.selectbox(key="severity").set_value("4").run()
    assert not at.exception, at.exception
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 2  # the change and what pruning breaks, both per corruption
    assert all("pgd_linf at 8/255" in s["layer"][0]["encoding"]["x"]["sort"] for s in specs)


def test_a_low_accuracy_under_attack_is_never_faded_as_near_chance(store):
    """Near chance marks a corruption that broke a model, where its change says little; under
    attack a low accuracy is what is measured (PGD at 8/255 leaves well under chance)."""
    from store import queries

    chance = queries.NEAR_CHANCE / 10  # ten classes
    assert accuracy(store, "magnitude-80", "pgd_linf-4") < chance  # something to fade
    for severity in (None, 4):  # the mean over budgets takes that one in
        changes = queries.change_vs_dense(store.cursor(), severity)
        attacked = changes.filter(pl.col("family") == "adversarial")
        assert attacked["chance"].is_null().all() and not attacked["chance_everywhere"].any()
    flips = queries.pruning_flips(store.cursor(), 4)
    assert flips.filter(pl.col("condition") == "pgd_linf-4")["chance"].is_null().all()


def test_a_store_of_attacks_alone_opens_each_page_on_something_to_see(attack_config, tmp_path,
                                                                       monkeypatch):
    """The CIFAR-10 attacks build has no corruption: every page opens on an attack (the smallest
    budget for Geometry, where a larger one leaves no sample right), or says what is missing."""
    path = tmp_path / "attacks-only.duckdb"
    shutil.copy(attack_config.with_name("attacks.duckdb"), path)
    with duckdb.connect(str(path)) as con:
        gone = "(SELECT condition_id FROM conditions WHERE family NOT IN ('clean', 'adversarial'))"
        for (table,) in con.execute("""SELECT DISTINCT c.table_name FROM duckdb_columns() c
                                       JOIN duckdb_tables() t USING (table_name)
                                       WHERE c.column_name = 'condition_id'""").fetchall():
            con.execute(f"DELETE FROM {table} WHERE condition_id IN {gone}")
    monkeypatch.setenv("RLE_STORE", str(path))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    # The Overview: no columns of dashes nor panels for the corruption measures it cannot have.
    assert not {"mean_corruption_accuracy", "mce", "relative_mce"} & set(at.dataframe[0].value)
    assert not [e for e in at.expander if e.label.startswith("Relative mCE")]
    assert any("mCE are undefined" in c.value for c in at.caption)
    assert open_page(at, "geometry.py").selectbox(key="condition").value == "pgd_linf-1"
    open_page(at, "pruning.py")
    assert at.selectbox(key="corruption").value == "pgd_linf"
    assert at.dataframe[0].value["model"].to_list() == ["magnitude-80"]  # ranked, not empty
    open_page(at, "attacks.py", view="Attacks and corruptions")
    assert any("has no corruption to compare" in i.value for i in at.info)


def test_attack_conditions_carry_their_budget_and_their_caveats(attack_config, store,
                                                                monkeypatch):
    """Pickers name an attack condition with its budget (its number is only a rank); a transfer
    crafted on the dense reference is marked where a pruned model's change is read against it;
    a low accuracy under attack draws no near-chance line; the overlap's picks are in its link."""
    from app.attacks import TRANSFER_NOTE

    monkeypatch.setenv("RLE_STORE", str(attack_config.with_name("attacks.duckdb")))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()

    open_page(at, "geometry.py", condition="pgd_linf-4", models=["dense", "magnitude-80"])
    assert "pgd_linf-4 (8/255)" in at.selectbox(key="condition").options
    assert accuracy(store, "magnitude-80", "pgd_linf-4") < 0.15  # under 1.5 x chance
    assert not [w.value for w in at.warning if w.value.startswith("Near chance under")]
    open_page(at, "pruning.py", corruption="pgd_l2_from_dense")
    assert any("pgd_l2_from_dense" in c.value and "crafted on the dense reference" in c.value
               for c in at.caption)
    (cells,) = [pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all())
                for d in at.get("vega_lite_chart")[0].proto.datasets]  # the change heatmap's
    cells = cells.filter(pl.col("corruption").cast(pl.String).str.starts_with("pgd_l2_from_dense"))
    assert len(cells) and all(TRANSFER_NOTE in note for note in cells["chance"])
    open_page(at, "attacks.py", view="Attacks and corruptions", overlap_model="magnitude-80",
              overlap_severity="1")
    assert at.selectbox(key="overlap_model").value == "magnitude-80"
    assert at.selectbox(key="overlap_severity").value == "1"
