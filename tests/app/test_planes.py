"""The geometry laid over the Geometry page's points, and label placement, as pure functions."""

import itertools
import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.charts import model_colours, spread
from app.planes import boundary_in_view, nearest_class_rays

finite = st.floats(-50, 50, allow_nan=False)


@given(points=st.lists(st.tuples(finite, finite), min_size=1, max_size=30),
       coef=st.tuples(finite, finite, finite).filter(lambda c: abs(c[0]) + abs(c[1]) > 1e-3))
def test_the_class_pair_view_always_holds_its_boundary(points, coef):
    plane = pl.DataFrame({"model": ["m"] * len(points), "x": [p[0] for p in points],
                          "y": [p[1] for p in points]})
    xc, yc, c = coef
    bounds = pl.DataFrame({"model": ["m"], "x_coef": [xc], "y_coef": [yc], "bias_diff": [c]})
    lines, (x_lo, x_hi), (y_lo, y_hi) = boundary_in_view(plane, bounds)
    assert x_lo <= min(plane["x"]) and x_hi >= max(plane["x"])  # every sample in view
    assert y_lo <= min(plane["y"]) and y_hi >= max(plane["y"])
    (x0, y0), (x1, y1) = lines.select("x", "y").rows()
    scale = max(1.0, abs(c), *(abs(v) for v in (x0, y0, x1, y1)))
    for x, y in ((x0, y0), (x1, y1)):  # both ends on z_a = z_b
        assert xc * x + yc * y + c == pytest.approx(0, abs=1e-6 * scale * (abs(xc) + abs(yc)))
    # The segment crosses the view: its midpoint-closest point to the view's centre is inside.
    cx, cy = sum(plane["x"]) / len(plane), sum(plane["y"]) / len(plane)
    t = ((cx - x0) * (x1 - x0) + (cy - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2 or 1)
    px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    slack = 1e-6 * scale
    assert x_lo - slack <= px <= x_hi + slack and y_lo - slack <= py <= y_hi + slack


def test_identical_class_directions_draw_no_boundary():
    plane = pl.DataFrame({"model": ["m", "m"], "x": [0.0, 1.0], "y": [0.0, 1.0]})
    bounds = pl.DataFrame({"model": ["m"], "x_coef": [0.0], "y_coef": [0.0], "bias_diff": [0.3]})
    lines, xs, _ys = boundary_in_view(plane, bounds)
    assert lines.is_empty() and xs[0] < 0 < 1 < xs[1]


def test_the_rival_ray_sits_at_each_models_median_angle_to_its_nearest_other_class():
    points = pl.DataFrame({"model": ["a", "a", "a", "b"],
                           "angle_other": [30.0, 60.0, 90.0, None]})
    rays = nearest_class_rays(points, radius=2.0)
    assert rays["model"].unique().to_list() == ["a"]  # b has no defined angle
    (x0, y0), (x1, y1) = rays.select("x", "y").rows()
    assert (x0, y0) == (0, 0)
    assert math.degrees(math.atan2(y1, x1)) == pytest.approx(60.0)
    assert math.hypot(x1, y1) == pytest.approx(2.0)


@given(values=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12),
       gap=st.floats(0.001, 0.2))
def test_spread_labels_keep_their_order_a_gap_apart_and_centred(values, gap):
    placed = spread(values, gap)
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranked = [placed[i] for i in order]
    assert all(b - a >= gap * (1 - 1e-9) for a, b in itertools.pairwise(ranked))
    assert sum(placed) / len(placed) == pytest.approx(sum(values) / len(values), abs=1e-9)


def test_a_models_colour_is_its_methods_hue_lighter_with_sparsity_and_fixed_per_store():
    models = pl.DataFrame({"model": ["dense", "mag-50", "mag-90", "gmp-90", "new-90"],
                           "method": ["dense", "magnitude", "magnitude", "gmp", "newmethod"],
                           "sparsity": [0.0, 0.5, 0.9, 0.9, 0.9]})
    colours = model_colours(models)
    assert list(colours) == models["model"].to_list()
    assert len(set(colours.values())) == len(colours)
    assert colours["dense"] == model_colours(models.head(1))["dense"]
    lightness = {m: sum(int(colours[m][i:i + 2], 16) for i in (1, 3, 5)) for m in colours}
    assert lightness["mag-90"] > lightness["mag-50"]  # sparser is lighter
    # Adding a model leaves every other model's colour as it was.
    more = pl.concat([models, pl.DataFrame({"model": ["snip-90"], "method": ["snip"],
                                            "sparsity": [0.9]})])
    assert {m: c for m, c in model_colours(more).items() if m in colours} == colours
