"""A tiny end-to-end build through the CLI, and the identities every stored row must satisfy."""

import hashlib
import re
import shutil
import signal
import subprocess
import sys
import tomllib

import duckdb
import numpy as np
import pytest

from compute.corruptions import select
from store import open_store, queries
from tests.compute.conftest import ROOT, run_cli
from tests.support.measures import assert_overview_follows_the_definitions

TABLES = {"meta", "models", "classes", "class_directions", "class_pairs", "conditions", "samples",
          "metrics", "model_similarity", "condition_thumbnails"}


def test_store_holds_the_contract_tables(built_store):
    con = open_store(built_store)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables >= TABLES
    n_samples = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    assert n_samples == 450  # a quarter of the 1,797 digits
    # clean + every corruption x severity and every attack x budget the stored config asked for,
    # every model, each sample once.
    config = tomllib.loads(con.execute("SELECT value FROM meta WHERE key = 'config_toml'").fetchone()[0])
    asked = config["conditions"]
    n_conditions = con.execute("SELECT count(*) FROM conditions").fetchone()[0]
    assert n_conditions == (1 + len(select(asked["corruptions"])) * len(asked["severities"])
                            + sum(len(a["budgets"]) for a in asked.get("attacks", [])))
    n_models = con.execute("SELECT count(*) FROM models").fetchone()[0]
    assert n_models == len(config["models"])
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == n_models * n_conditions * n_samples
    dupes = con.execute("""SELECT count(*) FROM (SELECT model_id, condition_id, sample_id
                           FROM metrics GROUP BY ALL HAVING count(*) > 1)""").fetchone()[0]
    assert dupes == 0
    # linear CKA for every ordered pair of models under every condition, 1 on the diagonal
    n_cka, bad_diagonal = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE model_a = model_b AND abs(linear_cka - 1) > 1e-9)
        FROM model_similarity""").fetchall()[0]
    assert (n_cka, bad_diagonal) == (n_models * n_models * n_conditions, 0)
    png = con.execute("SELECT thumbnail FROM samples LIMIT 1").fetchone()[0]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def assert_listed_samples_have_their_images(con) -> int:
    """Every sample the Samples page shows first (its grid) under a corrupted condition has its
    corrupted image, for every list and model, under every corruption at its strongest severity
    (one code path per condition: checking all 95 of the demo's took 23 s); returns how many
    lists were checked."""
    per_list = int(con.execute("SELECT value FROM meta WHERE key = 'listed_thumbnails'").fetchone()[0])
    models = con.execute("SELECT model_id, reference_model_id FROM models").fetchall()
    all_models = [m for m, _ in models]
    classes = [c for (c,) in con.execute("SELECT class_id FROM classes").fetchall()]
    checked = 0
    for (condition,) in con.execute("SELECT condition_id FROM conditions WHERE severity = "
                                    "(SELECT max(severity) FROM conditions)").fetchall():
        for model, reference in models:
            lists = ["corruption-fragile"]
            if reference is not None:
                lists += ["pruning-fragile", "pruning-gain", "pruning-identified"]
            for category in lists:
                shown = queries.sample_category(con, category, model, condition, all_models, classes)
                first = shown.head(per_list)
                assert first["corrupted"].is_not_null().all(), (category, model, condition)
                checked += 1
    return checked


def test_the_samples_each_list_shows_first_keep_their_corrupted_images(built_store):
    con = open_store(built_store)
    assert assert_listed_samples_have_their_images(con) > 0
    # The inspection subset keeps its images under every corrupted condition (but the white-box
    # attacks', where each model saw its own).
    per_condition = con.execute("""SELECT min(n) FROM (SELECT sample_id, count(*) AS n
                                   FROM condition_thumbnails GROUP BY sample_id)""").fetchone()[0]
    corrupted = con.execute("""SELECT count(*) FROM conditions WHERE severity > 0 AND condition_id
                               NOT IN (SELECT condition_id FROM attacks WHERE mode = 'white-box')
                            """).fetchone()[0]
    full = con.execute("""SELECT count(*) FROM (SELECT sample_id FROM condition_thumbnails
                          GROUP BY sample_id HAVING count(*) = ?)""", [corrupted]).fetchone()[0]
    config = tomllib.loads(con.execute("SELECT value FROM meta WHERE key = 'config_toml'").fetchone()[0])
    assert full >= config["conditions"].get("thumbnails", 40) and per_condition >= 1


def test_models_record_measured_sparsity_and_reference(built_store):
    con = open_store(built_store)
    rows = con.execute("""SELECT name, method, target_sparsity, sparsity, reference_model_id,
                                 clean_accuracy, params_nonzero, params_total, checkpoint_sha256
                          FROM models ORDER BY model_id""").fetchall()
    dense, *pruned = rows
    assert dense[1] == "dense" and dense[3] == 0.0 and dense[4] is None
    assert pruned, "the configs prune at least one model"
    for name, _method, target, sparsity, reference, accuracy, nonzero, total, _sha in pruned:
        # Measured from the weights the forward pass uses, not copied from the config.
        assert abs(sparsity - target) < 0.005, name
        assert reference == 0 and nonzero < total, name
        assert accuracy > 0.5, name  # every model learned something, even in a few epochs
    assert all(len(r[8]) == 64 for r in rows)


def test_the_demo_trains_all_seven_methods_above_70_percent(demo_store):
    con = open_store(demo_store)
    rows = con.execute("SELECT method, clean_accuracy FROM models ORDER BY model_id").fetchall()
    assert [m for m, _ in rows] == ["dense", "magnitude", "gmp", "ltr", "random", "snip",
                                    "edgepopup", "biprop"]
    assert all(accuracy > 0.70 for _, accuracy in rows), rows


def test_the_demo_overview_gives_mce_and_relative_mce_as_published(demo_store):
    """Recomputed from the demo's raw per-sample rows, the Overview's mCE and relative mCE are
    Hendrycks and Dietterich's; the demo's dense reference barely degrades under some corruptions,
    so the unstable case is exercised on real data too."""
    con = open_store(demo_store)
    assert_overview_follows_the_definitions(con)
    assert queries.reference_degradation(con)["unstable"].any()
    con.close()


def test_every_row_rebuilds_its_logits_from_stored_columns(built_store):
    """||W_k|| * length * cos(angles[k]) + b_k gives logits whose margin is the stored one."""
    con = open_store(built_store)
    norms = {}
    for model_id, class_id, norm, bias in con.execute(
            "SELECT model_id, class_id, weight_norm, bias FROM class_directions").fetchall():
        norms.setdefault(model_id, {})[class_id] = (norm, bias)
    data = con.execute("""SELECT m.model_id, m.length, m.angles, m.logit_margin, m.margin_distance,
                                 m.correct, m.pred, s.label
                          FROM metrics m JOIN samples s USING (sample_id)""").fetchnumpy()
    assert not any(a is None for a in data["angles"])  # no zero features in trained models
    angles = np.stack(data["angles"]).astype(np.float64)
    labels = data["label"].astype(int)
    for model_id, dirs in norms.items():
        sel = data["model_id"] == model_id
        w = np.array([dirs[k][0] for k in sorted(dirs)])
        b = np.array([dirs[k][1] for k in sorted(dirs)])
        z = w * data["length"][sel, None] * np.cos(np.radians(angles[sel])) + b
        rows = np.arange(sel.sum())
        y = labels[sel]
        others = z.copy()
        others[rows, y] = -np.inf
        margin = z[rows, y] - others.max(axis=1)
        stored = data["logit_margin"][sel]
        scale = np.maximum(1.0, np.abs(z).max(axis=1))
        assert np.all(np.abs(margin - stored) <= 1e-3 * scale)
        assert np.array_equal(z.argmax(axis=1), data["pred"][sel])
    assert np.array_equal(data["margin_distance"] > 0, data["correct"])


def test_rebuild_reuses_trained_checkpoints_and_gives_the_same_store(tiny_store, tmp_path):
    out = tmp_path / "again.duckdb"
    config = tiny_store.with_name("tiny.toml")
    # On one thread, where the first build ran on every core: torch splits its sums differently.
    result = run_cli("build", str(config), "--out", str(out), "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "training" not in result.stderr  # both checkpoints matched their recipes
    assert open_store(out).execute("SELECT value FROM meta WHERE key = 'threads'").fetchone() == ("1",)
    assert_same_metrics(open_store(out), open_store(tiny_store))


def assert_same_metrics(a, b):
    """Two stores of one config: the same rows, `pred` and `correct` identical, every float
    within 1e-5 (relative, or absolute near 0): what torch's kernels promise run to run."""
    query = "SELECT * FROM metrics ORDER BY model_id, condition_id, sample_id"
    left, right = a.execute(query).fetchnumpy(), b.execute(query).fetchnumpy()
    assert left.keys() == right.keys()
    for column in left:
        x, y = left[column], right[column]
        assert len(x) == len(y), column
        if column == "angles":
            x, y = np.stack(x), np.stack(y)
        if np.issubdtype(x.dtype, np.floating):
            assert np.allclose(x, y, rtol=1e-5, atol=1e-5, equal_nan=True), column
        else:
            assert np.array_equal(x, y), column


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_half_way_leaves_the_old_store_intact_and_the_rerun_resumes(tiny_store, tmp_path):
    config = tmp_path / "tiny.toml"
    shutil.copy(tiny_store.with_name("tiny.toml"), config)
    shutil.copytree(tiny_store.parent / "checkpoints", tmp_path / "checkpoints")
    target = tmp_path / "tiny.duckdb"
    shutil.copy(tiny_store, target)  # the "existing store" the user already has
    # A different config (so it is a new build, not a no-op): more conditions than the old store.
    config.write_text(config.read_text().replace("severities = [1, 5]", "severities = [1, 2, 3, 4, 5]"))
    before = sha(target)
    proc = subprocess.Popen([sys.executable, "-m", "compute", "build", str(config)], cwd=ROOT,
                            stderr=subprocess.PIPE)
    seen = b""
    # Two to fifteen of the 16 conditions done: the build is part way. (tqdm redraws at most every
    # 0.1 s, so a fast build may never print one particular count.)
    part_way = re.compile(rb"\b([2-9]|1[0-5])/16\b")
    while not part_way.search(seen):
        chunk = proc.stderr.read1(4096)
        assert chunk, f"the build ended before it could be interrupted: {seen[-500:]!r}"
        seen += chunk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert sha(target) == before
    assert open_store(target).execute("SELECT count(*) FROM metrics").fetchone()[0] > 0
    partial = target.with_name(target.name + ".partial")
    assert partial.exists()
    with duckdb.connect(str(partial), read_only=True) as con:
        done = con.execute("SELECT count(DISTINCT condition_id) FROM metrics").fetchone()[0]
    assert 0 < done < 16
    result = run_cli("build", str(config))
    assert result.returncode == 0, result.stderr
    con = open_store(target)
    assert con.execute("SELECT count(*) FROM conditions").fetchone()[0] == 16
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 2 * 16 * 450
    assert not partial.exists()
    assert_listed_samples_have_their_images(con)  # the resumed conditions' lists too


@pytest.mark.parametrize("cuda", [True, False])
def test_auto_takes_cuda_exactly_when_torch_sees_it(monkeypatch, cuda):
    import torch

    from compute.devices import resolve_device
    from compute.errors import UserError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto").type == ("cuda" if cuda else "cpu")
    assert resolve_device("cpu").type == "cpu"
    if cuda:
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(UserError, match="sees no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        resolve_device("tpu")
