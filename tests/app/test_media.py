"""An attack's perturbation drawn amplified (app/media.py): mid grey where nothing changed, and
`gain` levels per level of change, clipped to the 8-bit range."""

import base64
import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from app.media import PNG_PREFIX, amplified


def url(pixels: np.ndarray) -> str:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return PNG_PREFIX + base64.b64encode(out.getvalue()).decode()


def pixels(data_url: str) -> np.ndarray:
    raw = base64.b64decode(data_url[len(PNG_PREFIX):])
    return np.asarray(Image.open(io.BytesIO(raw))).astype(int)


images = arrays(np.uint8, (6, 6, 3))


@given(images, images, st.sampled_from([1.0, 10.0, 50.0]))
def test_the_perturbation_is_gain_times_the_change_around_mid_grey(clean, attacked, gain):
    shown = pixels(amplified(url(clean), url(attacked), gain))
    change = attacked.astype(int) - clean.astype(int)
    np.testing.assert_array_equal(shown, np.clip(np.round(change * gain + 128), 0, 255))


@given(images)
def test_no_change_is_plain_mid_grey(clean):
    assert (pixels(amplified(url(clean), url(clean))) == 128).all()
