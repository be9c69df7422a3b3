"""The published measures the Overview names, on a population worked out by hand
(tests/support/measures.py: hand_measures_store): everything below follows from its counts of
wrong samples with pencil and paper."""

from __future__ import annotations

import numpy as np
import pytest

from store import open_store, queries
from tests.support.measures import N, hand_measures_store


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    con = open_store(hand_measures_store(tmp_path_factory.mktemp("measures") / "hand.duckdb"))
    yield {r["model"]: r for r in queries.model_overview(con).iter_rows(named=True)}, con
    con.close()


def test_relative_mce_is_the_published_average_of_per_corruption_ratios(rows):
    by_model, _ = rows
    pruned = by_model["pruned"]
    # Errors in tenths. Dense: clean 1; a 3, 5; b 1, 2; c 2, 2. Pruned: clean 2; a 4, 6; b 4, 6;
    # c 2, 3. mCE: a (4+6)/(3+5), b (4+6)/(1+2), c (2+3)/(2+2).
    assert pruned["mce"] == pytest.approx(100 * (10 / 8 + 10 / 3 + 5 / 4) / 3)
    # Relative, corruption by corruption: a (2+4)/(2+4) = 1, b (2+4)/(0+1) = 6, c (0+1)/(1+1)
    # = 1/2; published: their mean. Pooled: (6+6+1)/(6+1+2).
    assert pruned["relative_mce"] == pytest.approx(100 * (1 + 6 + 0.5) / 3)
    assert pruned["pooled_relative_mce"] == pytest.approx(100 * 13 / 9)
    dense = by_model["dense"]
    assert dense["mce"] == pytest.approx(100) and dense["relative_mce"] == pytest.approx(100)


def test_corruptions_the_reference_barely_degrades_under_are_flagged(rows):
    by_model, con = rows
    # The dense model's per-sample degradation d (sum over severities of wrong - wrong on clean):
    # a: 0,2,2,1,1,0,0,0,0,0 (mean .6, sd .843, se .267: .6 > 2 se, stable); b: 0,1,0,... (mean
    # .1, se .1: under 2 se); c: 0,2,0,... (mean .2, se .2: under 2 se).
    found = {r["corruption"]: r for r in queries.reference_degradation(con).iter_rows(named=True)}
    assert found["a_noise"]["degradation"] == pytest.approx(0.6)
    assert found["a_noise"]["se"] == pytest.approx(np.std([0, 2, 2, 1, 1, 0, 0, 0, 0, 0], ddof=1)
                                                  / np.sqrt(N))
    assert found["b_blur"]["se"] == pytest.approx(0.1)
    assert [c for c, r in found.items() if r["unstable"]] == ["b_blur", "c_fog"]
    pruned = by_model["pruned"]
    assert pruned["unstable_corruptions"] == "b_blur, c_fog"
    assert pruned["stable_relative_mce"] == pytest.approx(100.0)  # a alone
