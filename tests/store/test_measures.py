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
    # Errors in tenths. Dense: clean 1; a 6, 9; b 1, 2; c 2, 2. Pruned: clean 2; a 7, 10; b 4, 6;
    # c 2, 3. mCE: a (7+10)/(6+9), b (4+6)/(1+2), c (2+3)/(2+2).
    assert pruned["mce"] == pytest.approx(100 * (17 / 15 + 10 / 3 + 5 / 4) / 3)
    # Relative: the clean error comes off at every severity. a ((7-2)+(10-2))/((6-1)+(9-1)) =
    # 13/13, b ((4-2)+(6-2))/((1-1)+(2-1)) = 6, c ((2-2)+(3-2))/((2-1)+(2-1)) = 1/2; published:
    # their mean. Pooled: (13+6+1)/(13+1+2).
    assert pruned["relative_mce"] == pytest.approx(100 * (1 + 6 + 0.5) / 3)
    assert pruned["pooled_relative_mce"] == pytest.approx(100 * 20 / 16)
    dense = by_model["dense"]
    assert dense["mce"] == pytest.approx(100) and dense["relative_mce"] == pytest.approx(100)


def test_corruptions_whose_reference_degradation_is_imprecise_are_flagged(rows):
    by_model, con = rows
    # The dense model's per-sample degradation d (sum over severities of wrong - wrong on clean):
    # a: 0,2,2,2,2,2,1,1,1,0 (mean 1.3, se .26: 5.0 standard errors, precise); b: 0,1,0,...
    # (mean .1, se .1: 1 standard error); c: 0,2,0,... (mean .2, se .2: 1).
    found = {r["corruption"]: r for r in queries.reference_degradation(con).iter_rows(named=True)}
    a = np.array([0, 2, 2, 2, 2, 2, 1, 1, 1, 0])
    assert found["a_noise"]["degradation"] == pytest.approx(1.3)
    assert found["a_noise"]["se"] == pytest.approx(a.std(ddof=1) / np.sqrt(N))
    assert found["b_blur"]["se"] == pytest.approx(0.1)
    assert [c for c, r in found.items() if r["unstable"]] == ["b_blur", "c_fog"]
    pruned = by_model["pruned"]
    assert pruned["unstable_corruptions"] == "b_blur, c_fog"
    assert pruned["stable_relative_mce"] == pytest.approx(100.0)  # a alone


def test_per_corruption_ratios_are_what_the_average_is_of(rows):
    _, con = rows
    ratios = {(r["model"], r["corruption"]): r for r in queries.relative_ce(con).iter_rows(named=True)}
    assert ratios[("pruned", "b_blur")]["relative_ce"] == pytest.approx(600.0)
    assert ratios[("pruned", "c_fog")]["relative_ce"] == pytest.approx(50.0)
    assert ratios[("pruned", "a_noise")]["ce"] == pytest.approx(100 * 17 / 15)
    assert ratios[("pruned", "b_blur")]["unstable"] and not ratios[("pruned", "a_noise")]["unstable"]


def test_the_reference_scores_100_with_no_spread_where_resamples_lose_its_degradation(rows):
    """Ten samples: many resamples draw none of those the dense reference degrades on under
    b_blur and c_fog. Its own ratios are still 100 with no spread (a count over itself); the
    pruned model's relative mCE has no bound there, and says so by having no interval."""
    _, con = rows
    stored = {r["model"]: r for r in queries.robustness_intervals(con).iter_rows(named=True)}
    for measure in ("mce", "relative_mce", "pooled_relative_mce"):
        assert (stored["dense"][f"{measure}_low"], stored["dense"][f"{measure}_high"]) == (100, 100)
    assert stored["pruned"]["relative_mce"] == pytest.approx(250.0)
    assert stored["pruned"]["relative_mce_low"] is None
    assert stored["pruned"]["mce_low"] < stored["pruned"]["mce"] < stored["pruned"]["mce_high"]
