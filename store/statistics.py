"""Is a difference real? Intervals and tests for what the pages compare, from the counts the store
keeps, vectorised over a page's cells. Every test here is a library's (scipy.stats); the one
interval without a library implementation (the paired difference) follows its paper and is
checked for coverage in tests/store/test_statistics.py. docs/statistics.md says which is used
where and what each assumes.

Two models compared on the same samples under the same condition are *paired*: what differs is
only the discordant samples, right for one model and wrong for the other, which the store counts
as pruning-fragile (the reference right, the model wrong) and pruning-gain (the reverse).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

LEVEL = 0.95  # the intervals' confidence level
ALPHA = 0.05  # the false discovery rate a page's family of tests is held to


def _stats():  # scipy.stats takes about a second to import: only pages that test pay it
    import scipy.stats

    return scipy.stats


def accuracy_interval(correct: np.ndarray, n: np.ndarray, level: float = LEVEL
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson's exact interval for an accuracy of `correct` out of `n` (as
    `scipy.stats.binomtest(correct, n).proportion_ci(level, method="exact")`), vectorised through
    the beta quantiles it is made of. It never covers less than `level`."""
    beta = _stats().beta
    k, n = np.asarray(correct, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, beta.ppf(tail, k, n - k + 1), 0.0)
        high = np.where(k < n, beta.ppf(1 - tail, k + 1, n - k), 1.0)
    return low, high


def mcnemar(fragile: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """McNemar's exact test, two-sided: whether a model and its reference are equally accurate on
    the same samples, from the discordant counts alone. Under the null each discordant sample
    goes either way with probability 1/2, so p = min(1, 2 P[Binomial(f + g, 1/2) <= min(f, g)])
    (statsmodels' `mcnemar(table, exact=True)`); 1 where no sample is discordant."""
    f, g = np.asarray(fragile, dtype=float), np.asarray(gain, dtype=float)
    p = 2 * _stats().binom.cdf(np.minimum(f, g), f + g, 0.5)
    return np.where(f + g > 0, np.minimum(p, 1.0), 1.0)


def paired_difference_interval(fragile: np.ndarray, gain: np.ndarray, n: np.ndarray,
                               level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """An interval for a model's accuracy minus its reference's on the same `n` samples,
    (gain - fragile) / n: Bonett & Price's adjusted Wald interval for paired proportions (2012,
    J. Educ. Behav. Stat. 37(4), 479-488), which adds one to each discordant count and two to
    `n`. The plain Wald interval undercovers when the discordant counts are small, as they are
    between close models; this one holds its level there (the tests measure it)."""
    f, g, n = (np.asarray(a, dtype=float) for a in (fragile, gain, n))
    p_gain, p_fragile = (g + 1) / (n + 2), (f + 1) / (n + 2)
    diff = p_gain - p_fragile
    se = np.sqrt(np.maximum(p_gain + p_fragile - diff**2, 0.0) / (n + 2))
    z = _stats().norm.ppf(1 - (1 - level) / 2)
    return np.clip(diff - z * se, -1, 1), np.clip(diff + z * se, -1, 1)


def discoveries(p: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """A page's family of tests corrected for multiplicity with Benjamini-Hochberg's false
    discovery rate (`scipy.stats.false_discovery_control`): the adjusted p-values and which are
    below `alpha`. Of the differences a page calls real, at most a share `alpha` are expected not
    to be. NaN p-values (no test) stay NaN and are never discoveries."""
    p = np.asarray(p, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = _stats().false_discovery_control(p[tested], method="bh")
    return adjusted, np.where(tested, adjusted < alpha, False)


def mean_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, level: float = LEVEL
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Student's t interval for a mean of `n` independent values with sample standard deviation
    `sd` (as `scipy.stats.ttest_1samp(x).confidence_interval(level)`): for a recipe's seeds, or a
    per-sample paired difference. NaN where n < 2 (no spread to measure)."""
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = _stats().t.ppf(1 - (1 - level) / 2, n - 1) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean - half, mean + half


def mean_test(mean: np.ndarray, sd: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p of Student's one-sample t-test that a mean is 0, from the mean, standard
    deviation and count of `n` values (as `scipy.stats.ttest_1samp` of the values); NaN below
    two values. Values without spread are all alike: p is 1 if they are 0, else 0."""
    mean, sd, n = (np.asarray(v, dtype=float) for v in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * _stats().t.sf(np.abs(mean / (sd / np.sqrt(n))), n - 1)
    p = np.where(sd == 0, np.where(mean == 0, 1.0, 0.0), p)
    return np.where(n >= 2, p, np.nan)


def paired_tests(frame: pl.DataFrame, alpha: float = ALPHA) -> pl.DataFrame:
    """`frame` with each row's paired test of a model against its reference, from its `fragile`,
    `gain` and `n` (one condition per row; a row whose `k`, if given, is not 1 pools several and
    is not tested): McNemar's `p`, `p_adjusted` over the whole frame (one page's family,
    Benjamini-Hochberg), `real` (a discovery at `alpha`) and the interval of the change in
    accuracy, `change_low` and `change_high`. Untested rows get nulls and `real` false."""
    one = (pl.col("k") == 1) if "k" in frame.columns else pl.lit(True)
    tested = frame.select((one & pl.col("fragile").is_not_null() & pl.col("n").gt(0))
                          .fill_null(False))
    mask = tested.to_series().to_numpy()
    f, g, n = (frame[c].fill_null(0).to_numpy().astype(float) for c in ("fragile", "gain", "n"))
    p = np.where(mask, mcnemar(f, g), np.nan)
    adjusted, real = discoveries(p, alpha)
    low, high = paired_difference_interval(f, g, np.maximum(n, 1))
    return frame.with_columns(
        pl.Series("p", p).fill_nan(None), pl.Series("p_adjusted", adjusted).fill_nan(None),
        pl.Series("real", real),
        pl.Series("change_low", np.where(mask, low, np.nan)).fill_nan(None),
        pl.Series("change_high", np.where(mask, high, np.nan)).fill_nan(None))


def severity_mean_tests(frame: pl.DataFrame, alpha: float = ALPHA) -> pl.DataFrame:
    """`frame` with each row's test of a model against its reference averaged over a
    corruption's severities, from the mean over its `n` samples of each sample's averaged change
    (`change`, the change in accuracy) and their standard deviation `change_sd`: the paired
    t-test over samples (as `scipy.stats.ttest_1samp` of the per-sample changes; the severities
    of one sample are not independent, the samples are), `p_adjusted` over the whole frame
    (Benjamini-Hochberg), `real`, and the change's t interval `change_low`, `change_high`. A row
    without `change_sd` is not tested."""
    change = frame["change"].to_numpy().astype(float)
    sd = frame["change_sd"].fill_null(np.nan).to_numpy().astype(float)
    n = frame["n"].fill_null(0).to_numpy().astype(float)
    mask = ~np.isnan(sd) & (n > 1)
    p = np.where(mask, mean_test(change, sd, n), np.nan)
    adjusted, real = discoveries(p, alpha)
    low, high = mean_interval(change, sd, n)
    return frame.with_columns(
        pl.Series("p", p).fill_nan(None), pl.Series("p_adjusted", adjusted).fill_nan(None),
        pl.Series("real", real),
        pl.Series("change_low", np.where(mask, low, np.nan)).fill_nan(None),
        pl.Series("change_high", np.where(mask, high, np.nan)).fill_nan(None))


def compare_means(a: np.ndarray, b: np.ndarray, paired: bool = False, level: float = LEVEL
                  ) -> dict[str, float]:
    """mean(a) - mean(b) with its interval and p-value: Welch's t-test for two groups of
    independent values (`scipy.stats.ttest_ind(a, b, equal_var=False)`), or, `paired`, the t-test
    of the pairwise differences (`scipy.stats.ttest_rel`) where a[i] and b[i] share something
    (a seed: the same dense model pruned two ways). NaN where a group has fewer than two values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan = {"difference": float(a.mean() - b.mean()) if len(a) and len(b) else np.nan,
           "low": np.nan, "high": np.nan, "p": np.nan, "df": np.nan}
    if len(a) < 2 or len(b) < 2 or (paired and len(a) != len(b)):
        return nan
    stats = _stats()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (stats.ttest_rel(a, b) if paired else stats.ttest_ind(a, b, equal_var=False))
        ci = result.confidence_interval(level)
    return {"difference": float(a.mean() - b.mean()), "low": float(ci.low),
            "high": float(ci.high), "p": float(result.pvalue), "df": float(result.df)}


def interaction_mean_square(values: np.ndarray) -> float:
    """The residual mean square of a two-way table without replication, `values` (models x
    samples): what is left of each value after its model's and its sample's means,
    sum((y - row mean - column mean + grand mean)^2) / ((M - 1)(N - 1)) (as statsmodels'
    `anova_lm` of y ~ C(model) + C(sample)). Divided by the N samples, it is the variance a
    model's mean over the samples owes to which samples the test set drew, beyond what every
    model shares: the test set's part of the spread between models evaluated on the same
    samples. NaN with fewer than two models or samples."""
    y = np.asarray(values, dtype=float)
    m, n = y.shape
    if m < 2 or n < 2:
        return float("nan")
    residual = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    return float((residual**2).sum() / ((m - 1) * (n - 1)))


def variance_parts(groups: np.ndarray, values: np.ndarray,
                   sampling: float = float("nan")) -> dict[str, float]:
    """How much of the spread of `values` (one per model) lies between its `groups` (methods) and
    how much within them (seeds): one-way random-effects ANOVA. The mean squares between and
    within give the components, sigma2_seed = MS_within and sigma2_method = (MS_between -
    MS_within) / n0 (floored at 0), n0 the group size (its unbalanced form, (N - sum n_i^2 / N) /
    (k - 1)); `method_share` is sigma2_method / (sigma2_method + sigma2_seed), and `p` the F-test
    (`scipy.stats.f_oneway`) of "the methods' means are equal" against the seeds' spread. NaN
    where there are fewer than two groups or no group with two values.

    `sampling`, where known, is the variance a model's value owes to the test samples beyond what
    all the models share (interaction_mean_square / samples): the spread between seeds holds it
    too, so `sample_sd` is its root, `seed_sd` what the seeds add beyond it (floored at 0), and
    `sample_share` its part of the total, so that `method_share`, `seed_share` and
    `sample_share` add up to 1. Unknown (NaN), the seeds' part keeps it."""
    groups, values = np.asarray(groups), np.asarray(values, dtype=float)
    labels = list(dict.fromkeys(groups.tolist()))
    samples = [values[groups == g] for g in labels]
    n, k = len(values), len(labels)
    out = dict.fromkeys(("method_sd", "seed_sd", "sample_sd", "method_share", "seed_share",
                         "sample_share", "F", "p"), np.nan)
    if k < 2 or n - k < 1:
        return out
    grand = values.mean()
    ms_between = sum(len(s) * (s.mean() - grand) ** 2 for s in samples) / (k - 1)
    ms_within = sum(((s - s.mean()) ** 2).sum() for s in samples) / (n - k)
    n0 = (n - sum(len(s) ** 2 for s in samples) / n) / (k - 1)
    method = max((ms_between - ms_within) / n0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        test = _stats().f_oneway(*samples)
    total = method + ms_within
    seed = ms_within if np.isnan(sampling) else max(ms_within - sampling, 0.0)
    return {"method_sd": float(np.sqrt(method)), "seed_sd": float(np.sqrt(seed)),
            "sample_sd": float(np.sqrt(sampling)),
            "method_share": float(method / total) if total > 0 else np.nan,
            "seed_share": float(seed / total) if total > 0 else np.nan,
            "sample_share": (float((ms_within - seed) / total) if total > 0 else np.nan)
            if not np.isnan(sampling) else np.nan,
            "F": float(test.statistic), "p": float(test.pvalue)}


# What the Overview's robustness figures are, as functions of per-sample counts (robustness_
# bootstrap's statistic): mean corruption accuracy, mCE, relative mCE and its pooled variant.
ROBUSTNESS_MEASURES = ("mean_corruption_accuracy", "mce", "relative_mce", "pooled_relative_mce")
RESAMPLES = 1000  # bootstrap resamples: a percentile interval's ends move by ~0.1 se between seeds


def _robustness(counts: np.ndarray, severities: np.ndarray) -> np.ndarray:
    """ROBUSTNESS_MEASURES from `counts` (2 corruptions + 2, ..., samples): per sample, a model's
    errors summed over each corruption's severities, its reference's, then the model's clean
    error and the reference's. A degradation is errors minus the clean error at each severity."""
    sums = counts.sum(axis=-1, dtype=np.int32).astype(float)
    c = len(severities)
    errors, ref_errors = sums[:c], sums[c:2 * c]
    k = severities.reshape((-1,) + (1,) * (errors.ndim - 1))
    degradation, ref_degradation = errors - k * sums[2 * c], ref_errors - k * sums[2 * c + 1]
    n = counts.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        # A corruption the reference never gets wrong has no CE: left out, as SQL's avg does.
        ce = np.where(ref_errors > 0, errors / ref_errors, 0.0)
        ratio = degradation / ref_degradation
        relative = np.where((ref_degradation == 0).any(axis=0), np.nan, ratio.mean(axis=0))
        return np.stack([
            1 - errors.sum(axis=0) / (n * k.sum(axis=0)),
            100 * ce.sum(axis=0) / (ref_errors > 0).sum(axis=0),
            100 * relative,
            100 * degradation.sum(axis=0) / ref_degradation.sum(axis=0)])


def robustness_bootstrap(errors: np.ndarray, clean_errors: np.ndarray,
                         reference_errors: np.ndarray, reference_clean_errors: np.ndarray,
                         severities: np.ndarray, resamples: int = RESAMPLES, seed: int = 0,
                         level: float = LEVEL) -> dict[str, tuple[float, float, float]]:
    """Each of ROBUSTNESS_MEASURES with its percentile bootstrap interval over the test samples
    (`scipy.stats.bootstrap`): measure -> (estimate, low, high), NaN where undefined.
    `errors` and `reference_errors` are (corruptions, samples): how many of a corruption's
    `severities` (a count per corruption) each sample is misclassified under, by the model and by
    its reference; `clean_errors` and `reference_clean_errors` (samples) are 1 where it is on
    clean data. Every array holds the samples in the same order. A resample draws samples, and
    each drawn sample brings all its counts, the model's and the reference's: the intervals are
    paired with the reference, and the corruptions' errors stay as correlated as they are.
    Seeded, so a build is reproducible."""
    counts = np.concatenate([errors, reference_errors, np.stack([clean_errors,
                                                                 reference_clean_errors])])
    # The resampling copies these counts a thousand times over: the narrowest type they fit.
    counts = counts.astype(np.int8 if np.abs(counts).max(initial=0) < 128 else np.int32)
    severities = np.asarray(severities, dtype=float)
    estimate = _robustness(counts, severities)
    stats = _stats()
    # An undefined figure (NaN) has an undefined interval: expected, not worth a warning.
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (counts,), lambda x, axis: _robustness(x, severities), vectorized=True, axis=-1,
            n_resamples=resamples, batch=100, method="percentile", confidence_level=level,
            rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return {m: (float(estimate[i]), float(low[i]), float(high[i]))
            for i, m in enumerate(ROBUSTNESS_MEASURES)}
