"""The geometry's identities, as properties over random class directions, biases and features."""

import math

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from compute.geometry import geometry, logits_from_geometry
from store.catalogue import METRICS
from tests.support.geometry import reference_geometry

# Zero, or of a size features and weights have: the two codes' roundings of norms below 1e-150
# (squares underflow) are not what is being tested; zero features and directions have tests of
# their own below.
finite = st.one_of(st.just(0.0), st.floats(1e-6, 10), st.floats(-10, -1e-6))


@st.composite
def problems(draw):
    n = draw(st.integers(1, 8))
    c = draw(st.integers(2, 7))
    d = draw(st.integers(1, 9))
    w = draw(arrays(np.float64, (c, d), elements=finite))
    b = draw(arrays(np.float64, (c,), elements=finite))
    f = draw(arrays(np.float64, (n, d), elements=finite))
    y = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return [torch.from_numpy(a) for a in (f, w, b, y)]


@settings(max_examples=200, deadline=None)
@given(problems())
def test_stored_columns_rebuild_logits_and_follow_the_definitions(problem):
    f, w, b, y = problem
    z = f @ w.T + b
    # Where two logits tie, the prediction and the nearest boundary depend on which way the
    # last bit of a sum rounds, and two codes summing in another order may differ: not a
    # difference of definitions. (Ties have tests of their own below.)
    gaps = z.sort(dim=1).values.diff(dim=1)
    assume(bool((gaps > 1e-9 * (1 + z.abs().max())).all()))
    g = geometry(f, w, b, y)
    ref = reference_geometry(f.numpy(), w.numpy(), b.numpy(), y.numpy())
    defined = g["length"] > 0
    rebuilt = logits_from_geometry(g["length"], g["angles"], w.norm(dim=1), b)
    scale = float(1 + z.abs().max())
    assert torch.allclose(rebuilt[defined], z[defined], atol=1e-9 * scale)
    for metric in METRICS:  # every column of the catalogue, against its definition
        ours, theirs = g[metric.name].numpy(), ref[metric.name]
        if metric.sql_type in ("SMALLINT", "BOOLEAN"):
            assert np.array_equal(ours, theirs), metric.name
        elif metric.unit == "degrees":
            # Near 0 and 180 degrees arccos is steep: two roundings differ more than the cosines.
            assert np.allclose(ours, theirs, atol=1e-5, equal_nan=True), metric.name
        else:
            assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-9 * scale,
                               equal_nan=True), metric.name


@settings(max_examples=200, deadline=None)
@given(problems())
def test_signs_and_ranges(problem):
    f, w, b, y = problem
    g = geometry(f, w, b, y)
    # margin_distance and logit_margin have the sign of correctness (exact ties aside).
    untied = g["logit_margin"] != 0
    assert torch.equal((g["margin_distance"] > 0)[untied], g["correct"][untied])
    assert torch.equal((g["logit_margin"] > 0)[untied], g["correct"][untied])
    ok = g["length"] > 0
    assert ((g["angles"][ok] >= 0) & (g["angles"][ok] <= 180)).all()
    p = torch.softmax(f @ w.T + b, dim=1)
    assert torch.allclose(g["prob_true"], p[torch.arange(len(y)), y], atol=1e-12)
    assert torch.allclose(g["confidence"], p.max(dim=1).values, atol=1e-12)
    assert (g["entropy"] >= -1e-12).all() and (g["entropy"] <= math.log(w.shape[0]) + 1e-9).all()
    # angle_gap: the true class is closer in angle than every other class iff the gap is positive.
    for i in torch.nonzero(ok).flatten().tolist():
        others = [k for k in range(w.shape[0]) if k != y[i]]
        expect = min(g["angles"][i, k] for k in others) - g["angles"][i, y[i]]
        assert math.isclose(g["angle_gap"][i], expect, abs_tol=1e-9)


def test_geometry_gives_every_catalogue_column():
    f, w, b, y = torch.randn(5, 3), torch.randn(4, 3), torch.randn(4), torch.tensor([0, 1, 2, 3, 0])
    assert list(geometry(f, w, b, y)) == [m.name for m in METRICS]


def test_margin_distance_is_the_euclidean_distance_to_the_boundary():
    # Two classes in 2-D: W = [[1, 0], [0, 1]], b = 0; the boundary is the line x = y.
    w = torch.eye(2, dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64)
    f = torch.tensor([[3.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    g = geometry(f, w, b, torch.tensor([0, 0]))
    assert torch.allclose(g["margin_distance"], torch.tensor([2 / math.sqrt(2), -2 / math.sqrt(2)],
                                                             dtype=torch.float64))
    assert torch.allclose(g["angles"][0], torch.rad2deg(torch.atan2(torch.tensor([1.0, 3.0]),
                                                                    torch.tensor([3.0, 1.0]))).double())


def test_zero_feature_gives_null_angles_not_nan_rows():
    w = torch.randn(4, 5)
    b = torch.tensor([0.5, 2.0, -1.0, 0.0])
    f = torch.zeros(3, 5)
    g = geometry(f, w, b, torch.tensor([1, 0, 3]))
    assert torch.isnan(g["angles"]).all() and torch.isnan(g["angle_true"]).all()
    # Everything that does not need a direction is still defined: the logits are the biases.
    for key in ("length", "logit_margin", "margin_distance", "prob_true", "loss", "entropy"):
        assert not torch.isnan(g[key]).any(), key
    assert g["pred"].tolist() == [1, 1, 1]
    assert g["correct"].tolist() == [True, False, False]
    assert torch.allclose(g["logit_margin"].float(), torch.tensor([1.5, -1.5, -2.0]))


def test_identical_class_directions_are_decided_by_the_bias():
    # A pruned head can zero two rows: no boundary between them, the bias alone decides.
    w = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([1.0, 0.0, 0.0])
    g = geometry(torch.tensor([[0.1, 0.0]]), w, b, torch.tensor([0]))
    assert g["correct"].item() and g["margin_distance"].item() > 0
