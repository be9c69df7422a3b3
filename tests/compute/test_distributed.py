"""The Ray engine on a local cluster: the same store as the in-process engine, to the bit, and a
killed driver resumes where it stopped."""

import os
import re
import signal
import subprocess
import sys

import duckdb
import pytest

from tests.compute.conftest import TINY_SWEEP, differences, run_cli, run_main
from tests.conftest import ROOT


def test_a_ray_build_equals_the_in_process_one(sweep_store, sweep_config, tmp_path):
    out = tmp_path / "ray.duckdb"
    # Its own checkpoint folder: the models are trained by Ray tasks, not read from the cache.
    result = run_cli("build", str(sweep_config), "--engine", "ray", "--out", str(out),
                     "--checkpoints", str(tmp_path / "checkpoints"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training on Ray" in result.stderr
    assert len(list((tmp_path / "checkpoints").glob("*.pt"))) == 6
    diff = differences(sweep_store, out)
    assert diff.pop("missing") == 0 and diff.pop("pred") == 0 and diff.pop("correct") == 0
    assert all(v <= 1e-6 for v in diff.values()), diff
    with duckdb.connect(str(out), read_only=True) as con:
        con.execute(f"ATTACH '{sweep_store}' AS a (READ_ONLY)")
        assert con.execute("SELECT count(*) FROM models m JOIN a.models n USING (model_id) "
                           "WHERE m.checkpoint_sha256 <> n.checkpoint_sha256 OR m.name <> n.name"
                           ).fetchall() == [(0,)]


def test_a_killed_ray_driver_resumes_where_it_stopped(sweep_store, sweep_config, tmp_path):
    # The sweep's models (cached by sweep_store) under every benchmark corruption at five
    # severities: enough conditions that the driver is killed with most of them still to come.
    config = sweep_config.with_name("many-conditions.toml")
    config.write_text(TINY_SWEEP.replace('corruptions = ["gaussian_noise", "contrast"]',
                                         'corruptions = "benchmark"')
                      .replace("severities = [5]", "severities = [5, 1]")
                      .replace('output = "tiny-sweep.duckdb"', 'output = "many.duckdb"'))
    args = [sys.executable, "-m", "compute", "build", str(config), "--engine", "ray"]
    driver = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    seen = ""
    # Kill the driver, Ray's local cluster with it, once it has committed five conditions.
    while (char := driver.stderr.read(1)) and not re.search(r"evaluating 6 models:\s+\d+%\|[^|]*\| "
                                                            r"([5-9]|\d\d)/31", seen[-200:]):
        seen += char
    assert driver.poll() is None, "the build finished before it could be killed:\n" + seen[-2000:]
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    partial = config.with_name("many.duckdb.partial")
    assert partial.exists() and not config.with_name("many.duckdb").exists()

    rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    resumed = re.search(r"resuming many.duckdb.partial: ([\d,]+) of 186 \(model, condition\) "
                        r"pairs are written, (\d+) conditions to go", rerun.stderr)
    assert resumed, rerun.stderr[-2000:]
    assert 5 * 6 <= int(resumed[1].replace(",", "")) < 186 and int(resumed[2]) < 31
    assert "training on Ray" not in rerun.stderr  # every model was cached
    store = config.with_name("many.duckdb")
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT (model_id, condition_id)) FROM metrics"
                           ).fetchall() == [(186,)]
    # The conditions the sweep store also has are the same numbers.
    diff = differences(sweep_store, store)
    assert diff.pop("missing") == 0 and diff.pop("pred") == 0
    assert all(v <= 1e-6 for k, v in diff.items() if k != "correct"), diff


@pytest.mark.parametrize("args, says", [
    (("--address", "auto"), "--address only applies to --engine ray"),
    (("--engine", "ray", "--gpus-per-task", "-1"), "--gpus-per-task must be 0 or more"),
    (("--engine", "spark"), "invalid choice: 'spark'"),
])
def test_engine_options_are_checked_in_one_line(sweep_config, args, says):
    result = run_main("build", str(sweep_config), *args)  # refused before Ray starts
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
