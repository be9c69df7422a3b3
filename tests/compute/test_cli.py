"""Every bad input exits 2 with one line that names the problem; nothing stored is lost."""

import hashlib

import pytest
import torch

from compute.models import create_model
from store import open_store
from tests.compute.conftest import TINY_CONFIG, run_cli

CHECKPOINT_MODEL = """
name = "bad"
output = "out.duckdb"
[data]
source = "digits"
[[models]]
name = "given"
arch = "{arch}"
checkpoint = "{checkpoint}"
"""


def write_case(tmp_path, case):
    """The config for one bad-input case, and the words its message must contain."""
    cfg = tmp_path / "c.toml"
    if case == "missing config":
        return tmp_path / "nope.toml", "does not exist"
    if case == "malformed config":
        cfg.write_text("name = 'x'\n[data\nsource = 1")
        return cfg, "not valid TOML"
    if case == "unknown key":
        cfg.write_text(TINY_CONFIG.replace("seed = 0", "sed = 0"))
        return cfg, "unknown key 'sed'"
    if case == "unknown architecture":
        cfg.write_text(TINY_CONFIG.replace('arch = "small_cnn"', 'arch = "resnet1000"'))
        return cfg, "unknown architecture 'resnet1000'"
    if case == "unknown corruption":
        cfg.write_text(TINY_CONFIG.replace('"contrast"', '"contrats"'))
        return cfg, "unknown corruption 'contrats'"
    if case == "missing checkpoint":
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="gone.pt"))
        return cfg, "gone.pt does not exist"
    if case == "not a checkpoint":
        (tmp_path / "junk.pt").write_bytes(b"\x00junk" * 50)
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="junk.pt"))
        return cfg, "cannot be read by torch.load"
    if case == "checkpoint does not fit":
        torch.save(create_model("small_cnn", 10).state_dict(), tmp_path / "cnn.pt")
        cfg.write_text(CHECKPOINT_MODEL.format(arch="resnet20", checkpoint="cnn.pt"))
        return cfg, "does not fit the architecture"
    if case == "class-count mismatch":
        torch.save({"state_dict": create_model("small_cnn", 5).state_dict()}, tmp_path / "five.pt")
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="five.pt"))
        return cfg, "has 5 classes"
    if case == "no device":
        cfg.write_text(TINY_CONFIG)
        return cfg, "unknown device"
    if case == "typo in [evaluation]":
        cfg.write_text(TINY_CONFIG.replace("[[models]]", "[evaluation]\nbatchsize = 64\n\n[[models]]", 1))
        return cfg, "unknown key 'batchsize' in [evaluation] (did you mean 'batch_size'?"
    if case == "typo in [data]":
        cfg.write_text(TINY_CONFIG.replace('source = "digits"', 'source = "digits"\ntest_fracton = 0.3'))
        return cfg, "did you mean 'test_fraction'?"
    if case == "value of the wrong type":
        cfg.write_text(TINY_CONFIG.replace("[[models]]", '[evaluation]\nbatch_size = "big"\n\n[[models]]', 1))
        return cfg, "'batch_size' in [evaluation] must be an integer"
    if case == "batch size 0":
        cfg.write_text(TINY_CONFIG.replace("[[models]]", "[evaluation]\nbatch_size = 0\n\n[[models]]", 1))
        return cfg, "must be at least 1"
    if case == "not UTF-8":
        cfg.write_bytes(TINY_CONFIG.replace('name = "tiny"', 'name = "tiny-\u00e9"').encode("latin-1"))
        return cfg, "is not UTF-8"
    if case == "unknown pruning method":
        cfg.write_text(TINY_CONFIG.replace('method = "magnitude"', 'method = "magnitud"'))
        return cfg, "unknown pruning method 'magnitud'"
    raise AssertionError(case)


CASES = ["missing config", "malformed config", "unknown key", "unknown architecture",
         "unknown corruption", "missing checkpoint", "not a checkpoint", "checkpoint does not fit",
         "class-count mismatch", "no device", "typo in [evaluation]", "typo in [data]",
         "value of the wrong type", "batch size 0", "not UTF-8", "unknown pruning method"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(tmp_path, tiny_store, case):
    config, words = write_case(tmp_path, case)
    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(tiny_store.read_bytes())
    before = hashlib.sha256(existing.read_bytes()).hexdigest()
    extra = ["--device", "tpu"] if case == "no device" else []
    result = run_cli("build", str(config), "--out", str(existing), *extra)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(existing.read_bytes()).hexdigest() == before


def test_usage_errors_are_one_line_too():
    result = run_cli("build")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "config" in result.stderr


def test_a_foreign_architecture_next_to_the_config_builds(tmp_path, tiny_store):
    (tmp_path / "my_models.py").write_text(
        "import torch.nn as nn\n"
        "def mlp(num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 32), nn.ReLU(),\n"
        "                         nn.Linear(32, num_classes))\n")
    config = tmp_path / "foreign.toml"
    config.write_text('name = "foreign"\noutput = "f.duckdb"\n[data]\nsource = "digits"\n'
                      '[[models]]\nname = "mlp"\narch = "my_models:mlp"\ntrain = { epochs = 2 }\n')
    result = run_cli("build", str(config))  # from the repository root, as documented
    assert result.returncode == 0, result.stderr[-1500:]
    row = open_store(tmp_path / "f.duckdb").execute(
        "SELECT arch, feature_dim, clean_accuracy FROM models").fetchone()
    assert row[0] == "my_models:mlp" and row[1] == 32 and row[2] > 0.5
