"""Fixtures of the compute lane: stores built by the command line from real configs, and real
test images."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import torch

from compute.datasets import load_data
from tests.conftest import ROOT, SHARED_DATA

# Small enough to train and evaluate in seconds; the same code path as configs/demo.toml.
TINY_CONFIG = """
name = "tiny"
output = "tiny.duckdb"
seed = 0

[data]
source = "digits"

[conditions]
corruptions = ["gaussian_noise", "contrast", "pixelate"]
severities = [1, 5]

[[models]]
name = "dense"
arch = "small_cnn"
train = { epochs = 8, lr = 0.05 }

[[models]]
name = "magnitude-80"
base = "dense"
prune = { method = "magnitude", sparsity = 0.8 }
train = { epochs = 2, lr = 0.01 }
"""


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m compute ...` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "compute", *args], cwd=cwd, capture_output=True, text=True,
        timeout=1800,
    )


def run_main(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m compute ...` run by its `main` in this process: the same exit code and output,
    without a second torch import per call (3 s each). For input that is refused; what imports a
    user's module next to a config runs in a subprocess (`run_cli`), where nothing is cached."""
    from compute.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    path.write_text(TINY_CONFIG)
    return path


@pytest.fixture(scope="session")
def tiny_store(tiny_config: Path) -> Path:
    """The tiny config built through the CLI, once for the whole session (do not modify it)."""
    result = run_cli("build", str(tiny_config))
    assert result.returncode == 0, result.stderr[-2000:]
    return tiny_config.with_name("tiny.duckdb")


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/demo.toml itself, built to a temporary folder (store and checkpoints: the tests
    never write into the repository's stores/)."""
    out = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    result = run_cli("build", "configs/demo.toml", "--out", str(out),
                     "--checkpoints", str(out.parent / "checkpoints"))
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(params=["tiny", "demo"])
def built_store(request: pytest.FixtureRequest) -> Path:
    """Each store the suite builds from a config: the tiny one and the shipped demo."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def images() -> torch.Tensor:
    """64 real test images in [0, 1], spread over the classes: CIFAR-10 when the shared data is
    there, the bundled digits otherwise."""
    if (SHARED_DATA / "cifar10" / "test").is_dir():
        data = load_data("imagefolder", root=str(SHARED_DATA), test="cifar10/test")
    elif os.environ.get("REQUIRE_SHARED_DATA") == "1":
        pytest.fail(f"the shared CIFAR-10 data is not at {SHARED_DATA} and REQUIRE_SHARED_DATA=1")
    else:
        data = load_data("digits")
    pick = torch.linspace(0, len(data.test) - 1, 64).long()
    return data.test.images[pick].float() / 255.0


# The tiny config as a sweep: two seeds of dense, and magnitude at two sparsities per seed.
TINY_SWEEP = """
name = "tiny-sweep"
output = "tiny-sweep.duckdb"
seed = 0

[data]
source = "digits"

[conditions]
corruptions = ["gaussian_noise", "contrast"]
severities = [5]
thumbnails = 8

[[models]]
name = "dense"
arch = "small_cnn"
seeds = [1, 2]
train = { epochs = 3, lr = 0.05 }

[[models]]
name = "magnitude"
base = "dense"
seeds = [1, 2]
prune = { method = "magnitude", sparsity = [0.5, 0.9] }
train = { epochs = 1, lr = 0.01 }
"""


@pytest.fixture(scope="session")
def sweep_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "tiny-sweep.toml"
    path.write_text(TINY_SWEEP)
    return path


@pytest.fixture(scope="session")
def sweep_store(sweep_config: Path) -> Path:
    """The tiny sweep built in process through the CLI, once per session (do not modify it)."""
    result = run_cli("build", str(sweep_config))
    assert result.returncode == 0, result.stderr[-2000:]
    return sweep_config.with_name("tiny-sweep.duckdb")


COLUMNS = ["length", "angle_true", "angle_pred", "angle_gap", "logit_margin", "margin_distance",
           "prob_true", "confidence", "loss", "entropy"]


def differences(a, b) -> dict[str, float]:
    """Per column, the largest difference between two stores' metrics (pred and correct: the
    number of rows that differ), over the rows of `a`, which `b` must all have."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    checks = [f"max(abs(x.{c} - y.{c})) AS {c}" for c in COLUMNS]
    checks += ["sum((x.pred <> y.pred)::INT) AS pred", "sum((x.correct <> y.correct)::INT) AS correct",
               "max(list_max(list_transform(list_zip(x.angles, y.angles), "
               "lambda p: abs(p[1] - p[2])))) AS angles",
               "count(*) - (SELECT count(*) FROM a.metrics) AS missing"]
    # By name: two configs number their conditions differently.
    row = con.execute(f"SELECT {', '.join(checks)} FROM a.metrics_named x "
                      "JOIN b.metrics_named y USING (model, condition, sample_id)")
    names = [d[0] for d in row.description]
    return dict(zip(names, row.fetchall()[0], strict=True))
