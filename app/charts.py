"""Chart and table pieces several pages draw the same way (Altair). A chart's selection as sample
ids, kept in the URL, is app/selection.py's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from app.media import media_url

# The main column is about this wide in a 1,280 px window (the sidebar open): fixed-size faceted
# charts are sized to fit it, so no chart runs off the right edge from 1,280 to 1,920 px.
FIT_WIDTH = 780
# Streamlit's chart theme cuts axis labels at 100 px ("pgd_linf_from_re…", a sweep's longer model
# names); Vega's own limit, 180 px, keeps every name this app writes whole. Enabling a theme of
# our own keeps Streamlit's (it merges its config under the chart's) and adds only this.
LABEL_LIMIT = 180


@alt.theme.register("explorer", enable=True)
def _explorer_theme() -> alt.theme.ThemeConfig:
    return {"config": {"axis": {"labelLimit": LABEL_LIMIT}, "header": {"labelLimit": LABEL_LIMIT}}}


def lean(data: pl.DataFrame) -> pl.DataFrame:
    """`data` as small as a chart needs it on the wire: floats in single precision (far finer
    than a pixel) and repeated strings dictionary-encoded. The class-pair plane of three models on
    CIFAR-10 went from 498 kB to a fraction of it."""
    return data.with_columns(
        [pl.col(c).cast(pl.Float32) for c, t in data.schema.items() if t == pl.Float64]
        + [pl.col(c).cast(pl.Categorical) for c, t in data.schema.items() if t == pl.String])


def panel_width(columns: int, legend: bool = False) -> int:
    """Width of one panel of a chart faceted into `columns` columns that fits FIT_WIDTH, with
    room for a y axis, the spacing between panels and, if asked, a legend on the right."""
    room = FIT_WIDTH - 70 - 20 * (columns - 1) - (140 if legend else 0)
    return room // columns


# Dense is black; every pruning method has a hue of its own, picked from Okabe and Ito's and Paul
# Tol's colour-blind-safe palettes so that any two are at least 13 CIEDE2000 units apart for normal
# vision and with protan, deutan or tritan deficiency simulated (tests/app/test_palette.py). Models
# of one method at several sparsities get lighter shades of its hue as sparsity grows. Fixed for a
# model, whatever a chart or page shows.
METHOD_HUES = {
    "dense": (0, 0, 0), "magnitude": (51, 187, 238), "gmp": (51, 34, 136),
    "ltr": (0, 153, 136), "random": (230, 159, 0), "snip": (17, 119, 51),
    "edgepopup": (238, 51, 119), "biprop": (170, 68, 153),
}
# For methods registered later, in this order: the farthest from the hues above first.
OTHER_HUES = [(136, 34, 85), (0, 119, 187), (204, 121, 167), (204, 51, 17)]


def _shade(rgb: tuple[int, int, int], level: float) -> str:
    """`rgb` lighter (level > 0, towards white) or darker (level < 0, towards black)."""
    if level >= 0:
        r, g, b = (round(c + (255 - c) * level) for c in rgb)
    else:
        r, g, b = (round(c * (1 + level)) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def sparsity_level(sparsity: float | None) -> float:
    """Lightness of a model's shade from its own sparsity alone (not its rank among the store's
    models, so adding a model recolours nothing): the method's hue at 80 %, darker towards 40 %,
    lighter towards 98 %."""
    if sparsity is None:
        return 0.0
    return min(max((sparsity - 0.8) * 2.5, -0.4), 0.45)


def model_colours(models: pl.DataFrame) -> dict[str, str]:
    """A colour for every model of the store (columns model, method, sparsity), in its order:
    its method's hue, shaded by its sparsity. Methods without a hue of their own take the next
    spare one in the store's order."""
    spare = iter(OTHER_HUES * 8)
    hues: dict[str, tuple[int, int, int]] = {}
    colours = {}
    for name, method, sparsity in models.select("model", "method", "sparsity").iter_rows():
        if method not in hues:
            hues[method] = METHOD_HUES.get(method) or next(spare)
        colours[name] = _shade(hues[method], sparsity_level(sparsity))
    return colours


def recipe_colours(groups: pl.DataFrame) -> dict[str, str]:
    """A colour per sweep recipe (columns recipe, method): its method's hue, as on every chart
    of single models; a second recipe of the same method takes the next spare hue."""
    spare = iter(OTHER_HUES * 8)
    used: set[str] = set()
    colours = {}
    for recipe, method in groups.select("recipe", "method").unique(maintain_order=True).iter_rows():
        hue = METHOD_HUES.get(method) if method not in used else None
        used.add(method)
        colours[recipe] = _shade(hue or next(spare), 0.0)
    return colours


def model_color(colours: Mapping[str, str], field: str = "model", title: str = "model",
                legend: bool = True, shown: Sequence[str] | None = None,
                orient: str = "right") -> alt.Color:
    """The colour encoding of models: every model keeps its colour on every chart and page
    (`shown` limits the legend to the models a chart draws, colours unchanged)."""
    if shown is not None:
        colours = {m: c for m, c in colours.items() if m in set(shown)}
    return alt.Color(f"{field}:N", title=title, sort=list(colours),
                     scale=alt.Scale(domain=list(colours), range=list(colours.values())),
                     legend=legend_for(orient) if legend else None)


def picked_marks(picked: Sequence[int], size: int = 18) -> tuple[alt.Parameter, dict[str, Any]]:
    """What marks a chart's picked samples in every panel: a parameter holding their ids (to add
    to the top-level chart) and the opacity, size and stroke encodings that mark them and fade the
    rest. The ids ride in a parameter, not in the data: a chart whose data changes loses its box
    on the next draw, and with it the pick it has just made."""
    ids = alt.param(name="picked_ids", value=[int(i) for i in picked])
    if not picked:
        return ids, {"opacity": alt.value(0.7), "size": alt.value(size)}
    test = "indexof(picked_ids, datum.sample_id) >= 0"
    return ids, {"opacity": alt.condition(test, alt.value(0.95), alt.value(0.12)),
                 "size": alt.condition(test, alt.value(2 * size), alt.value(size * 3 // 4)),
                 "stroke": alt.condition(test, alt.value("black"), alt.value(None))}


def legend_for(orient: str = "right") -> alt.Legend:
    """A legend whose symbols are opaque whatever the marks' opacity (a faded band or line would
    otherwise fade its symbol too), with every label whole; `orient="bottom"` for a chart that
    stretches to its column, where a legend on the right would be squeezed and clipped."""
    return alt.Legend(labelLimit=0, symbolLimit=0, symbolOpacity=1, symbolStrokeWidth=3,
                      orient=orient, columns=4 if orient == "bottom" else alt.Undefined)


def spread(values: Sequence[float], gap: float) -> list[float]:
    """Label positions near `values`, in the same order, at least `gap` apart: pushed apart
    upwards from the lowest, then shifted back so that on average they sit on their values."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed: dict[int, float] = {}
    last = None
    for i in order:
        last = values[i] if last is None else max(values[i], last + gap)
        placed[i] = last
    shift = sum(placed[i] - values[i] for i in order) / max(len(order), 1)
    return [placed[i] - shift for i in range(len(values))]


GREY_CELL = "#e4e4e4"  # a heatmap cell whose value says little
LIGHT_AT_THE_TOP = {"viridis", "plasma", "inferno", "magma", "cividis"}  # the rest: at the bottom


def heatmap(data: pl.DataFrame, x: str, y: str, value: str, *, x_sort: Sequence[str],
            y_sort: Sequence[str], domain: tuple[float, float] | None = None, fmt: str = ".1%",
            scheme: str = "viridis", diverging: bool = False,
            tooltip: Sequence[Any] = (), title: str | list[str] | None = None,
            note: str | None = None, fade: str | None = None) -> alt.Chart:
    """A rect heatmap with the value written in every cell when there is room, in `fmt` in the
    cells, the tooltip and the legend alike (one unit per chart). `note` names a text column:
    where it is not null the cell's value gets a " *" and the tooltip the note (a model near
    chance); `fade` a boolean column: where true the cell is grey, its value in dark grey (it
    says little: not significant, or at chance), whatever its colour would have been."""
    # Clamped: a value past the domain (the diagonal's r = 1 on a narrower correlation scale)
    # takes the end colour.
    scale = (alt.Scale(scheme=scheme, domain=list(domain), clamp=True) if domain
             else alt.Scale(scheme=scheme))
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:N", sort=list(x_sort), title=None,
                axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
        y=alt.Y(f"{y}:N", sort=list(y_sort), title=None, axis=alt.Axis(labelOverlap=False)),
    )
    name = title if isinstance(title, str) else " ".join(title or [value.replace("_", " ")])
    colour = alt.Color(f"{value}:Q", scale=scale, title=title or value.replace("_", " "),
                       legend=alt.Legend(format=fmt))
    if note:  # an empty note rather than "null" in the tooltip
        base = base.transform_calculate(_note=f"datum.{note} == null ? '' : datum.{note}")
    # The same tooltip on the cell and on its printed value, which lies over it.
    tips = [x, y, alt.Tooltip(f"{value}:Q", title=name, format=fmt), *tooltip,
            *([alt.Tooltip("_note:N", title="note")] if note else [])]
    rects = base.mark_rect().encode(
        # Grey, not a paler colour: a faded near-white cell of a diverging scale looks like any
        # other near-white cell.
        color=alt.condition(f"datum.{fade}", alt.value(GREY_CELL), colour) if fade else colour,
        tooltip=tips,
    )
    if len(x_sort) * len(y_sort) > 400:
        return rects.properties(height=alt.Step(heatmap_step(len(x_sort) * len(y_sort))))
    # Dark text on light cells: the middle of diverging schemes, the upper half of viridis-like
    # ones, the lower half of the rest (blues, orange-reds: light at the low end), halves of the
    # domain or, without one, of the values drawn.
    finite = data[value].drop_nulls().drop_nans() if not data.is_empty() else pl.Series([0.0])
    low, high = domain if domain else (float(finite.min() or 0), float(finite.max() or 1))
    if diverging:  # light in the middle of the (symmetric) domain
        light = f"abs(datum.{value}) < {0.5 * max(abs(low), abs(high), 1e-12)}"
    elif scheme in LIGHT_AT_THE_TOP:
        light = f"datum.{value} > {(low + high) / 2}"
    else:
        light = f"datum.{value} < {(low + high) / 2}"
    if note:  # the value, starred where there is a note
        base = base.transform_calculate(
            _label=f"format(datum.{value}, '{fmt}') + (datum.{note} != null ? ' *' : '')")
    label = alt.Text("_label:N") if note else alt.Text(f"{value}:Q", format=fmt)
    text = base.mark_text(fontSize=10).encode(
        text=label, color=alt.condition(light, alt.value("black"), alt.value("white")),
        tooltip=tips)
    if fade:  # grey cells in dark grey ink: a layer of their own (a condition cannot nest)
        text = (text.transform_filter(f"!datum.{fade}")
                + base.transform_filter(f"datum.{fade}").mark_text(fontSize=10, color="#666666")
                .encode(text=label, tooltip=tips))
    return (rects + text).properties(height=alt.Step(heatmap_step(len(x_sort) * len(y_sort))))


def heatmap_step(cells: int) -> int:
    """Row height of a heatmap of `cells` cells: room for the value in each, or not."""
    return 26 if cells > 400 else 30


def dendrogram(lines: pl.DataFrame, leaves: int, step: int = 30, width: int = 150) -> alt.Chart:
    """A dendrogram lying on its side, to stand right of a heatmap whose rows are its leaves
    (`step` px each, top to bottom): lines from `analysis.correlation_dendrogram`, merge distance
    growing to the right."""
    top = max(float(lines["height1"].max() or 0.0), 0.05) if not lines.is_empty() else 1.0
    return alt.Chart(lines).mark_rule(color="#555", strokeWidth=1.2).encode(
        x=alt.X("height0:Q", title="distance (1 − r)", scale=alt.Scale(domain=[0, top], nice=False)),
        x2="height1:Q",
        y=alt.Y("pos0:Q", axis=None, scale=alt.Scale(domain=[0, leaves], reverse=True, nice=False,
                                                       zero=False)),
        y2="pos1:Q",
    ).properties(width=width, height=leaves * step)


def symmetric_domain(values: pl.Series, floor: float = 0.2) -> tuple[float, float]:
    """(-m, m) around 0 for a diverging scale, m the largest |value| rounded up to a tenth (at
    least `floor`): correlations that are all positive still spread over the colours."""
    finite = values.drop_nulls().drop_nans()
    m = float(finite.abs().max()) if len(finite) else 1.0
    m = max(floor, min(1.0, -(-round(m * 100) // 10) / 10))
    return -m, m


def histogram(data: pl.DataFrame, *, title: str, colours: Mapping[str, str],
              dash: str | None = "grp", dash_title: str = "", y: str = "share",
              color: alt.Color | None = None, facet: Sequence[str] | None = None,
              legend_right: bool = True) -> alt.Chart:
    """Binned counts from a histogram query (x0, x1, share/n, tail), one step line per model
    (or per `color`'s field, one panel per model in the order `facet` when given). The tails
    beyond the binned range are triangles at its edges, at the height of their share, pointing
    outwards: what lies beyond, shown as such instead of as a peak in an edge bin."""
    if "tail" not in data.columns:
        data = data.with_columns(pl.lit(None, pl.String).alias("tail"))
    # One data set for both layers (a faceted layer needs it): bins at their middle, tails at
    # the edge of the binned range.
    data = data.with_columns(
        pl.when(pl.col("tail").is_null()).then((pl.col("x0") + pl.col("x1")) / 2)
        .when(pl.col("tail") == "below").then(pl.col("x1")).otherwise(pl.col("x0")).alias("x"))
    color = color or model_color(colours, shown=data["model"].unique().to_list())
    y_enc = alt.Y(f"{y}:Q", title="share of samples" if y == "share" else "samples",
                  axis=alt.Axis(format="%") if y == "share" else alt.Axis())
    enc: dict[str, Any] = {
        # Faceted, the page's heading above names the metric: under every narrow panel its
        # title ran into the next panel's.
        "x": alt.X("x:Q", title=None if facet is not None else title), "y": y_enc, "color": color,
        "tooltip": ["model", alt.Tooltip("x0:Q", format=".3g"), alt.Tooltip("x1:Q", format=".3g"),
                    "n", alt.Tooltip("share:Q", format=".1%")],
    }
    if dash:
        enc["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=dash_title,
                                           legend=None if not legend_right else alt.Legend())
    lines = alt.Chart().mark_line(interpolate="step").encode(**enc).transform_filter(
        "!isValid(datum.tail)")
    beyond = alt.Chart().mark_point(size=70, filled=True, opacity=0.85).encode(
        x="x:Q", y=y_enc, color=color,
        shape=alt.Shape("tail:N", scale=alt.Scale(domain=["below", "above"],
                                                  range=["triangle-left", "triangle-right"]),
                        legend=None),
        tooltip=["model", *([alt.Tooltip(f"{dash}:N", title=dash_title)] if dash else []),
                 alt.Tooltip("tail:N", title="beyond the axis"),
                 alt.Tooltip("x0:Q", title="from", format=".3g"),
                 alt.Tooltip("x1:Q", title="to", format=".3g"), "n",
                 alt.Tooltip("share:Q", format=".1%")],
    ).transform_filter("isValid(datum.tail)")
    if facet is None:
        return alt.layer(lines, beyond, data=data).properties(height=220)
    columns = min(len(facet), 3)
    return alt.layer(lines, beyond, data=data).properties(
        width=panel_width(columns, legend=legend_right), height=160).facet(
        facet=alt.Facet("model:N", sort=list(facet), title=None), columns=columns)


def empty(message: str) -> None:
    """What a view says instead of drawing an empty or broken chart."""
    st.info(message)


def sample_table(cards: pl.DataFrame, limit: int = 60) -> None:
    """Picked samples as a table with their thumbnails (clean, and corrupted where stored)."""
    shown = cards.head(limit).with_columns(
        pl.struct("sample_id", c).map_elements(
            lambda r, c=c: media_url(r[c], f"table.{r['sample_id']}.{c}"), return_dtype=pl.String)
        .alias(c) for c in ("image", "corrupted") if c in cards.columns)
    st.dataframe(
        shown, hide_index=True, row_height=48,
        column_config={
            "sample_id": st.column_config.NumberColumn("Sample", format="%d"),
            "label": "Label",
            "image": st.column_config.ImageColumn("Clean"),
            "corrupted": st.column_config.ImageColumn("Under condition"),
            "predictions": "Predictions under the condition",
            "min_margin_distance": st.column_config.NumberColumn("Min margin distance",
                                                                 format="%.3f"),
        },
        placeholder="–",
    )
    if len(cards) > limit:
        st.caption(f"Showing {limit} of {len(cards):,} picked samples; narrow the selection to see the rest.")
