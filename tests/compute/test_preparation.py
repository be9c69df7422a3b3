"""The checkpoint cache: a model is reused only when its recipe and the code that trains it are
the ones that made it."""

import sys
from pathlib import Path

import torch

from compute import preparation
from compute.config import load_config
from compute.datasets import load_data

CONFIG = """
name = "cache"
output = "cache.duckdb"
[data]
source = "digits"
[[models]]
name = "dense"
arch = "small_cnn"
train = { epochs = 1 }
"""


def test_same_recipe_and_code_reuse_a_checkpoint_other_code_trains_afresh(tmp_path, monkeypatch):
    path = tmp_path / "cache.toml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    data = load_data("digits")
    cpu = torch.device("cpu")
    first = preparation.prepare_models(cfg, data, cpu)[0]
    saved = sorted(cfg.checkpoints.iterdir())
    assert [p.name for p in saved] == [f"dense-{first.key}.pt"]
    again = preparation.prepare_models(cfg, data, cpu)[0]
    assert again.key == first.key and sorted(cfg.checkpoints.iterdir()) == saved
    monkeypatch.setattr(preparation, "code_fingerprint", lambda: "the training code was edited")
    edited = preparation.prepare_models(cfg, data, cpu)[0]
    assert edited.key != first.key
    assert (cfg.checkpoints / f"dense-{edited.key}.pt").is_file()


def test_the_code_fingerprint_covers_every_module_that_decides_weights(tmp_path, monkeypatch):
    assert {"compute.training", "compute.pruning", "compute.models", "compute.datasets",
            "compute.config", "compute.preparation"} <= set(preparation.WEIGHT_CODE)
    before = preparation.code_fingerprint()
    module = sys.modules["compute.training"]
    edited = tmp_path / "training.py"
    edited.write_text(Path(module.__file__).read_text() + "\n# one more line\n")
    monkeypatch.setattr(module, "__file__", str(edited))
    preparation.code_fingerprint.cache_clear()
    try:
        assert preparation.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        preparation.code_fingerprint.cache_clear()
    assert preparation.code_fingerprint() == before
