"""How sure a page's figures are, drawn beside them: intervals as text in a table's unit and
warnings where a figure rests on too few seeds. The statistics are store/statistics.py's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import streamlit as st

from app import state
from app.shared import query
from store import queries, statistics


def seed_intervals(curves: pl.DataFrame, percent: bool) -> pl.DataFrame:
    """`curves` (a group's `mean`, `std`, `low`, `high` over its `seeds`) with its seeds' range and
    the t interval of its mean as text, `interval`, in points where the measure is a fraction
    shown in percent (`percent`), cut to 0-100 % (a t interval knows no bounds, an accuracy
    does); none for one seed."""
    low, high = statistics.mean_interval(curves["mean"].to_numpy(), curves["std"].to_numpy(),
                                         curves["seeds"].to_numpy())
    if percent:
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    scale, digits = (100, ".1f") if percent else (1, ".4g")
    unit = " %" if percent else ""
    text = [None if lo != lo else f"{lo * scale:{digits}} to {hi * scale:{digits}}{unit}"
            for lo, hi in zip(low, high, strict=True)]
    return curves.with_columns(  # one seed has no range, as it has no spread
        pl.when(pl.col("seeds") > 1).then(pl.col("high") - pl.col("low")).alias("range"),
        pl.Series("interval", text, dtype=pl.String))


def few_seeds(curves: pl.DataFrame) -> None:
    """A warning naming the groups (`recipe`, `method`, `target_sparsity`, `seeds`) whose figures
    rest on two seeds: their spread and interval are there, but too loose to tell the seed's
    part from the method's."""
    two = curves.filter(pl.col("seeds") == 2)
    if two.is_empty():
        return
    names = [r if m == "dense" else f"{r} at {s:.0%}" for r, m, s in
             two.select("recipe", "method", "target_sparsity").iter_rows()]
    st.warning(f"**{len(names)} of {len(curves)} rest on two seeds** ({', '.join(names[:6])}"
               f"{', ...' if len(names) > 6 else ''}): with one degree of freedom a 95 % "
               "interval reaches 12.7 standard errors either side of the mean, too loose to tell "
               "the seed's part from the method's. Three seeds narrow it to 4.3, five to 2.8.")


def head_to_head(values: pl.DataFrame, name: str, label: str, percent: bool) -> None:
    """Two recipes at one sparsity, compared over their seeds: each one's mean, the difference
    with its interval and p-value (Welch's t-test; the paired t-test where both have the same
    seeds, each seed's dense model pruned both ways); for an accuracy, the paired per-sample test
    pooled over the seeds beside it, and a link to compare the two recipes condition by
    condition. `values`: one row per model of measure `name` with `model_id`, `model`, `recipe`,
    `method`, `target_sparsity`, `seed` and `value`."""
    pruned = values.filter(pl.col("method") != "dense")
    levels = sorted(pruned.group_by("target_sparsity").agg(pl.col("recipe").n_unique())
                    .filter(pl.col("recipe") >= 2)["target_sparsity"].to_list())
    if not levels:
        return
    st.markdown("**Two recipes, head to head.** Is the difference between two methods larger than "
                "what their seeds alone would give?")
    left, mid, right = st.columns(3)
    with left:
        level = state.selectbox("At sparsity", levels, key="h2h_sparsity",
                                default=0.9 if 0.9 in levels else levels[-1],
                                format_func=lambda s: f"{s:.0%}")
    recipes = pruned.filter(pl.col("target_sparsity") == level)["recipe"].unique(
        maintain_order=True).to_list()
    with mid:
        first = state.selectbox("Recipe", recipes, key="h2h_a", default=recipes[0])
    with right:
        others = [r for r in recipes if r != first]
        second = state.selectbox("against", others, key="h2h_b", default=others[0])
    at = pruned.filter(pl.col("target_sparsity") == level)
    a, b = finite_seeds(*(at.filter(pl.col("recipe") == r).sort("seed") for r in (first, second)),
                        label=label)
    paired = a["seed"].to_list() == b["seed"].to_list() and a["seed"].null_count() == 0
    result = statistics.compare_means(a["value"].to_numpy(), b["value"].to_numpy(), paired=paired)
    def fmt(v: float) -> str:  # a difference: points for a measure shown in percent
        return f"{100 * v:+.2f} pts" if percent else f"{v:+.4g}"

    def level_of(v: float) -> str:
        return f"{100 * v:.2f} %" if percent else f"{v:.4g}"

    if min(len(a), len(b)) < 2:
        st.info(f"{first} or {second} has fewer than two seeds with a value at {level:.0%}: "
                + (f"a difference of {fmt(result['difference'])}, but " if len(a) and len(b)
                   else "") + "no spread to test it against.")
        return
    how = ("paired by seed (each seed's dense model pruned both ways; t-test of the differences)"
           if paired else "Welch's t-test over the seeds")
    st.markdown(
        f"{label}: **{first}** {level_of(a['value'].mean())} ({len(a)} seeds) against "
        f"**{second}** {level_of(b['value'].mean())} ({len(b)} seeds): difference "
        f"**{fmt(result['difference'])}**, 95 % interval {fmt(result['low'])} to "
        f"{fmt(result['high'])}, p = {result['p']:.3g}, {how}, {result['df']:.3g} "
        f"degree{'' if result['df'] == 1 else 's'} of freedom.")
    pooled_test(name, a, b, first, second, fmt)
    if min(len(a), len(b)) < 3:
        st.warning(f"This rests on {min(len(a), len(b))} seeds: " + (
            "the seeds' spread is estimated from so few values that a p this small is fragile; "
            "more seeds per recipe would confirm it." if result["p"] < statistics.ALPHA else
            "with so few, a real difference of this size can go unseen, and the interval is "
            "wide.") + " Three seeds or more per recipe make the comparison informative.")


def finite_seeds(a: pl.DataFrame, b: pl.DataFrame, label: str
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two recipes' seeds (`model` and `value`) without the models whose value is not finite,
    named in one warning: a lost class puts the distance to its boundary at -inf, which says
    nothing about the other seeds."""
    lost = [m for part in (a, b) for m in part.filter(~pl.col("value").is_finite()
                                                      | pl.col("value").is_null())["model"]]
    if not lost:
        return a, b
    st.warning(f"{', '.join(lost)} {'has' if len(lost) == 1 else 'have'} no finite {label} (a "
               "class whose samples are all misclassified puts the distance to its boundary at "
               f"−∞): the comparison below leaves {'it' if len(lost) == 1 else 'them'} out.")
    return a.filter(pl.col("value").is_finite()), b.filter(pl.col("value").is_finite())


def pooled_test(name: str, a: pl.DataFrame, b: pl.DataFrame, first: str, second: str,
                fmt: Callable[[float], str]) -> None:
    """Recipes `first` and `second` (their models' rows `a` and `b`) on the same test samples,
    these seeds held fixed: the paired t-test over the samples of each one's accuracy averaged
    over the seeds (store.queries.pooled_sample_difference), and a link to Compare two."""
    ids_a, ids_b = a["model_id"].to_list(), b["model_id"].to_list()
    pooled = query(queries.pooled_sample_difference, name, ids_a, ids_b)
    if pooled and pooled["n"] >= 2:
        (low,), (high,) = statistics.mean_interval([pooled["mean"]], [pooled["sd"]],
                                                    [pooled["n"]])
        (p,) = statistics.mean_test([pooled["mean"]], [pooled["sd"]], [pooled["n"]])
        st.markdown(
            f"On these seeds' models, sample by sample: the same difference, "
            f"{fmt(pooled['mean'])}, has 95 % interval {fmt(low)} to {fmt(high)}, p = {p:.3g} "
            f"(a paired t-test over the {pooled['n']:,} test samples of each one's accuracy "
            "averaged over the seeds). It says whether these models differ beyond the test "
            "set's noise; the test over the seeds above says whether the recipes would with new "
            "seeds.")
    else:
        st.caption("The paired per-sample test is offered for clean and mean corruption "
                   "accuracy, whose per-sample counts the store keeps; for this measure the "
                   "test over the seeds above is the one.")
    groups = query(queries.seed_groups)
    names = [groups.filter(pl.col("model_id") == ids[0])["group"][0] for ids in (ids_a, ids_b)]
    st.page_link("views/compare.py", icon=":material/compare_arrows:",
                 label=f"Compare the accuracy of {first} and {second} condition by condition "
                       f"({first} minus {second})",
                 query_params={"of": "recipes", "ga": names[1], "gb": names[0]})


def variance_table(values: pl.DataFrame, sampling: pl.DataFrame) -> pl.DataFrame:
    """Per pruned sparsity with two recipes or more, each with seeds: how the spread of a measure
    over its models splits between the recipes, their seeds and the test samples
    (statistics.variance_parts; `sampling`: store.queries.sampling_variance, the samples' part
    per sparsity where the measure has one)."""
    noise = dict(sampling.iter_rows()) if not sampling.is_empty() else {}
    rows = []
    for (level,), at in (values.filter(pl.col("method") != "dense")
                         .group_by("target_sparsity", maintain_order=True)):
        parts = statistics.variance_parts(at["recipe"].to_numpy(), at["value"].to_numpy(),
                                          noise.get(level, float("nan")))
        if parts["p"] == parts["p"]:  # not NaN: two recipes, some seed repeated
            rows.append({"target_sparsity": level, "recipes": at["recipe"].n_unique(),
                         "models": len(at), **parts})
    return pl.DataFrame(rows).sort("target_sparsity") if rows else pl.DataFrame()


def shift_intervals(summary: pl.DataFrame) -> pl.DataFrame:
    """Per model, the t interval of each mean paired shift of `summary` (`d_<metric>` with its
    `sd_<metric>` over `samples`, or `n_margin` finite ones for the margin), as text."""
    out = summary.select("model")
    for metric, n in (("length", "samples"), ("angle_true", "samples"),
                      ("margin_distance", "n_margin")):
        low, high = statistics.mean_interval(summary[f"d_{metric}"].to_numpy(),
                                             summary[f"sd_{metric}"].to_numpy(),
                                             summary[n].to_numpy())
        out = out.with_columns(pl.Series(f"d_{metric}", [
            f"{lo:+.3g} to {hi:+.3g}" if lo == lo else None
            for lo, hi in zip(low, high, strict=True)], dtype=pl.String))
    return out


def seed_tests(grid: pl.DataFrame, members: pl.DataFrame, a: list[int], b: list[int]
               ) -> pl.DataFrame:
    """Two recipes (models `a` and `b`, each one's seeds) per condition of `grid` (each model's
    accuracy per condition): b's mean over its seeds minus a's, tested over the seeds as the
    Sweep's head to head does (paired by seed where both have the same seeds), with
    Benjamini-Hochberg over the conditions: `change_low`, `change_high`, `p`, `p_adjusted`,
    `real`, and `seeds` (the fewer of the two)."""
    seed = dict(zip(members["model_id"], members["seed"], strict=True))
    paired = (sorted(seed[m] for m in a) == sorted(seed[m] for m in b)
              and None not in (seed[m] for m in a))
    order = {m: seed[m] for m in (*a, *b)}
    rows = []
    for (condition,), at in grid.filter(pl.col("model_id").is_in([*a, *b])).group_by(
            "condition_id", maintain_order=True):
        at = at.with_columns(pl.col("model_id").replace_strict(order, default=None).alias("s"))
        x, y = (at.filter(pl.col("model_id").is_in(g)).sort("s")["accuracy"].to_numpy()
                for g in (b, a))
        rows.append({"condition_id": condition, "seeds": min(len(x), len(y)),
                     **statistics.compare_means(x, y, paired=paired and len(x) == len(y))})
    tests = pl.DataFrame(rows)
    adjusted, real = statistics.discoveries(tests["p"].fill_null(np.nan).to_numpy())
    return tests.select(  # a t interval knows no bounds, a change in accuracy does: +-100 pts
        "condition_id", "seeds", pl.col("low").clip(-1, 1).alias("change_low"),
        pl.col("high").clip(-1, 1).alias("change_high"), pl.col("p").fill_nan(None),
        pl.Series("p_adjusted", adjusted).fill_nan(None), pl.Series("real", real))


def few_seeds_line(a: str, b: str, seeds: int) -> None:
    """A warning where a comparison of two recipes rests on fewer than three seeds."""
    if seeds < 3:
        st.warning(f"{a} against {b} rests on {seeds} seed{'s' if seeds != 1 else ''} each: the "
                   "test over the seeds has "
                   f"{max(seeds - 1, 0)} degree{'' if seeds == 2 else 's'} of freedom, so a real "
                   "difference can go unseen and a small p is fragile. Three seeds or more per "
                   "recipe make it informative; the samples' test beside it holds these seeds "
                   "fixed.")
