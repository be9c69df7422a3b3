"""Compare two: any two models, or two recipes of a sweep (their seeds), on the same samples,
condition by condition. The change in accuracy with its interval and test (adjusted over the
conditions shown), what it does to the geometry (paired intervals of the mean shift), and the
samples that flip. A link names both: /compare?a=dense&b=gmp-80&severity=5, or
/compare?of=recipes&ga=magnitude-90&gb=gmp-90."""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import empty
from app.pickers import groups
from app.shared import catalog, in_percent, percent, query, require_store
from app.uncertainty import few_seeds_line, seed_tests
from store import catalogue, queries, statistics

st.title("Compare two")
require_store()
state.link_keys("of", "a", "b", "ga", "gb", "severity", "shift", "flips")

store = catalog()
models = store.models
if len(models) < 2:
    empty("This store holds one model: there is nothing to compare it with.")
    st.stop()
members = groups()
seeded = members.filter(pl.col("seeds") >= 2)
recipes = seeded["group"].unique(maintain_order=True).to_list()
of = state.selectbox("Compare", ["models", "recipes"], key="of",
                     format_func=lambda o: "two models" if o == "models" else
                     "two recipes (each averaged over its seeds)") if len(recipes) >= 2 else "models"
names = recipes if of == "recipes" else models["model"].to_list()
key_a, key_b = ("ga", "gb") if of == "recipes" else ("a", "b")
if of == "recipes":
    pruned_names = seeded.filter(pl.col("method") != "dense")["group"].unique(
        maintain_order=True).to_list()
    default_b = pruned_names[0] if pruned_names else names[1]
else:
    pruned = models.filter(pl.col("reference").is_not_null())
    default_b = pruned["model"][0] if not pruned.is_empty() else names[1]
severities = sorted(s for s in store.conditions["severity"].unique().to_list() if s > 0)

# A link naming one twice: said as such (not as one the store lacks), then A falls back.
if (st.query_params.get(key_a) and st.query_params.get(key_a) == st.query_params.get(key_b)
        and key_a not in st.session_state):
    st.warning(f"The link names {st.query_params[key_a]!r} as both {of}: compared with itself "
               "it has no difference. Showing it against another; pick A.",
               icon=":material/link_off:")
    del st.query_params[key_a]
top = st.columns([2, 2, 1])
with top[1]:
    b = state.selectbox("Recipe B" if of == "recipes" else "Model B", names, key=key_b,
                        default=default_b)
if of == "recipes":
    in_b = seeded.filter(pl.col("group") == b)
    refs = models.filter(pl.col("model").is_in(in_b["model"].to_list()))["reference"]
    # B's dense reference group: the group holding its models' references, when they share one.
    ref_groups = members.filter(pl.col("model").is_in(refs.to_list()))["group"].unique()
    reference = ref_groups[0] if len(ref_groups) == 1 and refs.null_count() == 0 else None
else:
    reference = dict(zip(models["model"], models["reference"], strict=True)).get(b)
with top[0]:
    a = state.selectbox(f"{'Recipe' if of == 'recipes' else 'Model'} A (the reference)",
                        [n for n in names if n != b], key=key_a,
                        default=reference if reference in names else names[0])
with top[2]:
    # One severity at a time: the severities of a corruption are the same samples, so their mean
    # has no paired test (docs/statistics.md).
    level = state.selectbox("Severity", severities, key="severity",
                            default=severities[-1] if severities else None)
shown = store.conditions.filter((pl.col("severity") == 0) | (pl.col("severity") == level))
if of == "recipes":
    ids_a, ids_b = (seeded.filter(pl.col("group") == g)["model_id"].to_list() for g in (a, b))
else:
    ids_a, ids_b = [store.model_id[a]], [store.model_id[b]]
# The caption, warnings and chart go above the table; the shift picker, under "Per condition",
# must be read first: the query reads only the shift it shows.
summary = st.container()
st.subheader("Per condition")
metric = state.selectbox("Geometry shift", list(queries.SHIFTS), key="shift",
                         default="margin_distance",
                         format_func=lambda m: catalogue.BY_NAME[m].title)
pairs = query(queries.compare_groups, ids_a, ids_b, shown["condition_id"].to_list(), (metric,))
with summary:
    if pairs.is_empty():
        empty(f"{a} and {b} share no evaluated sample under these conditions.")
        st.stop()
    if of == "recipes":  # the recipes' difference tested over their seeds; the samples' test beside
        pairs = statistics.severity_mean_tests(pairs).rename(
            {"p_adjusted": "p_samples", "change_low": "samples_low", "change_high": "samples_high",
             "real": "real_samples"}).drop("p")
        grid = query(queries.accuracy_grid).filter(  # the family: the conditions shown
            pl.col("condition_id").is_in(shown["condition_id"].to_list()))
        pairs = pairs.join(seed_tests(grid, members, ids_a, ids_b), on="condition_id", how="left")
    else:
        pairs = statistics.paired_tests(pairs)
    pairs = pairs.with_columns((pl.col("accuracy_b") - pl.col("accuracy_a")).alias("change"))
    chance = queries.NEAR_CHANCE / len(store.classes)
    pairs = pairs.with_columns(
        (pl.min_horizontal("accuracy_a", "accuracy_b") < chance).alias("near_chance"))

    if of == "recipes":
        seeds = int(pairs["seeds"].min())
        st.caption(f"**{b}** minus **{a}**, each averaged over its seeds, on the same "
                   f"{pairs['n'].max():,} samples, clean and every corruption at severity {level}. The "
                   "change is tested over the seeds (Student's t, paired by seed where both recipes "
                   "have the same seeds; Benjamini-Hochberg over the conditions shown): would the "
                   "recipes differ with new seeds? Grey: not significant after the correction, "
                   "or near chance there; each interval is its condition's own, uncorrected, so "
                   "one may miss 0 while its adjusted p is above 0.05. 'p (samples, BH)' holds "
                   "these seeds fixed: a paired t-test over the samples of each one's accuracy "
                   "averaged over its seeds. docs/statistics.md says what each test assumes.")
        few_seeds_line(a, b, seeds)
    else:
        st.caption(f"**{b}** minus **{a}** on the same {pairs['n'].max():,} samples, clean and every "
                   f"corruption at severity {level}. The change in accuracy is tested on the samples "
                   "the two disagree on (McNemar's exact test, Benjamini-Hochberg over the conditions "
                   "shown); grey: not significant after the correction, or a model near chance "
                   "there. Each interval is its condition's own, uncorrected. "
                   "docs/statistics.md says what each test assumes.")
    order = pairs["condition"].to_list()
    points = pairs.with_columns((100 * pl.col("change")).alias("change_pts"),
                                (100 * pl.col("change_low")).alias("low_pts"),
                                (100 * pl.col("change_high")).alias("high_pts"),
                                pl.when(~pl.col("real") | pl.col("near_chance"))
                                .then(pl.lit("not significant")).otherwise(pl.lit("significant"))
                                .alias("verdict"),
                                *((pl.format("{} to {} pts", *(
                                    pl.col(c).mul(100).map_elements(lambda v: f"{v:+.1f}",
                                                                    return_dtype=pl.String)
                                    for c in ("samples_low", "samples_high"))).alias("samples"),)
                                  if of == "recipes" else ()))
    every = " (every seed)" if of == "recipes" else ""
    x = alt.X("condition:N", sort=order, title=None, axis=alt.Axis(labelAngle=-45,
                                                                  labelOverlap=False))
    colour = alt.Color("verdict:N", title=None, legend=alt.Legend(orient="top"),
                       scale=alt.Scale(domain=["significant", "not significant"],
                                       range=["#1f4e9c", "#b0b0b0"]))
    tips = ["condition", alt.Tooltip("accuracy_a:Q", title=a, format=".1%"),
            alt.Tooltip("accuracy_b:Q", title=b, format=".1%"),
            alt.Tooltip("change_pts:Q", title="change (pts)", format="+.1f"),
            alt.Tooltip("low_pts:Q", title="95 % low", format="+.1f"),
            alt.Tooltip("high_pts:Q", title="95 % high", format="+.1f"),
            alt.Tooltip("p_adjusted:Q", title="p (BH)", format=".3g"),
            *([alt.Tooltip("samples:N", title="samples' 95 % (seeds fixed)"),
               alt.Tooltip("p_samples:Q", title="p (samples, BH)", format=".3g")]
              if of == "recipes" else []),
            alt.Tooltip("fragile:Q", title=f"{a} right, {b} wrong" + every),
            alt.Tooltip("gain:Q", title=f"{b} right, {a} wrong" + every)]
    # One tooltip on the bar and the dot: a mark without one would show its raw fields.
    bars = alt.Chart(points).mark_rule(strokeWidth=2).encode(x=x, y="low_pts:Q", y2="high_pts:Q",
                                                               color=colour, tooltip=tips)
    dots = alt.Chart(points).mark_point(filled=True, size=60).encode(
        x=x, y=alt.Y("change_pts:Q", title="accuracy, B − A (pts)"), color=colour, tooltip=tips)
    zero = alt.Chart(pl.DataFrame({"y": [0.0]})).mark_rule(color="#444").encode(y="y:Q")
    st.altair_chart(alt.layer(zero, bars, dots).properties(height=300), width="stretch")

low, high = statistics.mean_interval(pairs[f"{metric}_diff"].to_numpy(),
                                     pairs[f"{metric}_sd"].to_numpy(),
                                     pairs[f"{metric}_n"].to_numpy())
table = pairs.with_columns(
    pl.format("{} to {}", *(pl.col(c).mul(100).map_elements(lambda v: f"{v:+.1f}",
                                                           return_dtype=pl.String)
                            for c in ("change_low", "change_high"))).alias("interval"),

    pl.Series("shift", [
        (f"{d:+.3g} ({lo:+.3g} to {hi:+.3g})" if lo == lo else None)
        if k == n or d is None else  # some samples without a finite value: how many are left
        (f"{d:+.3g} ({lo:+.3g} to {hi:+.3g}), {k:,} of {n:,}" if lo == lo else f"{k} of {n:,}")
        for d, lo, hi, k, n in zip(pairs[f"{metric}_diff"], low, high, pairs[f"{metric}_n"],
                                   pairs["n"], strict=True)], dtype=pl.String))
st.dataframe(
    in_percent(table, "accuracy_a", "accuracy_b", "change"), hide_index=True, placeholder="–",
    column_order=["condition", "accuracy_a", "accuracy_b", "change", "interval", "p_adjusted",
                  # Two recipes: their all-seeds flips and the samples' interval are in the
                  # chart's tooltip (the table would not fit a laptop's column with them).
                  *(["p_samples"] if of == "recipes" else ["fragile", "gain"]),
                  "shift"],
    column_config={
        "condition": "Condition", "accuracy_a": percent(a), "accuracy_b": percent(b),
        "change": st.column_config.NumberColumn("Change", format="%+.1f pts"),
        "interval": st.column_config.TextColumn("95 % interval", help="Of the change, in points: "
                                                + ("Student's t over the seeds" if of == "recipes"
                                                   else "paired (Bonett-Price)")),
        "p_adjusted": st.column_config.NumberColumn("p (BH)", format="%.3g", width="small"),
        "p_samples": st.column_config.NumberColumn(
            "p (samples, BH)", format="%.3g", width="small",
            help="These seeds' models tested on the samples: a paired t-test over the samples of "
                 "each one's accuracy averaged over its seeds, Benjamini-Hochberg over the "
                 "conditions"),
        "fragile": st.column_config.NumberColumn("A only", help=f"{a} right, {b} wrong" + (
            " (every seed of each)" if of == "recipes" else "")),
        "gain": st.column_config.NumberColumn("B only", help=f"{b} right, {a} wrong" + (
            " (every seed of each)" if of == "recipes" else "")),
        "shift": st.column_config.TextColumn(
            "Shift (95 % interval)", help=f"Mean over samples of {b}'s "
                                          f"{catalogue.BY_NAME[metric].label} minus {a}'s on "
                                          "the same sample; Student's t over those differences"
                                          + (", each sample's value averaged over the seeds "
                                             "where it is finite: the seeds held fixed, not "
                                             "tested over" if of == "recipes" else "")
                                          + ". Samples without a finite value are left out, "
                                            "and counted"),
    },
)
if of == "recipes":  # the Samples page lists one model's flips against its own reference
    first_a, first_b = (members.filter(pl.col("model_id") == ids[0])["model"][0]
                        for ids in (ids_a, ids_b))
    st.caption("The chart's tooltips count the samples every seed of one recipe gets right and "
               "every seed of the other wrong. The Samples page lists one model's flips: compare "
               "two models to open them.")
    st.page_link("views/compare.py", icon=":material/compare_arrows:",
                 label=f"Compare two models: {first_a} against {first_b}",
                 query_params={"of": "models", "a": first_a, "b": first_b, "severity": level})
elif reference == a:  # the Samples page lists a model's flips against its own reference
    condition = state.selectbox("The samples that flip, under", order, key="flips",
                                default=order[-1])
    row = table.filter(pl.col("condition") == condition).row(0, named=True)
    for kind, count in (("fragile", row["fragile"]), ("gain", row["gain"])):
        st.page_link("views/samples.py", icon=":material/photo_library:",
                     label=f"The {count:,} samples {a if kind == 'fragile' else b} gets right and "
                           f"{b if kind == 'fragile' else a} wrong under {condition}",
                     query_params={"category": f"pruning-{kind}", "model": b,
                                   "condition": condition}, disabled=not count)
else:
    st.caption(f"{a} is not {b}'s dense reference, so the Samples page cannot list their flips; "
               f"the counts above are exact. Compare {b} with "
               + (f"its reference, {reference}," if reference else "a pruned model of it")
               + " to open them.")
