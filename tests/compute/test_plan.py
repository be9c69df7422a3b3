"""`python -m compute plan`: the models, conditions and work units a build will run, and what is
already done, without running anything; and a sweep built for real records its coordinates."""

import json
import re
import subprocess
import sys

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from compute.inspection import exemplar_masks, modal
from compute.plan import Unit, makespan
from tests.compute.conftest import run_cli, run_main


def plan_of(config) -> dict:
    result = run_main("plan", str(config), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_plan_lists_the_sweep_and_its_units_before_a_build(sweep_config, tmp_path):
    plan = run_cli("plan", str(sweep_config), "--checkpoints", str(tmp_path / "none"))
    assert plan.returncode == 0, plan.stderr
    text = plan.stdout
    for name in ("dense-s1", "dense-s2", "magnitude-50-s1", "magnitude-90-s2"):
        assert name in text
    assert "work units: 6 train (0 cached), 3 evaluate (18 (model, condition) pairs" in text
    assert "metric rows: 8,100" in text and "nothing was run" in text
    assert not (tmp_path / "none").exists()  # nothing trained, nothing cached
    assert not sweep_config.with_name("tiny-sweep.duckdb.partial").exists()


def test_after_a_build_the_plan_has_nothing_left_but_the_store_commit(sweep_store, sweep_config):
    plan = plan_of(sweep_config)
    units = {(u["kind"], u["name"]): u for u in plan["units"]}
    assert all(u["done"] for u in units.values() if u["kind"] == "train")
    # Each pruned model waits for its own seed's dense model.
    assert units[("train", "magnitude-90-s2")]["after"] == ["train:dense-s2"]
    assert set(units[("evaluate", "clean")]["after"]) == {f"train:{m['name']}" for m in plan["models"]}
    assert plan["metric_rows"] == 6 * 3 * 450


def test_a_built_sweep_records_recipe_seed_and_each_seeds_reference(sweep_store):
    with duckdb.connect(str(sweep_store), read_only=True) as con:
        rows = con.execute("""
            SELECT m.name, m.recipe, m.seed, m.target_sparsity, r.name, m.sparsity
            FROM models m LEFT JOIN models r ON r.model_id = m.reference_model_id
            ORDER BY m.model_id""").fetchall()
        summaries = con.execute("SELECT count(*), min(n) FROM summaries").fetchall()[0]
    assert [r[:5] for r in rows] == [
        ("dense-s1", "dense", 1, None, None), ("dense-s2", "dense", 2, None, None),
        ("magnitude-50-s1", "magnitude", 1, 0.5, "dense-s1"),
        ("magnitude-50-s2", "magnitude", 2, 0.5, "dense-s2"),
        ("magnitude-90-s1", "magnitude", 1, 0.9, "dense-s1"),
        ("magnitude-90-s2", "magnitude", 2, 0.9, "dense-s2")]
    assert rows[4][5] == pytest.approx(0.9, abs=0.01)  # measured, not copied from the target
    assert summaries == (6 * 3, 450)


def test_seeds_of_one_recipe_are_different_models(sweep_store):
    with duckdb.connect(str(sweep_store), read_only=True) as con:
        a, b = (np.array(con.execute(
            "SELECT margin_distance FROM metrics_named WHERE model = ? AND condition = 'clean' "
            "ORDER BY sample_id", [name]).fetchall()) for name in ("dense-s1", "dense-s2"))
    assert not np.allclose(a, b)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 30), st.integers(2, 5), st.data())
def test_the_modal_prediction_is_scipys_mode(models, samples, classes, data):
    pred = np.array(data.draw(st.lists(st.lists(st.integers(0, classes - 1), min_size=samples,
                                                max_size=samples),
                                       min_size=models, max_size=models)))
    assert (modal(pred, classes) == stats.mode(pred, axis=0).mode).all()


def test_exemplars_are_where_the_two_modes_differ():
    pred = np.array([[0, 1, 2], [0, 1, 1], [1, 1, 2], [2, 0, 2]])
    # dense rows 0, 1: modes 0 1 1 (tie -> 1 at sample 2); pruned rows 2, 3: 1 0 2 (ties -> low)
    (mask,) = exemplar_masks(pred, [([2, 3], [0, 1])], 3)
    assert mask.tolist() == [True, True, True]
    (mask,) = exemplar_masks(pred, [([0, 1], [0, 1])], 3)
    assert not mask.any()


def test_makespan_respects_dependencies_and_workers():
    units = [Unit("train", "a", (), 4.0, False), Unit("train", "b", ("train:a",), 3.0, False),
             Unit("train", "c", (), 2.0, False), Unit("evaluate", "x", ("train:b", "train:c"), 1.0,
                                                      False),
             Unit("evaluate", "y", ("train:b", "train:c"), 1.0, False)]
    assert makespan(units, 1) == pytest.approx(11.0)
    assert makespan(units, 2) == pytest.approx(8.0)  # a -> b is the critical path, then x and y
    assert makespan(units, 16) == pytest.approx(8.0)
    done = [Unit(u.kind, u.name, u.after, u.seconds, u.kind == "train") for u in units]
    assert makespan(done, 2) == pytest.approx(1.0)


@pytest.mark.parametrize("args, says", [
    (("plan", "no-such.toml"), "config file no-such.toml does not exist"),
    (("plan", "configs/demo.toml", "--device", "tpu"), "unknown device 'tpu'"),
])
def test_plan_refuses_bad_input_in_one_line(args, says):
    result = run_main(*args)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_registered_engine_is_offered_on_the_command_line():
    from compute.engines import ENGINES

    shown = run_cli("build", "--help").stdout
    choices = re.search(r"--engine \{([\w,]+)\}", shown)
    assert choices and choices[1].split(",") == list(ENGINES)


def test_the_default_engine_never_imports_ray():
    code = ("import sys; import compute.build, compute.engines, compute.plan; "
            "from compute.engines import create_engine; import torch; "
            "create_engine('inprocess', torch.device('cpu'), None); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
