"""A chart's box selection as the URL keeps it: a short predicate that picks the same samples."""

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from app.selection import picked_samples
from app.state import decode_box, encode_box

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(x=st.tuples(finite, finite), y=st.tuples(finite, finite), seed=st.integers(0, 1000))
def test_a_box_survives_the_url_and_picks_the_same_samples(x, y, seed):
    box = {"x": list(x), "y": list(y)}
    text = encode_box(box)
    assert len(text) <= 80  # whatever it holds
    back = decode_box(text)
    assert back == {k: [min(v), max(v)] for k, v in back.items()}
    assert np.allclose(back["x"], sorted(x), rtol=1e-8) and np.allclose(back["y"], sorted(y), rtol=1e-8)
    rng = np.random.default_rng(seed)
    points = pl.DataFrame({"sample_id": range(500),
                           "x": rng.uniform(min(x) - 1, max(x) + 1, 500),
                           "y": rng.uniform(min(y) - 1, max(y) + 1, 500)})
    assert picked_samples(back, points) == picked_samples(box, points)


def test_anything_else_in_the_url_is_no_box():
    for text in ["", "17", "x:1", "x:1,a", "x:nan,2", "x:1,inf", "1x:0,1", "x:0,1;;"]:
        assert decode_box(text) is None, text
