"""Samples: the individual images pruning or a corruption breaks (or fixes), and one sample
across every model, condition and severity."""

import html

import altair as alt
import polars as pl
import streamlit as st

from app import state
from app.attacks import condition_label
from app.charts import empty, lean, model_color, panel_width
from app.export import download_buttons
from app.media import media_url, perturbations
from app.pickers import groups, pick_models
from app.shared import catalog, flag_chance, in_percent, percent, query, require_store, white_box
from store import catalogue, queries

st.title("Samples")
require_store()
state.link_keys("category", "model", "condition", "classes", "along", "every", "every_metric",
                "metric", "lo", "hi", "sample", *state.models_keys("over"))

store = catalog()
models, conditions, classes = store.models, store.conditions, store.classes
model_id, condition_id, class_id = store.model_id, store.condition_id, store.class_id
pruned = models.filter(pl.col("reference_model_id").is_not_null())["model"].to_list()
GRID = 48
# A sample's table by default: what it predicts and the geometry the loss sees first.
SAMPLE_COLUMNS = ["model", "condition", "pred", "correct", "length", "angle_true",
                  "logit_margin", "confidence"]


# Thumbnails at 3x their pixels (32 -> 72 px on CIFAR), pixelated; a hover zooms one to 4x so a
# pattern can be read without opening the sample.
GRID_STYLE = """<style>
.rle-grid {display:flex; flex-wrap:wrap; gap:10px 14px}
.rle-card {width:156px}
.rle-card img, .rle-card .rle-missing {width:72px; height:72px; margin-right:3px;
  image-rendering:pixelated; transition:transform .15s; position:relative}
.rle-card img:hover {transform:scale(2.5); z-index:10; box-shadow:0 0 6px #0006}
.rle-missing {display:inline-flex; align-items:center; justify-content:center; vertical-align:top;
  background:repeating-linear-gradient(45deg,#eee,#eee 6px,#ddd 6px,#ddd 12px);
  color:#666; font-size:0.7em; text-align:center}
.rle-text {font-size:0.8em; opacity:0.8}
</style>"""


def sample_grid(rows: pl.DataFrame, corrupted: bool, others: dict[int, str] | None = None) -> str:
    """The listed samples as one wrapping grid of cards: the clean image, the corrupted one (a
    hatched placeholder where the store did not keep it), the label, the prediction and the
    reference's; `others` adds each compared model's prediction (the models that disagree)."""
    cards = []
    for row in rows.iter_rows(named=True):
        n = row["sample_id"]
        pictures = f'<img src="{media_url(row["image"], f"grid.{n}.clean")}" title="clean">'
        if row["corrupted"]:
            pictures += (f'<img src="{media_url(row["corrupted"], f"grid.{n}.corrupted")}" '
                         f'title="under {html.escape(condition)}">')
        elif corrupted:
            pictures += '<span class="rle-missing" title="not kept by the build">no image</span>'
        mark = "✓" if row["correct"] else "✗"
        ref = f" · ref {html.escape(str(row['reference_pred']))}" if row["reference_pred"] else ""
        extra = (f"<br>{html.escape(others[row['sample_id']])}"
                 if others and row["sample_id"] in others else "")
        cards.append(f'<div class="rle-card"><div>{pictures}</div><div class="rle-text">'
                     f'#{row["sample_id"]} <b>{html.escape(str(row["label"]))}</b> → '
                     f'{html.escape(str(row["pred"]))} {mark}{ref}{extra}</div></div>')
    return f'{GRID_STYLE}<div class="rle-grid">{"".join(cards)}</div>'


def confusion(found: pl.DataFrame) -> pl.DataFrame:
    """How the listed samples are labelled and predicted: a row per (true class, prediction)
    pair, most frequent first, so a pattern ("most 8s read as 3") is the first row before any
    card is read. A list rather than a matrix: ten class names as columns overflow a laptop."""
    return (found.group_by("label", "pred").len("samples")
            .with_columns((pl.col("samples") / len(found)).alias("share"))
            .sort(["samples", "label", "pred"], descending=[True, False, False]))


def path_chart(path: pl.DataFrame) -> alt.FacetChart:
    """A sample's path through the angle-length plane as a corruption's severity grows, a panel
    per model."""
    # Relative to each model's own clean length, every panel shares one scale, with as
    # many pixels per unit across as up: models whose features differ several-fold in
    # length compare at a glance, and the angle reads true.
    clean = path.filter((pl.col("severity") == 0) & (pl.col("length") > 0)).select(
        "model", pl.col("length").alias("clean_length"))
    rel = path.join(clean, on="model", how="left").with_columns(
        (pl.col(c) / pl.col("clean_length")).alias(f"{c}_rel") for c in ("x", "y"))
    reach = float(max(rel["x_rel"].abs().max() or 1, rel["y_rel"].abs().max() or 1)) * 1.1
    side = min(panel_width(3), 220)
    scale = alt.Scale(domain=[-reach, reach], nice=False)
    base = alt.Chart(rel).encode(
        x=alt.X("x_rel:Q", title="length · cos(angle_true) / clean length", scale=scale),
        y=alt.Y("y_rel:Q", title="length · sin(angle_true) / clean length", scale=scale),
        color=model_color(store.colours, legend=False),
    )
    lines = base.mark_line().encode(order="severity:O")
    dots = base.mark_point(filled=True, size=70).encode(
        shape=alt.Shape("correct:N", scale=alt.Scale(domain=[True, False],
                                                       range=["circle", "cross"])),
        tooltip=["model", "severity", "correct", alt.Tooltip("length:Q", format=".3f"),
                 alt.Tooltip("angle_true:Q", format=".1f")],
    )
    labels = base.mark_text(dx=7, dy=-7, fontSize=10).encode(text="severity:O")
    chart = alt.layer(lines, dots, labels).properties(width=side, height=side).facet(
        facet=alt.Facet("model:N", sort=list(model_id), title=None), columns=3)
    return chart


def detail(sample: int, shown: list[str]) -> None:
    """One sample across the `shown` models and every condition and severity."""
    st.subheader(f"Sample {sample}")
    images = query(queries.sample_images, sample)
    # A break after each underscore, so a narrow caption wraps between words ("shot_ noise-1").
    st.image(images["image"].to_list(), width=72,
             caption=[c.replace("_", "_\u200b") for c in images["condition"].to_list()])
    perturbations(images, conditions.filter(pl.col("family") == "adversarial")["condition"])
    if len(images) == 1:
        st.caption("This sample's corrupted images are not in the store: a build keeps them for "
                   "the inspection subset (`[conditions] thumbnails`) under every condition, and "
                   "for the first samples of each list (`listed_thumbnails`) under that list's "
                   "condition.")
    # White-box attacks keep no image: each model was given its own.
    own = query(queries.attack_settings).filter(pl.col("mode") == "white-box")["condition"]
    kept = len(conditions) - len(own)
    if 1 < len(images) < kept:
        st.caption(f"Corrupted images under the {len(images) - 1} of {kept - 1} "
                   "conditions where this sample is among the first of a list; the inspection "
                   "subset has them under all.")
    if len(own):
        st.caption(f"No image under the {len(own)} white-box attack conditions: each model was "
                   "given inputs crafted on itself.")
    corruption_names = query(queries.corruptions)["corruption"].to_list()
    if corruption_names:
        default = conditions.filter(pl.col("condition") == condition)["corruption"][0]
        default = default if default in corruption_names else corruption_names[0]
        state.follow("along", default, condition)  # a new condition brings its own corruption
        along = state.selectbox("Path as the severity of this corruption grows", corruption_names,
                                key="along", default=default)
        path = query(queries.sample_path, sample, along).filter(pl.col("model").is_in(shown))
        if path.is_empty():
            empty("This sample has no defined angle (a zero feature) under these conditions.")
        else:
            st.altair_chart(path_chart(path))
            st.caption("The angle-length plane (as on the Geometry page), one panel per model, "
                       "each point's coordinates divided by the model's clean feature length so "
                       "that every panel shares one scale (1 = as long as on clean) and a circle "
                       "stays a circle: from clean (0) to the strongest severity; a cross is a "
                       "wrong prediction.")
    every = state.toggle("Every condition in the table", key="every", default=False,
                         help="Off: clean and the corruption of the path above, at each severity")
    table = query(queries.sample_metrics, sample, None if every or not corruption_names
                  else along).filter(pl.col("model").is_in(shown))
    every_metric = state.toggle("Every metric", key="every_metric", default=False,
                                help="Off: the headline metrics, so the table fits a laptop "
                                     "screen; the download above holds them all")
    st.dataframe(lean(table), hide_index=True, height=320,
                 column_order=None if every_metric else SAMPLE_COLUMNS, placeholder="–")


top = st.columns([3, 2, 2])
with top[0]:
    # The name alone in the box (a description there is cut at a laptop's width); the
    # descriptions in the help, and the chosen one's in the line above the samples.
    category = state.selectbox(
        "Category", list(queries.SAMPLE_CATEGORIES), key="category",
        help="\n".join(f"- **{c}**: {d}" for c, d in queries.SAMPLE_CATEGORIES.items()))
with top[1]:
    focus = state.selectbox("Model", list(model_id), key="model",
                            default=pruned[0] if pruned else None)
with top[2]:
    condition = state.selectbox("Condition", list(condition_id), key="condition",
                                format_func=condition_label)

with st.expander("Filters", expanded=False):
    cols = st.columns([3, 3, 2, 1, 1])
    with cols[0]:
        chosen_classes = state.multiselect("Classes", list(class_id), key="classes",
                                           default=list(class_id))
    with cols[1]:
        over = pick_models("Models compared (always right / wrong, disagree)", "over",
                           default=list(model_id))
    with cols[2]:
        metric = state.selectbox("Range of", list(catalogue.PLOTTABLE), key="metric",
                                 default=catalogue.DEFAULT_METRIC)
    with cols[3]:
        low = state.number_input("from", key="lo", format="%.4g")
    with cols[4]:
        high = state.number_input("to", key="hi", format="%.4g")
    st.caption(f"The range applies to {focus}'s {catalogue.BY_NAME[metric].title} under "
               f"{condition}; leave a bound empty for no bound.")

severity = conditions.filter(pl.col("condition") == condition)["severity"][0]
flag_chance([model_id[m] for m in dict.fromkeys([focus, *over])], condition)
if category.startswith("pruning") and focus not in pruned:
    empty(f"**{focus}** has no dense reference to compare with: choose a pruned model "
          f"({', '.join(pruned) or 'this store has none'}).")
elif category == "corruption-fragile" and severity == 0:
    empty("Corruption-fragile samples are right on clean and wrong under a corruption: choose a "
          "corrupted condition.")
elif not chosen_classes or not over:
    empty("Choose at least one class and one compared model.")
else:
    found = query(queries.sample_category, category, model_id[focus], condition_id[condition],
                  [model_id[m] for m in over], [class_id[c] for c in chosen_classes], metric,
                  low, high)
    if category == "pruning-identified":  # the cards show the two populations' modes
        modes = query(queries.exemplar_modes, model_id[focus], condition_id[condition])
        found = found.drop("pred", "reference_pred", "correct").join(
            modes.drop("pruned_share", "dense_share"), on="sample_id", maintain_order="left")
        group = groups().filter(pl.col("model") == focus)
        pruned_ids, dense_ids = query(queries.populations, group["recipe"][0],
                                      group["target_sparsity"][0] or 0.0)
        facts = query(queries.exemplar_summary, condition_id[condition], pruned_ids, dense_ids)
        if facts.get("exemplars") and facts["exemplars"] < facts["samples"]:
            st.caption(
                f"{facts['exemplars']:,} of {facts['samples']:,} samples are exemplars of "
                f"{len(pruned_ids)} pruned and {len(dense_ids)} dense models. The dense models' "
                f"mode is right on {facts['dense_accuracy_exemplars']:.0%} of them and "
                f"{facts['dense_accuracy_rest']:.0%} of the rest; the pruned models' on "
                f"{facts['pruned_accuracy_exemplars']:.0%} and {facts['pruned_accuracy_rest']:.0%} "
                "(Hooker et al. find exemplars harder for both).")
        st.caption("Each card reads: label → the pruned seeds' modal prediction (✓ when it is "
                   "the label) · ref: their dense models' modal prediction. The Sweep page's "
                   "seed lottery counts how often seeds disagree.")
    st.markdown(f"**{len(found):,} samples** where {queries.SAMPLE_CATEGORIES[category]} "
                f"({focus}, {condition}), most decisive first.")
    if found.is_empty():
        empty("No sample matches: widen the filters or choose another model or condition.")
    else:
        export = query(queries.sample_export, found["sample_id"].to_list(),
                       sorted({model_id[m] for m in [*over, focus]}), condition_id[condition])
        download_buttons(export, f"{category}-{focus}-{condition}", "samples")
        st.caption("The download holds every matching sample with all its metrics under the "
                   "condition, one row per (sample, model).")
        with st.expander("True class → prediction of the listed samples", expanded=True):
            st.dataframe(in_percent(confusion(found), "share"), hide_index=True,
                         height=min(36 * 8, 36 * (len(found) + 1)),
                         column_config={"label": "True class", "pred": "Predicted",
                                        "samples": "Samples", "share": percent("Share")}, placeholder="–")
        shown_rows = found.head(GRID)
        others = None
        if category == "models-disagree":  # which models say what, on every card
            cards = query(queries.sample_cards, shown_rows["sample_id"].to_list(),
                          [model_id[m] for m in over], condition_id[condition])
            others = dict(cards.select("sample_id", "predictions").iter_rows())
        # A white-box attack kept no image (each model saw its own): no placeholder on every card.
        if own := white_box(condition):
            st.caption(f"{condition} is a white-box attack: each model was given inputs crafted "
                       "on itself, so the build kept no attacked image; the cards show the clean "
                       "one.")
        # One HTML block, not 48 column containers: the browser lays out one element.
        st.markdown(sample_grid(shown_rows, severity > 0 and not own, others),
                    unsafe_allow_html=True)
        if len(found) > GRID:
            st.caption(f"The first {GRID} of {len(found):,} are shown; the download has them all.")
        picked = state.selectbox("Inspect sample", found["sample_id"].to_list(), key="sample")
        if picked is not None:
            detail(int(picked), [m for m in model_id if m in {*over, focus}])
