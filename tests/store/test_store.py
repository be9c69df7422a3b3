"""The store contract: round trip, atomic replacement, resume, and clear errors on opening."""

import duckdb
import numpy as np
import pytest

from store import SCHEMA_VERSION, StoreError, open_store
from store.records import ModelRecord
from store.writer import METRIC_COLUMNS, StoreWriter


def metrics_for(n: int, c: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    out = {k: rng.normal(size=n).astype(np.float32) for k in METRIC_COLUMNS}
    out["pred"] = rng.integers(0, c, n)
    out["correct"] = rng.random(n) < 0.5
    out["angles"] = rng.uniform(0, 180, (n, c)).astype(np.float32)
    out["angles"][0] = np.nan  # a zero feature
    out["angle_true"][0] = np.nan
    return out


def write_small(path, fingerprint="f1", commit=True, pairs=((0, 0), (0, 1))):
    rng = np.random.default_rng(0)
    w = StoreWriter(path, fingerprint, num_classes=3)
    w.put_classes(["a", "b", "c"])
    w.put_model(ModelRecord(0, "m", "x", "dense", None, 0.0, 10, 10, None, 3, 2),
                np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]), np.array([0.1, 0.2, 0.3]))
    written = {}
    for model_id, condition_id in pairs:
        m = metrics_for(5, 3, rng)
        w.put_metrics(model_id, condition_id, np.arange(5, dtype=np.int32), m)
        written[(model_id, condition_id)] = m
    if commit:
        w.commit()
    else:
        w.close()
    return written


def test_round_trip(tmp_path):
    path = tmp_path / "s.duckdb"
    written = write_small(path)
    con = open_store(path)
    rows = con.execute("SELECT * FROM metrics WHERE condition_id = 1 ORDER BY sample_id").fetchall()
    cols = [d[0] for d in con.description]
    expect = written[(0, 1)]
    for i, row in enumerate(rows):
        rec = dict(zip(cols, row, strict=True))
        if i == 0:
            assert rec["angles"] is None and rec["angle_true"] is None
        else:
            assert np.allclose(rec["angles"], expect["angles"][i])
        assert rec["pred"] == expect["pred"][i] and rec["correct"] == expect["correct"][i]
        assert np.isclose(rec["loss"], expect["loss"][i])
    # The Gram: |W_1| = 2, W_0 . W_1 = 0, a zero direction is at 90 degrees to everything.
    gram = dict(((a, b), (ang, dot)) for a, b, ang, dot in con.execute(
        "SELECT class_a, class_b, angle, dot FROM class_pairs").fetchall())
    assert gram[(1, 1)] == (0.0, 4.0) and gram[(0, 1)] == (90.0, 0.0) and gram[(2, 0)][0] == 90.0
    assert con.execute("SELECT typeof(angles) FROM metrics LIMIT 1").fetchone()[0] == "FLOAT[3]"


def test_read_only(tmp_path):
    path = tmp_path / "s.duckdb"
    write_small(path)
    con = open_store(path)
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM metrics")


def test_uncommitted_build_leaves_target_untouched_and_resumes(tmp_path):
    path = tmp_path / "s.duckdb"
    write_small(path, fingerprint="old")
    before = path.read_bytes()
    write_small(path, fingerprint="new", commit=False, pairs=((0, 0),))
    assert path.read_bytes() == before
    resumed = StoreWriter(path, "new", num_classes=3)
    assert resumed.resumed and resumed.done_pairs() == {(0, 0)}
    resumed.close()
    restarted = StoreWriter(path, "other", num_classes=3)  # another config starts afresh
    assert not restarted.resumed and restarted.done_pairs() == set()
    restarted.close()


@pytest.mark.parametrize("case", ["missing", "garbage", "foreign", "version"])
def test_open_store_errors(tmp_path, case):
    path = tmp_path / "s.duckdb"
    if case == "garbage":
        path.write_bytes(b"not a database at all" * 100)
    elif case == "foreign":
        duckdb.connect(str(path)).execute("CREATE TABLE x (a INT)").close()
    elif case == "version":
        write_small(path)
        with duckdb.connect(str(path)) as con:
            con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(StoreError) as err:
        open_store(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    if case == "version":
        assert f"reads versions {SCHEMA_VERSION}" in message
