"""Known answer: the public pretrained ResNet-20 scores exactly 9,173/10,000 on CIFAR-10 test."""

import re
import tomllib

import pytest

from store import open_store
from tests.compute.conftest import ROOT, run_cli


@pytest.mark.shared_data
def test_pretrained_resnet20_scores_9173(shared_data, tmp_path):
    # The shipped config with the corruptions left out (they are tested on digits); the data
    # root given on the command line, as a user with their own copy would.
    text = (ROOT / "configs" / "cifar10-resnet20.toml").read_text()
    assert tomllib.loads(text)["models"][0]["arch"] == "resnet20"
    config = tmp_path / "cifar10.toml"
    clean_only = re.sub(r"(?m)^corruptions = .*$", "corruptions = []", text)
    clean_only = "[[models]]".join(clean_only.split("[[models]]")[:2])  # the pretrained model only
    assert clean_only != text and clean_only.count("[[models]]") == 1
    config.write_text(clean_only)
    out = tmp_path / "cifar10.duckdb"
    result = run_cli("build", str(config), "--data-root", str(shared_data), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    con = open_store(out)
    correct, total = con.execute("SELECT sum(correct::INT), count(*) FROM metrics").fetchone()
    assert (correct, total) == (9173, 10000)
    name, accuracy, sha = con.execute(
        "SELECT name, clean_accuracy, checkpoint_sha256 FROM models").fetchone()
    assert name == "resnet20" and accuracy == 0.9173
    assert sha == "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"
    classes = [r[0] for r in con.execute("SELECT name FROM classes ORDER BY class_id").fetchall()]
    assert classes[:3] == ["airplane", "automobile", "bird"] and len(classes) == 10


@pytest.mark.shared_data
def test_autoattack_at_8_255_leaves_the_standard_resnet20_at_0_percent(shared_data, tmp_path):
    """Known answer: a standard (not adversarially trained) CIFAR-10 network falls to the standard
    AutoAttack at Linf 8/255 on every sample (RobustBench's Standard entry: 0.00 %), here on 100
    test images, while its clean accuracy on them stays about 92 %."""
    text = (ROOT / "configs" / "cifar10-resnet20-attacks.toml").read_text()
    attacks = re.findall(r'(?ms)^\[\[conditions\.attacks\]\]\n.*?(?=^\[|\Z)', text)
    auto = next(a for a in attacks if 'attack = "autoattack"' in a)
    config = tmp_path / "autoattack.toml"
    text = text.replace("".join(attacks), auto.replace("samples = 1000", "samples = 100") + "\n")
    text = re.sub(r"(?ms)^\[radius\]\n.*?(?=^\[)", "", text)  # the radius search: not this test's
    config.write_text("[[models]]".join(text.split("[[models]]")[:2]))  # the pretrained model
    out = tmp_path / "autoattack.duckdb"
    result = run_cli("build", str(config), "--data-root", str(shared_data), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    con = open_store(out)
    rows = dict(con.execute("""
        SELECT c.name, avg(m.correct::INT) FROM metrics m JOIN conditions c USING (condition_id)
        WHERE m.sample_id IN (SELECT sample_id FROM metrics WHERE condition_id > 0)
        GROUP BY 1""").fetchall())
    assert set(rows) == {"clean", "autoattack_linf-1"}
    assert rows["clean"] > 0.85 and rows["autoattack_linf-1"] == 0.0
    assert con.execute("SELECT attack, norm, budget, samples FROM attacks").fetchall() == [
        ("autoattack", "Linf", pytest.approx(8 / 255), 100)]
