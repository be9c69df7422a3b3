"""Every bad input exits 2 with one line that names the problem; nothing stored is lost."""

import hashlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from compute.models import create_model
from store import open_store
from tests.compute.conftest import TINY_CONFIG, run_cli, run_main

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
    if case == "test fraction out of range":
        cfg.write_text(TINY_CONFIG.replace('source = "digits"', 'source = "digits"\ntest_fraction = 2'))
        return cfg, "'test_fraction' in [data] must hold out between 10 and 1,787"
    if case == "negative data seed":
        cfg.write_text(TINY_CONFIG.replace('source = "digits"', 'source = "digits"\nseed = -1'))
        return cfg, "'seed' in [data] must be between 0 and 4,294,967,295, got -1"
    if case == "no severities":
        cfg.write_text(TINY_CONFIG.replace("severities = [1, 5]", "severities = []"))
        return cfg, "must be a non-empty list of severities in 1..5"
    if case == "unknown numerics":
        cfg.write_text(TINY_CONFIG.replace("seed = 0", 'seed = 0\nnumerics = "fast"'))
        return cfg, "must be native or portable"
    if case == "not UTF-8":
        cfg.write_bytes(TINY_CONFIG.replace('name = "tiny"', 'name = "tiny-\u00e9"').encode("latin-1"))
        return cfg, "is not UTF-8"
    if case == "unknown pruning method":
        cfg.write_text(TINY_CONFIG.replace('method = "magnitude"', 'method = "magnitud"'))
        return cfg, "unknown pruning method 'magnitud'"
    if case == "unreadable image":
        folder = tmp_path / "images" / "test"
        for k, cls in enumerate(("cat", "dog")):
            (folder / cls).mkdir(parents=True)
            Image.new("RGB", (32, 32), (k * 100, 0, 0)).save(folder / cls / "ok.png")
        broken = folder / "dog" / "broken.png"
        broken.write_bytes((folder / "cat" / "ok.png").read_bytes()[:40])  # truncated
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="none.pt").replace(
            'source = "digits"', 'source = "imagefolder"\nroot = "images"\ntrain = "test"').replace(
            'checkpoint = "none.pt"', 'train = { epochs = 1 }'))
        return cfg, f"cannot read image {broken}"
    if case == "training without a train folder":
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="x.pt").replace(
            'source = "digits"', 'source = "imagefolder"\nroot = "nowhere"').replace(
            'checkpoint = "x.pt"', 'train = { epochs = 1 }'))
        return cfg, "needs a 'train' folder beside 'test'"
    if case == "checkpoint checked before the data":
        # The data folder is missing too: the checkpoint, checked first, is what is reported.
        cfg.write_text(CHECKPOINT_MODEL.format(arch="small_cnn", checkpoint="gone.pt").replace(
            'source = "digits"', 'source = "imagefolder"\nroot = "nowhere"'))
        return cfg, "gone.pt does not exist"
    if case == "foreign factory that fails":
        (tmp_path / "broken_models.py").write_text("def net():\n    raise RuntimeError('no')\n")
        cfg.write_text(CHECKPOINT_MODEL.format(arch="broken_models:net", checkpoint="x.pt").replace(
            'checkpoint = "x.pt"', 'train = { epochs = 1 }'))
        return cfg, "'broken_models:net' failed to build a model (RuntimeError: no)"
    if case == "foreign module that fails to import":
        (tmp_path / "bad_import.py").write_text("raise ValueError('broken on import')\n")
        cfg.write_text(CHECKPOINT_MODEL.format(arch="bad_import:net", checkpoint="x.pt").replace(
            'checkpoint = "x.pt"', 'train = { epochs = 1 }'))
        return cfg, "cannot import 'bad_import'"
    raise AssertionError(case)


CASES = ["missing config", "malformed config", "unknown key", "unknown architecture",
         "unknown corruption", "missing checkpoint", "not a checkpoint", "checkpoint does not fit",
         "class-count mismatch", "no device", "typo in [evaluation]", "typo in [data]",
         "value of the wrong type", "batch size 0", "test fraction out of range",
         "negative data seed", "no severities",
         "unknown numerics", "not UTF-8", "unknown pruning method",
         "unreadable image", "training without a train folder",
         "checkpoint checked before the data", "foreign factory that fails",
         "foreign module that fails to import"]


def terminal_lines(stderr: str) -> list[str]:
    """What a terminal shows of stderr: per line, the text after its last carriage return (a
    progress bar redraws and clears itself that way), blank lines left out."""
    return [line.split("\r")[-1] for line in stderr.split("\n") if line.split("\r")[-1].strip()]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(tmp_path, tiny_store, case):
    config, words = write_case(tmp_path, case)
    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(tiny_store.read_bytes())
    before = hashlib.sha256(existing.read_bytes()).hexdigest()
    extra = ["--device", "tpu"] if case == "no device" else []
    # A user's module next to the config is imported: a fresh process, so no earlier case's
    # module of the same name is reused. The rest run in this process (the same main).
    run = run_cli if case.startswith("foreign") else run_main
    result = run("build", str(config), "--out", str(existing), *extra)
    lines = terminal_lines(result.stderr)
    assert result.returncode == 2, result.stderr
    # One line says what is wrong, and it is the last: before it there may be only the progress
    # of work that had started (reading images, say).
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert all(line.startswith("reading ") or line == errors[0] for line in lines), result.stderr
    assert words in errors[0]
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


def test_out_naming_a_folder_is_refused_before_any_work(tmp_path, tiny_config):
    result = run_cli("build", str(tiny_config), "--out", str(tmp_path))
    assert result.returncode == 2 and "is a folder: name the store file" in result.stderr
    assert "training" not in result.stderr and "Traceback" not in result.stderr


def test_unreadable_images_can_be_left_out_and_are_recorded(tmp_path):
    config, _ = write_case(tmp_path, "unreadable image")
    config.write_text(config.read_text().replace(
        'train = "test"', 'train = "test"\nskip_unreadable = true'))
    result = run_cli("build", str(config), "--out", str(tmp_path / "s.duckdb"))
    assert result.returncode == 0, result.stderr[-1500:]
    con = open_store(tmp_path / "s.duckdb")
    assert con.execute("SELECT count(*) FROM samples").fetchone() == (2,)
    skipped = con.execute("SELECT value FROM meta WHERE key = 'skipped_images'").fetchone()[0]
    assert [Path(p).name for p in skipped.splitlines()] == ["broken.png", "broken.png"]
    assert con.execute("SELECT value FROM meta WHERE key = 'dataset'").fetchone() == ("images",)


def test_a_factory_without_num_classes_builds_when_its_head_fits(tmp_path, tiny_store):
    (tmp_path / "plain_models.py").write_text(
        "import torch.nn as nn\n"
        "def ten_way():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 16), nn.ReLU(), nn.Linear(16, 10))\n"
        "def five_way():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 5))\n")
    config = tmp_path / "plain.toml"
    config.write_text('name = "plain"\noutput = "p.duckdb"\n[data]\nsource = "digits"\n'
                      '[conditions]\ncorruptions = []\n'
                      '[[models]]\nname = "mlp"\narch = "plain_models:ten_way"\ntrain = { epochs = 1 }\n')
    result = run_cli("build", str(config))
    assert result.returncode == 0, result.stderr[-1500:]
    meta = dict(open_store(tmp_path / "p.duckdb").execute("SELECT key, value FROM meta").fetchall())
    assert meta["corruption_source"] == "none"
    config.write_text(config.read_text().replace("ten_way", "five_way"))
    result = run_cli("build", str(config))
    assert result.returncode == 2
    assert "builds a model with 5 outputs, the data set has 10 classes" in result.stderr


def test_export_writes_a_smaller_valid_store_and_says_how_big(tmp_path):
    from tests.support.synthetic import build_synthetic_store

    source = build_synthetic_store(tmp_path / "full.duckdb")
    out = tmp_path / "small.duckdb"
    result = run_cli("export", str(source), "--out", str(out), "--models", "magnitude-80",
                     "--samples", "30", "--thumbnails", "2", "--drop-angles")
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (" in result.stdout and " MB)" in result.stdout
    assert "note: kept the dense reference dense" in result.stdout
    assert out.stat().st_size < source.stat().st_size
    assert open_store(out).execute("SELECT count(*) FROM samples").fetchall() == [(30,)]


@pytest.mark.parametrize("args, message", [
    (["--models", "nope"], "error: No model named nope in the store"),
    (["--samples", "3", "--classes", "1"], "not allowed with argument --samples"),
    (["--samples", "x"], "invalid int value"),
])
def test_export_refuses_bad_choices_with_one_line_and_exit_code_2(tmp_path, args, message):
    from tests.support.synthetic import build_synthetic_store

    source = build_synthetic_store(tmp_path / "full.duckdb")
    result = run_cli("export", str(source), "--out", str(tmp_path / "small.duckdb"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "small.duckdb").exists()
