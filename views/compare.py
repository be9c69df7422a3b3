"""Compare two: any two models on the same samples, condition by condition. The change in
accuracy with its paired interval and McNemar's test (adjusted over the conditions shown), what
it does to the geometry (paired intervals of the mean shift), and the samples that flip. A link
names both models: /compare?a=dense&b=gmp-80&severity=5."""

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.charts import empty
from app.shared import catalog, in_percent, percent, query, require_store
from store import catalogue, queries, statistics

st.title("Compare two")
require_store()

store = catalog()
models = store.models
if len(models) < 2:
    empty("This store holds one model: there is nothing to compare it with.")
    st.stop()
names = models["model"].to_list()
pruned = models.filter(pl.col("reference").is_not_null())
default_b = pruned["model"][0] if not pruned.is_empty() else names[1]
severities = sorted(s for s in store.conditions["severity"].unique().to_list() if s > 0)

# A link naming one model twice: said as such (not as a model the store lacks), then A falls back.
if (st.query_params.get("a") and st.query_params.get("a") == st.query_params.get("b")
        and "a" not in st.session_state):
    st.warning(f"The link names {st.query_params['a']!r} as both models: a model compared with "
               "itself has no difference. Showing it against another model; pick A.",
               icon=":material/link_off:")
    del st.query_params["a"]
top = st.columns([2, 2, 1])
with top[1]:
    b = state.selectbox("Model B", names, key="b", default=default_b)
reference = dict(zip(models["model"], models["reference"], strict=True)).get(b)
with top[0]:
    a = state.selectbox("Model A (the reference)", [n for n in names if n != b], key="a",
                        default=reference or names[0])
with top[2]:
    # One severity at a time: the severities of a corruption are the same samples, so their mean
    # has no paired test (docs/statistics.md).
    level = state.selectbox("Severity", severities, key="severity",
                            default=severities[-1] if severities else None)
shown = store.conditions.filter((pl.col("severity") == 0) | (pl.col("severity") == level))
pairs = query(queries.compare_two, store.model_id[a], store.model_id[b],
              shown["condition_id"].to_list())
if pairs.is_empty():
    empty(f"{a} and {b} share no evaluated sample under these conditions.")
    st.stop()
pairs = statistics.paired_tests(pairs).with_columns(
    (pl.col("accuracy_b") - pl.col("accuracy_a")).alias("change"))
chance = queries.NEAR_CHANCE / len(store.classes)
pairs = pairs.with_columns(
    (pl.min_horizontal("accuracy_a", "accuracy_b") < chance).alias("near_chance"))

st.caption(f"**{b}** minus **{a}** on the same {pairs['n'].max():,} samples, clean and every "
           f"corruption at severity {level}. The change in accuracy is tested on the samples the "
           "two disagree on (McNemar's exact test, Benjamini-Hochberg over the conditions shown); "
           "grey: not significant, or a model near chance there. docs/statistics.md says what "
           "each test assumes.")
order = pairs["condition"].to_list()
points = pairs.with_columns((100 * pl.col("change")).alias("change_pts"),
                            (100 * pl.col("change_low")).alias("low_pts"),
                            (100 * pl.col("change_high")).alias("high_pts"),
                            pl.when(~pl.col("real") | pl.col("near_chance"))
                            .then(pl.lit("not significant")).otherwise(pl.lit("significant"))
                            .alias("verdict"))
x = alt.X("condition:N", sort=order, title=None, axis=alt.Axis(labelAngle=-45,
                                                              labelOverlap=False))
colour = alt.Color("verdict:N", title=None, legend=alt.Legend(orient="top"),
                   scale=alt.Scale(domain=["significant", "not significant"],
                                   range=["#1f4e9c", "#b0b0b0"]))
bars = alt.Chart(points).mark_rule(strokeWidth=2).encode(x=x, y="low_pts:Q", y2="high_pts:Q",
                                                           color=colour)
dots = alt.Chart(points).mark_point(filled=True, size=60).encode(
    x=x, y=alt.Y("change_pts:Q", title="accuracy, B − A (pts)"), color=colour,
    tooltip=["condition", alt.Tooltip("accuracy_a:Q", title=a, format=".1%"),
             alt.Tooltip("accuracy_b:Q", title=b, format=".1%"),
             alt.Tooltip("change_pts:Q", title="change (pts)", format="+.1f"),
             alt.Tooltip("low_pts:Q", title="95 % low", format="+.1f"),
             alt.Tooltip("high_pts:Q", title="95 % high", format="+.1f"),
             alt.Tooltip("p_adjusted:Q", title="p (BH)", format=".3g"),
             alt.Tooltip("fragile:Q", title=f"{a} right, {b} wrong"),
             alt.Tooltip("gain:Q", title=f"{b} right, {a} wrong")])
zero = alt.Chart(pl.DataFrame({"y": [0.0]})).mark_rule(color="#444").encode(y="y:Q")
st.altair_chart(alt.layer(zero, bars, dots).properties(height=300), width="stretch")

st.subheader("Per condition")
metric = state.selectbox("Geometry shift", list(queries.SHIFTS), key="shift",
                         default="margin_distance",
                         format_func=lambda m: catalogue.BY_NAME[m].title)
low, high = statistics.mean_interval(pairs[f"{metric}_diff"].to_numpy(),
                                     pairs[f"{metric}_sd"].to_numpy(),
                                     pairs[f"{metric}_n"].to_numpy())
table = pairs.with_columns(
    pl.format("{} to {}", *(pl.col(c).mul(100).map_elements(lambda v: f"{v:+.1f}",
                                                           return_dtype=pl.String)
                            for c in ("change_low", "change_high"))).alias("interval"),
    pl.Series("shift", [f"{d:+.3g} ({lo:+.3g} to {hi:+.3g})" if lo == lo else None
                        for d, lo, hi in zip(pairs[f"{metric}_diff"], low, high, strict=True)],
              dtype=pl.String))
st.dataframe(
    in_percent(table, "accuracy_a", "accuracy_b", "change"), hide_index=True, placeholder="–",
    column_order=["condition", "accuracy_a", "accuracy_b", "change", "interval", "p_adjusted",
                  "fragile", "gain", "shift"],
    column_config={
        "condition": "Condition", "accuracy_a": percent(a), "accuracy_b": percent(b),
        "change": st.column_config.NumberColumn("Change", format="%+.1f pts"),
        "interval": st.column_config.TextColumn("95 % interval", help="Of the change, in points: "
                                                "paired (Bonett-Price)"),
        "p_adjusted": st.column_config.NumberColumn("p (BH)", format="%.3g"),
        "fragile": st.column_config.NumberColumn("A only", help=f"{a} right, {b} wrong"),
        "gain": st.column_config.NumberColumn("B only", help=f"{b} right, {a} wrong"),
        "shift": st.column_config.TextColumn(
            "Shift (95 % interval)", help=f"Mean over samples of {b}'s "
                                          f"{catalogue.BY_NAME[metric].label} minus {a}'s on "
                                          "the same sample; Student's t over those differences"),
    },
)
if reference == a:  # the Samples page lists a model's flips against its own reference
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
