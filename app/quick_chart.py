"""The SQL page's quick chart: which columns of an arbitrary result it can draw, and the data it
draws them from. Any query may come back (lists of angles, structs, huge integers, decimals,
times of day), so the chart offers only columns Vega-Lite can encode and converts those it can
only draw as another type; everything else stays in the table and the downloads."""

from __future__ import annotations

import altair as alt
import polars as pl

# Integer types wider than a JavaScript number holds exactly are drawn as floats: a chart needs
# magnitude, not the last digits.
_WIDE_INTEGERS = (pl.Int64, pl.UInt64, pl.Int128)


def encoding_type(dtype: pl.DataType) -> str | None:
    """How Vega-Lite encodes a column of `dtype` (quantitative, temporal or nominal), or None
    where it cannot (lists, arrays, structs, binary, objects, nulls)."""
    if dtype.is_numeric():
        return "quantitative"
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return "temporal"
    if dtype in (pl.String, pl.Categorical, pl.Boolean, pl.Time, pl.Duration) or isinstance(
            dtype, pl.Enum | pl.Categorical | pl.Duration):
        return "nominal"
    return None


def drawable_columns(frame: pl.DataFrame) -> list[str]:
    """The columns the chart may offer, in the result's order."""
    return [c for c, t in frame.schema.items() if encoding_type(t) is not None]


def chart_data(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """`columns` of `frame` in types the browser draws: decimals and wide integers as floats,
    times of day, durations, booleans and categories as text."""
    out = []
    for name in dict.fromkeys(columns):
        column, dtype = frame[name], frame.schema[name]
        if dtype.is_decimal() or dtype in _WIDE_INTEGERS or dtype.is_unsigned_integer():
            column = column.cast(pl.Float64, strict=False)
        elif encoding_type(dtype) == "nominal" and dtype != pl.String:
            column = column.cast(pl.String, strict=False)
        out.append(column)
    return pl.DataFrame(out)


def default_axes(frame: pl.DataFrame) -> tuple[str, str] | None:
    """A first guess worth drawing: a category along x and a number up y (an id is rarely what
    the y axis should show); None when fewer than two columns can be drawn."""
    names = drawable_columns(frame)
    if len(names) < 2:
        return None
    numeric = [c for c in names if encoding_type(frame.schema[c]) == "quantitative"]
    categorical = [c for c in names if c not in numeric]
    x = categorical[0] if categorical else names[0]
    ys = [c for c in numeric if c != x] or [c for c in names if c != x]
    return x, ([c for c in ys if not c.endswith("_id")] or ys)[0]


def quick_chart(frame: pl.DataFrame, x: str, y: str, colour: str | None) -> alt.Chart:
    """Points where x is a number or a time, bars of the mean of y per x value otherwise (a sum
    over rows would rarely mean anything). The fields get plain names of their own: Vega-Lite
    reads dots, brackets and colons in a field name ("avg(x::INT)", "a.b") as syntax."""
    roles = {"x": x, "y": y, **({"colour": colour} if colour else {})}
    data = chart_data(frame, list(roles.values()))
    data = pl.DataFrame([data[name].rename(role) for role, name in roles.items()])
    x_type, y_type = encoding_type(frame.schema[x]), encoding_type(frame.schema[y])
    points = x_type in ("quantitative", "temporal")
    mark = alt.Chart(data).mark_point() if points else alt.Chart(data).mark_bar()
    mean = {"aggregate": "mean"} if not points and y_type == "quantitative" else {}
    enc = {"x": alt.X(field="x", type=x_type if points else "nominal", sort=None, title=x),
           "y": alt.Y(field="y", type=y_type, title=(f"mean of {y}" if mean else y), **mean),
           "tooltip": [alt.Tooltip(field=role, title=name) for role, name in roles.items()]
           if points else [alt.Tooltip(field="x", title=x)]}
    if colour:
        enc["color"] = alt.Color(field="colour", type="nominal", title=colour)
    return mark.encode(**enc).properties(height=320)
