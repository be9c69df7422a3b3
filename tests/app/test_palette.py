"""Every method's colour tells it apart from every other and from dense, for normal vision and
with the common colour-vision deficiencies simulated; and a model keeps its colour on every chart
of every page."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from colorspacious import cspace_convert
from skimage.color import deltaE_ciede2000, rgb2lab

from app.charts import METHOD_HUES, OTHER_HUES, model_colours, recipe_colours

# CIEDE2000 units: about 2 is just noticeable side by side; lines and dots a few pixels wide
# need several times that to be named apart at a glance.
MIN_DISTANCE = 12.0
VISION = [None, "protanomaly", "deuteranomaly", "tritanomaly"]


def _lab(rgb: np.ndarray, cvd: str | None) -> np.ndarray:
    """CIELAB of sRGB colours (n, 3) in [0, 1], as seen with `cvd` at full severity (Machado,
    Oliveira and Fernandes 2009), or with normal vision."""
    if cvd is not None:
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": cvd,
                                           "severity": 100}, "sRGB1"), 0, 1)
    return rgb2lab(rgb[None])[0]


def closest_pair(colours: dict[str, tuple[int, int, int]], cvd: str | None) -> tuple[float, str, str]:
    names = list(colours)
    lab = _lab(np.array([colours[n] for n in names]) / 255, cvd)
    return min((float(deltaE_ciede2000(lab[i], lab[j])), names[i], names[j])
               for i, j in itertools.combinations(range(len(names)), 2))


def test_the_distance_is_ciede2000():
    # Sharma, Wu and Dalal (2005), table 1, pair 1: 2.0425.
    assert deltaE_ciede2000([50, 2.6772, -79.7751], [50, 0, -82.7485]) == pytest.approx(2.0425,
                                                                                     abs=1e-4)
    assert closest_pair({"a": (0, 0, 0), "b": (0, 0, 1)}, None)[0] < 1  # a near-twin fails


@pytest.mark.parametrize("cvd", VISION)
def test_every_two_methods_and_dense_are_far_apart(cvd):
    distance, a, b = closest_pair(METHOD_HUES, cvd)
    assert distance >= MIN_DISTANCE, (cvd, a, b, round(distance, 1))


def test_dense_is_black_and_every_registered_method_has_its_own_hue():
    assert METHOD_HUES["dense"] == (0, 0, 0)
    hues = list(METHOD_HUES.values()) + OTHER_HUES
    assert len(set(hues)) == len(hues)


def test_a_model_keeps_its_colour_and_sparsity_only_lightens_it():
    models = pl.DataFrame({"model": ["dense", "gmp-50", "gmp-90", "random-90"],
                           "method": ["dense", "gmp", "gmp", "random"],
                           "sparsity": [None, 0.5, 0.9, 0.9]})
    colours = model_colours(models)
    again = model_colours(models.filter(pl.col("model") != "gmp-50"))  # another page's subset
    assert all(again[m] == colours[m] for m in again)
    lab = {m: _lab(np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)]]) / 255, None)[0]
           for m, c in colours.items()}
    assert lab["gmp-90"][0] > lab["gmp-50"][0]  # sparser is lighter
    assert colours["dense"] == "#000000"
    recipes = recipe_colours(pl.DataFrame({"recipe": ["gmp", "random"],
                                           "method": ["gmp", "random"]}))
    r, g, b = METHOD_HUES["gmp"]
    assert recipes["gmp"] == f"#{r:02x}{g:02x}{b:02x}"  # the same hue per method
