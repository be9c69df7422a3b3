"""store/statistics.py against the libraries it stands for (statsmodels and scipy's scalar
functions on hand-built counts), and its intervals' coverage measured over simulated draws: a
95 % interval must cover the true value 93-97 % of the time."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from store import statistics

# (fragile, gain, n): none discordant, one, balanced, lopsided, large, and all discordant
COUNTS = [(0, 0, 100), (1, 0, 100), (7, 7, 500), (3, 19, 500), (412, 377, 10_000),
          (0, 25, 25), (136, 3, 450)]


@pytest.mark.parametrize(("fragile", "gain", "n"), COUNTS)
def test_mcnemar_is_statsmodels_exact_test(fragile, gain, n):
    both_right = n - fragile - gain  # the concordant cells do not enter the exact test
    table = [[both_right, fragile], [gain, 0]]
    expected = sm_mcnemar(table, exact=True).pvalue
    assert statistics.mcnemar(np.array([fragile]), np.array([gain]))[0] == pytest.approx(expected)


@pytest.mark.parametrize(("fragile", "gain", "n"), COUNTS)
def test_accuracy_interval_is_scipys_exact_binomial_interval(fragile, gain, n):
    correct = n - fragile  # any count out of n
    low, high = statistics.accuracy_interval(np.array([correct]), np.array([n]))
    ci = scipy.stats.binomtest(correct, n).proportion_ci(0.95, method="exact")
    assert (low[0], high[0]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    sm = proportion_confint(correct, n, alpha=0.05, method="beta")
    assert (low[0], high[0]) == pytest.approx(sm, abs=1e-12)


def test_discoveries_are_benjamini_hochberg_and_skip_untested_cells():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.01, 5), rng.uniform(0, 1, 40)])
    reject, adjusted, *_ = multipletests(p, alpha=0.05, method="fdr_bh")
    got, found = statistics.discoveries(p)
    assert got == pytest.approx(adjusted) and (found == reject).all()
    with_gaps = np.array([0.001, np.nan, 0.04, np.nan])
    got, found = statistics.discoveries(with_gaps)
    assert np.isnan(got[[1, 3]]).all() and not found[[1, 3]].any()
    assert got[[0, 2]] == pytest.approx(multipletests([0.001, 0.04], method="fdr_bh")[1])


def test_mean_interval_is_the_one_sample_t_interval():
    x = np.array([0.712, 0.695, 0.731])  # three seeds' accuracies
    ci = scipy.stats.ttest_1samp(x, 0).confidence_interval(0.95)
    low, high = statistics.mean_interval(x.mean(), x.std(ddof=1), 3)
    assert (low, high) == pytest.approx((ci.low, ci.high))
    low, _ = statistics.mean_interval(np.array([0.7]), np.array([0.0]), np.array([1]))
    assert np.isnan(low).all()  # one seed: no interval


@settings(max_examples=200, deadline=None)
@given(fragile=st.integers(0, 500), gain=st.integers(0, 500), rest=st.integers(0, 2000))
def test_the_paired_interval_holds_the_observed_difference_inside_minus_one_to_one(fragile, gain,
                                                                                    rest):
    n = fragile + gain + rest
    if n == 0:
        return
    low, high = statistics.paired_difference_interval(fragile, gain, n)
    assert -1 <= low <= high <= 1
    # Its centre is the adjusted estimate, pulled towards 0 from the observed difference.
    observed = (gain - fragile) / n
    assert abs((low + high) / 2) <= abs(observed) + 1e-12
    p = statistics.mcnemar(np.array([fragile]), np.array([gain]))[0]
    assert 0 <= p <= 1
    assert p == pytest.approx(statistics.mcnemar(np.array([gain]), np.array([fragile]))[0])


# Cell probabilities of (reference right, model wrong) and (reference wrong, model right): close
# models with few discordant samples (17.5 expected), a pruned model a few points worse, a
# collapsed one, and two very close models on CIFAR-10's 10,000.
TRUTHS = [(0.02, 0.015, 500), (0.04, 0.02, 1000), (0.06, 0.03, 200), (0.3, 0.02, 300),
          (0.005, 0.005, 10_000)]


@pytest.mark.parametrize(("p_fragile", "p_gain", "n"), TRUTHS)
def test_the_paired_interval_covers_the_true_difference_95_percent_of_the_time(p_fragile, p_gain,
                                                                               n):
    rng = np.random.default_rng(1)
    draws = rng.multinomial(n, [p_fragile, p_gain, 1 - p_fragile - p_gain], size=4000)
    low, high = statistics.paired_difference_interval(draws[:, 0], draws[:, 1], n)
    truth = p_gain - p_fragile
    coverage = ((low <= truth) & (truth <= high)).mean()
    assert 0.93 <= coverage <= 0.97, coverage


def test_with_a_handful_of_discordant_samples_the_paired_interval_errs_on_the_wide_side():
    """Nine discordant samples expected: the adjustment's added counts weigh, and the interval
    covers more than 95 % (never less than 93 %)."""
    rng = np.random.default_rng(4)
    draws = rng.multinomial(500, [0.01, 0.008, 0.982], size=4000)
    low, high = statistics.paired_difference_interval(draws[:, 0], draws[:, 1], 500)
    coverage = ((low <= -0.002) & (high >= -0.002)).mean()
    assert coverage >= 0.95, coverage


@pytest.mark.parametrize(("accuracy", "n"), [(0.92, 450), (0.5, 1000), (0.1, 10_000)])
def test_the_accuracy_interval_covers_the_true_accuracy_95_percent_of_the_time(accuracy, n):
    rng = np.random.default_rng(2)
    correct = rng.binomial(n, accuracy, size=4000)
    low, high = statistics.accuracy_interval(correct, np.full(4000, n))
    coverage = ((low <= accuracy) & (accuracy <= high)).mean()
    assert 0.93 <= coverage <= 0.97, coverage


def test_mcnemar_rejects_at_its_level_under_the_null():
    """Equal accuracy (discordant samples either way at random): an exact test rejects at most
    5 % of the time, and not much less at these counts."""
    rng = np.random.default_rng(3)
    discordant = rng.binomial(1000, 0.06, size=4000)
    gain = rng.binomial(discordant, 0.5)
    rejected = (statistics.mcnemar(discordant - gain, gain) < 0.05).mean()
    assert 0.03 <= rejected <= 0.05, rejected


def test_two_recipes_compared_over_seeds_is_welchs_and_the_paired_t_test():
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    a = np.array([0.712, 0.695, 0.731])
    b = np.array([0.701, 0.690, 0.705])
    welch = statistics.compare_means(a, b)
    sm = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    assert welch["p"] == pytest.approx(sm.ttest_ind(usevar="unequal")[1])
    assert (welch["low"], welch["high"]) == pytest.approx(sm.tconfint_diff(usevar="unequal"))
    paired = statistics.compare_means(a, b, paired=True)
    d = DescrStatsW(a - b)
    assert paired["p"] == pytest.approx(d.ttest_mean()[1])
    assert (paired["low"], paired["high"]) == pytest.approx(d.tconfint_mean())
    assert paired["df"] == 2
    one = statistics.compare_means(a[:1], b)
    assert one["difference"] == pytest.approx(a[0] - b.mean()) and np.isnan(one["p"])


def test_variance_parts_are_the_anova_mean_squares():
    """Against statsmodels' ANOVA table of value ~ method: its mean squares give the components,
    its F and p the test; unbalanced (a method with three seeds, two with two)."""
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    methods = np.array(["gmp", "gmp", "gmp", "snip", "snip", "random", "random"])
    values = np.array([0.71, 0.69, 0.72, 0.70, 0.73, 0.55, 0.58])
    table = anova_lm(ols("v ~ C(m)", pd.DataFrame({"v": values, "m": methods})).fit())
    ms_between, ms_within = table["mean_sq"].iloc[0], table["mean_sq"].iloc[1]
    n0 = (7 - (9 + 4 + 4) / 7) / 2
    got = statistics.variance_parts(methods, values)
    assert got["seed_sd"] ** 2 == pytest.approx(ms_within)
    assert got["method_sd"] ** 2 == pytest.approx((ms_between - ms_within) / n0)
    assert got["F"] == pytest.approx(table["F"].iloc[0])
    assert got["p"] == pytest.approx(table["PR(>F)"].iloc[0])
    share = got["method_sd"] ** 2 / (got["method_sd"] ** 2 + got["seed_sd"] ** 2)
    assert got["method_share"] == pytest.approx(share) and share > 0.9  # random stands apart


def test_variance_parts_recover_what_the_methods_and_the_seeds_add():
    """Simulated: 6 methods whose means spread with sd 0.02, 5 seeds each with sd 0.01: over
    many draws the estimated components average to the true ones."""
    rng = np.random.default_rng(5)
    methods = np.repeat(np.arange(6), 5)
    estimates = []
    for _ in range(400):
        values = (rng.normal(0, 0.02, 6)[methods] + rng.normal(0, 0.01, 30))
        parts = statistics.variance_parts(methods, values)
        estimates.append((parts["method_sd"] ** 2, parts["seed_sd"] ** 2))
    method_var, seed_var = np.mean(estimates, axis=0)
    assert seed_var == pytest.approx(0.01**2, rel=0.05)
    assert method_var == pytest.approx(0.02**2, rel=0.15)


def test_variance_parts_need_two_methods_and_a_repeated_seed():
    assert np.isnan(statistics.variance_parts(np.array(["a", "a"]), np.array([1.0, 2.0]))["p"])
    assert np.isnan(statistics.variance_parts(np.array(["a", "b"]), np.array([1.0, 2.0]))["p"])


def test_the_robustness_figures_are_their_definitions_on_a_hand_worked_population():
    """Two corruptions (two severities and one), four samples. Model errors per corruption
    [2, 1, 0, 1] and [1, 0, 0, 1], clean [1, 0, 0, 0]; the reference's [1, 1, 0, 0] and
    [1, 1, 0, 0], clean [0, 0, 0, 0]. Mean corruption accuracy 1 - 6 / (4 * 3) = 1/2; CEs 4/2
    and 2/2, mCE 150; degradations (4 - 2, 2 - 1) over the reference's (2, 2): relative mCE
    100 * (1 + 1/2) / 2 = 75, pooled 100 * 3 / 4 = 75."""
    figures = statistics.robustness_bootstrap(
        np.array([[2, 1, 0, 1], [1, 0, 0, 1]]), np.array([1, 0, 0, 0]),
        np.array([[1, 1, 0, 0], [1, 1, 0, 0]]), np.array([0, 0, 0, 0]), np.array([2, 1]),
        resamples=200)
    estimates = {m: v[0] for m, v in figures.items()}
    assert estimates == pytest.approx({"mean_corruption_accuracy": 1 / 2, "mce": 150.0,
                                       "relative_mce": 75.0, "pooled_relative_mce": 75.0})


def test_relative_mce_is_undefined_where_a_reference_does_not_degrade():
    figures = statistics.robustness_bootstrap(
        np.array([[2, 1], [1, 0]]), np.array([1, 0]), np.array([[1, 1], [0, 0]]),
        np.array([0, 0]), np.array([2, 2]), resamples=50)
    assert np.isnan(figures["relative_mce"]).all()
    assert not np.isnan(figures["mce"][0])


def _population(size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per-sample counts of a model and its reference under three corruptions at five
    severities: a sample's difficulty makes its errors correlated across corruptions and
    between the two models, as a test set's are."""
    difficulty = rng.normal(size=size)
    def errors(shift: np.ndarray, noise: float) -> np.ndarray:
        p = 1 / (1 + np.exp(-(difficulty[None] + shift[:, None] + noise * rng.normal(size=(3, size)))))
        return rng.binomial(5, p)
    clean_r = (rng.random(size) < 1 / (1 + np.exp(-(difficulty - 2.5)))).astype(int)
    clean_m = np.maximum(clean_r, rng.random(size) < 0.03).astype(int)
    return (errors(np.array([-0.5, -1.0, -1.2]), 0.5), clean_m,
            errors(np.array([-1.0, -1.3, -1.6]), 0.5), clean_r)


def test_the_robustness_intervals_cover_the_population_figures_95_percent_of_the_time():
    """Samples drawn from a large population of correlated per-sample errors: the bootstrap's
    95 % intervals of mean corruption accuracy, mCE and relative mCE cover the population's own
    figures 93-97 % of the time."""
    rng = np.random.default_rng(7)
    population = _population(200_000, rng)
    severities = np.full(3, 5)
    truth = statistics.robustness_bootstrap(*population, severities, resamples=2)
    draws, size = 500, 1000
    covered = {m: 0 for m in ("mean_corruption_accuracy", "mce", "relative_mce")}
    for seed in range(draws):
        pick = rng.integers(0, 200_000, size)
        e, c, re, rc = population
        figures = statistics.robustness_bootstrap(e[:, pick], c[pick], re[:, pick], rc[pick],
                                                  severities, resamples=400, seed=seed)
        for m in covered:
            covered[m] += figures[m][1] <= truth[m][0] <= figures[m][2]
    for m, k in covered.items():
        assert 0.93 <= k / draws <= 0.97, (m, k / draws)


def test_the_intervals_are_paired_with_the_reference():
    """A model that errs as its reference does on all but a few samples has an mCE near 100 with
    a narrow interval, though each corruption error alone is measured to a few percent: the
    samples' difficulty cancels in a paired resample and would not in independent ones."""
    rng = np.random.default_rng(3)
    _, _, re, rc = _population(5_000, rng)
    model = re.copy()
    model[:, :25] = np.minimum(model[:, :25] + 1, 5)
    figures = statistics.robustness_bootstrap(model, rc, re, rc, np.full(3, 5))
    _, low, high = figures["mce"]
    relative_se = np.sqrt(re.var(axis=1, ddof=1) / re.shape[1]) / re.mean(axis=1)
    assert high - low < 0.2 * (2 * 1.96 * 100 * relative_se.min())


def test_a_change_averaged_over_severities_is_the_paired_t_test_of_the_per_sample_changes():
    """From the moments the store keeps (mean, sd, n of each sample's change averaged over the
    severities), the p-value and interval are scipy's ttest_1samp on the per-sample changes."""
    import polars as pl

    rng = np.random.default_rng(5)
    changes = [rng.integers(-1, 2, size=(n, 5)).mean(axis=1) * w
               for n, w in ((450, 1), (1000, 0.3), (30, 1))]
    frame = pl.DataFrame({"change": [d.mean() for d in changes],
                          "change_sd": [d.std(ddof=1) for d in changes],
                          "n": [len(d) for d in changes]})
    tested = statistics.severity_mean_tests(frame)
    for d, row in zip(changes, tested.iter_rows(named=True), strict=True):
        reference = scipy.stats.ttest_1samp(d, 0)
        ci = reference.confidence_interval(0.95)
        assert row["p"] == pytest.approx(reference.pvalue, rel=1e-9)
        assert (row["change_low"], row["change_high"]) == pytest.approx((ci.low, ci.high))
    unchanged = statistics.severity_mean_tests(pl.DataFrame(
        {"change": [0.0, 0.1], "change_sd": [0.0, None], "n": [450, 450]}))
    assert unchanged["p"].to_list() == [1.0, None] and unchanged["real"].to_list() == [False, False]


def test_the_averaged_change_interval_covers_the_true_change_95_percent_of_the_time():
    """450 samples (the demo's), each changed at five correlated severities: the t interval of
    the per-sample averaged change covers the population's change 93-97 % of the time."""
    rng = np.random.default_rng(11)
    draws, n = 4000, 450
    flip = rng.random((draws, n, 1)) < 0.15  # samples pruning touches, at most severities
    sign = np.where(rng.random((draws, n, 1)) < 0.6, -1, 1)
    per_severity = flip * sign * (rng.random((draws, n, 5)) < 0.8)
    d = per_severity.mean(axis=2)
    truth = 0.15 * (0.4 - 0.6) * 0.8
    low, high = statistics.mean_interval(d.mean(axis=1), d.std(axis=1, ddof=1), np.full(draws, n))
    assert 0.93 <= ((low <= truth) & (truth <= high)).mean() <= 0.97


def test_the_interaction_mean_square_is_the_two_way_anovas_residual():
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(2)
    y = rng.random((4, 30)) < 0.7
    frame = pd.DataFrame({"y": y.ravel().astype(float), "model": np.repeat(np.arange(4), 30),
                          "sample": np.tile(np.arange(30), 4)})
    table = anova_lm(ols("y ~ C(model) + C(sample)", frame).fit())
    assert statistics.interaction_mean_square(y) == pytest.approx(table["mean_sq"].iloc[-1])
    assert np.isnan(statistics.interaction_mean_square(y[:1]))


def test_the_seeds_part_is_what_they_add_beyond_the_test_samples():
    """Models of 4 recipes x 4 seeds scored on the same 300 samples: y = recipe + seed + the
    sample's difficulty (shared by every model) + noise of each model on each sample. Over many
    draws the seeds' component averages to the seed's variance, and the samples' part to the
    noise's variance over 300: the shared difficulty moves no model against another."""
    rng = np.random.default_rng(9)
    recipes = np.repeat(np.arange(4), 4)
    n, seed_sd, noise_sd = 300, 0.01, 0.2
    seeds, samples = [], []
    for _ in range(300):
        y = (rng.normal(0, 0.03, 4)[recipes][:, None] + rng.normal(0, seed_sd, 16)[:, None]
             + rng.normal(0, 0.3, n)[None] + rng.normal(0, noise_sd, (16, n)))
        sampling = statistics.interaction_mean_square(y) / n
        parts = statistics.variance_parts(recipes, y.mean(axis=1), sampling)
        seeds.append(parts["seed_sd"] ** 2)
        samples.append(parts["sample_sd"] ** 2)
        assert parts["method_share"] + parts["seed_share"] + parts["sample_share"] == (
            pytest.approx(1))
    assert np.mean(samples) == pytest.approx(noise_sd**2 / n, rel=0.02)
    assert np.mean(seeds) == pytest.approx(seed_sd**2, rel=0.15)
    plain = statistics.variance_parts(recipes, y.mean(axis=1))  # unknown: the seeds keep it
    assert np.isnan(plain["sample_sd"]) and plain["seed_sd"] > parts["seed_sd"]
