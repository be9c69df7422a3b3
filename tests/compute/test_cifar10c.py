"""The official CIFAR-10-C layout: a fixture written in that layout is read back through a build,
and every malformed layout gets its own message."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from compute.cifar10c import OfficialCorruptions
from compute.datasets import load_data
from compute.errors import UserError
from store import open_store
from tests.compute.conftest import TINY_CONFIG, run_cli

NAMES = ["fog", "contrast"]


def official_layout(root, labels, shape=(32, 32, 3)):
    """Write <name>.npy for NAMES and labels.npy; image (severity s, sample i) is recognisable:
    its first pixel holds (s, i % 256, i // 256) and its second the corruption's index."""
    n = len(labels)
    root.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(NAMES):
        rng = np.random.default_rng(k)
        arr = rng.integers(0, 256, (5 * n, *shape), dtype=np.uint8)
        for s in range(5):
            block = slice(s * n, (s + 1) * n)
            arr[block, 0, 0] = np.stack([np.full(n, s + 1), np.arange(n) % 256, np.arange(n) // 256], 1)
            arr[block, 0, 1] = k
        np.save(root / f"{name}.npy", arr)
    np.save(root / "labels.npy", np.tile(labels.numpy().astype(np.uint8), 5))
    return root


@pytest.fixture(scope="module")
def digits_labels():
    return load_data("digits").test.labels


def test_reader_returns_the_right_severity_and_sample(tmp_path, digits_labels):
    root = official_layout(tmp_path / "c10c", digits_labels)
    reader = OfficialCorruptions(root, NAMES, digits_labels, (3, 32, 32))
    ids = torch.tensor([0, 7, 300, 449])
    for severity in (1, 3, 5):
        images = reader.images("fog", severity, ids)
        assert images.shape == (4, 3, 32, 32) and images.dtype == torch.uint8
        assert images[:, 0, 0, 0].tolist() == [severity] * 4
        assert (images[:, 1, 0, 0].long() + 256 * images[:, 2, 0, 0].long()).tolist() == ids.tolist()
    assert reader.images("contrast", 2, ids)[:, 0, 0, 1].tolist() == [1] * 4


def test_a_build_reads_the_official_files_instead_of_generating(tiny_store, digits_labels):
    official_layout(tiny_store.parent / "c10c", digits_labels)
    config = tiny_store.with_name("official.toml")
    text = TINY_CONFIG.replace('output = "tiny.duckdb"', 'output = "official.duckdb"')
    text = text.replace('corruptions = ["gaussian_noise", "contrast", "pixelate"]',
                        f'corruptions = {NAMES!r}\ncifar10c = "c10c"\nthumbnails = 12\n'
                        "listed_thumbnails = 0")  # the inspection subset alone, counted below
    config.write_text(text)
    result = run_cli("build", str(config))
    assert result.returncode == 0, result.stderr[-2000:]
    con = open_store(config.with_name("official.duckdb"))
    assert "official files" in con.execute(
        "SELECT value FROM meta WHERE key = 'corruption_source'").fetchone()[0]
    rows = con.execute("""SELECT c.corruption, c.severity, t.sample_id, t.thumbnail
                          FROM condition_thumbnails t JOIN conditions c USING (condition_id)""").fetchall()
    assert len(rows) == len(NAMES) * 2 * 12  # two severities in the tiny config
    for corruption, severity, sample_id, png in rows:
        pixel = np.asarray(Image.open(io.BytesIO(png)))[0, 0]
        assert pixel.tolist() == [severity, sample_id % 256, sample_id // 256], corruption
    counted = con.execute("SELECT count(DISTINCT sample_id) FROM condition_thumbnails").fetchone()[0]
    labels = {r[0] for r in con.execute("""SELECT s.label FROM condition_thumbnails
                                           JOIN samples s USING (sample_id)""").fetchall()}
    assert counted == 12 and len(labels) == 10  # the subset spans the classes


def malformed(root, labels, case):
    official_layout(root, labels)
    n = len(labels)
    if case == "no folder":
        return root / "nope", "does not exist"
    if case == "missing corruption file":
        (root / "fog.npy").unlink()
        return root, "fog.npy is missing"
    if case == "missing labels":
        (root / "labels.npy").unlink()
        return root, "labels.npy is missing"
    if case == "wrong shape":
        np.save(root / "fog.npy", np.zeros((5 * n, 28, 28, 3), np.uint8))
        return root, "has shape (2250, 28, 28, 3)"
    if case == "wrong dtype":
        np.save(root / "fog.npy", np.zeros((5 * n, 32, 32, 3), np.float32))
        return root, "dtype float32"
    if case == "too few severities":
        np.save(root / "labels.npy", np.tile(labels.numpy(), 4))
        return root, "expected (2250,) integers"
    if case == "labels out of order":
        np.save(root / "labels.npy", np.tile(np.sort(labels.numpy()), 5))
        return root, "does not match the clean test labels"
    if case == "not an npy file":
        (root / "fog.npy").write_bytes(b"PK\x03\x04 a zip, not an array")
        return root, "not a readable .npy array"
    raise AssertionError(case)


CASES = ["no folder", "missing corruption file", "missing labels", "wrong shape", "wrong dtype",
         "too few severities", "labels out of order", "not an npy file"]


@pytest.mark.parametrize("case", CASES)
def test_each_malformed_layout_gets_its_message(tmp_path, digits_labels, case):
    root, words = malformed(tmp_path / "c10c", digits_labels, case)
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")) as err:
        OfficialCorruptions(root, NAMES, digits_labels, (3, 32, 32))
    assert "\n" not in str(err.value)


def test_the_cli_reports_a_malformed_layout_in_one_line(tmp_path, digits_labels, tiny_store):
    root, _ = malformed(tmp_path / "c10c", digits_labels, "labels out of order")
    config = tmp_path / "c.toml"
    config.write_text(TINY_CONFIG.replace('severities = [1, 5]', f'severities = [1]\ncifar10c = "{root}"'))
    result = run_cli("build", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "does not match" in result.stderr
