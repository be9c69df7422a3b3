"""Portable numerics: the same store whatever instruction set the CPU offers (compute/numerics.py).

A machine cannot run a CPU it is not, but it can run the code paths of an older one: ATen's
baseline kernels, oneDNN capped at SSE4.1, MKL limited to SSE4.2. A portable build under those
and under this machine's own fastest paths must be the same to the bit, while a native build
differs (docs/configs.md#reproducibility has the measured spread)."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import numpy as np
import pytest

from compute import numerics
from compute.errors import UserError
from tests.conftest import ROOT

# What an older CPU would run, and this one's own choice (nothing pinned).
OLDER_CPU = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
             "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
PINNED = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")


def build(config, out, mode: str, level: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PINNED} | level
    return subprocess.run(
        [sys.executable, "-m", "compute", "build", str(config), "--out", str(out),
         "--checkpoints", str(out.parent / f"checkpoints-{out.stem}"), "--numerics", mode],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def rows(path):
    with duckdb.connect(str(path), read_only=True) as con:
        metrics = con.execute("SELECT * FROM metrics ORDER BY model_id, condition_id, sample_id"
                              ).fetchnumpy()
        weights = con.execute("SELECT weight_norm, bias FROM class_directions "
                              "ORDER BY model_id, class_id").fetchnumpy()
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    return metrics, weights, meta


@pytest.mark.slow
def test_a_portable_build_is_the_same_on_an_older_cpus_code_paths(tiny_config, tmp_path):
    """Trained from scratch both times (own checkpoint folders): training is where the last bits
    of a kernel grow into other weights."""
    this_cpu, older = tmp_path / "this.duckdb", tmp_path / "older.duckdb"
    for out, level in ((this_cpu, {}), (older, OLDER_CPU)):
        result = build(tiny_config, out, "portable", level)
        assert result.returncode == 0, result.stderr[-2000:]
    (a, wa, meta_a), (b, wb, meta_b) = rows(this_cpu), rows(older)
    assert meta_b["numerics"] == meta_a["numerics"]
    assert meta_a["numerics"].startswith("portable") and meta_a["threads"] == "2"
    for column in (*a, *wa):
        x, y = (a | wa)[column], (b | wb)[column]
        if column == "angles":
            x, y = np.stack(x), np.stack(y)
        assert np.array_equal(x, y, equal_nan=True), column


def test_portable_numerics_chosen_after_torch_loaded_is_refused(monkeypatch):
    """In a process that loaded torch with other settings, a portable build would not be what
    it says: one sentence, pointing at the command line."""
    monkeypatch.delenv("MKL_CBWR", raising=False)
    with pytest.raises(UserError, match=r"before torch is loaded.*python -m compute build"):
        numerics.apply("portable")
    assert "portable" not in numerics.apply("native")


def test_prepare_leaves_a_process_that_loaded_torch_alone(monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    numerics.prepare("portable")  # torch is loaded in this test process
    assert "ATEN_CPU_CAPABILITY" not in os.environ


def test_portable_numerics_build_on_the_cpu():
    assert numerics.device_for("portable", "auto") == "cpu"
    assert numerics.device_for("native", "auto") == "auto"
    with pytest.raises(UserError, match=r"portable numerics run on the CPU.*--numerics native"):
        numerics.device_for("portable", "cuda")


def test_an_unknown_mode_is_one_sentence():
    with pytest.raises(UserError, match="unknown numerics 'fast' \\(use native or portable\\)"):
        numerics.check_mode("fast")
