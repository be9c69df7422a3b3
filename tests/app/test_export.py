"""Downloads: Parquet keeps everything, CSV flattens what CSV cannot hold."""

import io

import polars as pl

from app.export import csv_bytes, parquet_bytes


def frame() -> pl.DataFrame:
    return pl.DataFrame({
        "sample_id": [1, 2],
        "angles": [[10.5, 80.0], None],  # NULL angles: a zero feature
        "thumbnail": [b"\x89PNG", b"\x89PNG"],
        "model": ["dense", "pruned"],
    })


def test_parquet_round_trips_every_column():
    assert pl.read_parquet(io.BytesIO(parquet_bytes(frame()))).equals(frame())


def test_csv_joins_lists_and_writes_bytes_as_hex():
    back = pl.read_csv(io.BytesIO(csv_bytes(frame())), infer_schema=False)
    assert back.columns == ["sample_id", "angles", "thumbnail", "model"]
    assert back["angles"].to_list() == ["10.5 80.0", None]
    assert back["thumbnail"].to_list() == ["89504e47", "89504e47"]  # b"\x89PNG"
    assert back["model"].to_list() == ["dense", "pruned"]


def test_lists_of_bytes_go_to_csv_as_json_text():
    text = csv_bytes(pl.DataFrame({"l": [[b"ab"], None]})).decode()
    assert text.splitlines()[1].startswith('"[""b') and "ab" in text.splitlines()[1]
