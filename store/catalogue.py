"""The metric catalogue: every per-sample column of `metrics`, once.

The `metrics` and `summaries` columns (store/schema.py writes them into schema.sql's
placeholders), the writer's Arrow columns, the names queries may splice into SQL, and the pages'
metric pickers and labels all come from here. Adding a metric is a column in
`compute/geometry.py`, one entry here (with its direction and unit), the schema version, and its
numpy reference in `tests/support/geometry.py` (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# The DuckDB types of metric columns and the Arrow types the writer loads them as.
ARROW_TYPES = {"FLOAT": pa.float32(), "SMALLINT": pa.int16(), "BOOLEAN": pa.bool_()}


@dataclass(frozen=True)
class Metric:
    name: str  # the column
    sql_type: str  # its DuckDB type in schema.sql ("FLOAT[C]" for one value per class)
    label: str  # what a page calls it
    unit: str  # "" when it has none
    plottable: bool  # a per-sample number pages may plot, filter on and shift
    nullable: bool  # NULL where undefined (a zero feature has no angles)
    # Which way is more robust: "higher" or "lower" ("" where neither means better: a class id,
    # the angles to every class). Every plottable metric has one; pages rank and colour by it.
    better: str
    core: bool = False  # one of the geometry's own quantities, shown first

    def __post_init__(self) -> None:
        if self.better not in ("higher", "lower", ""):
            raise ValueError(f"metric {self.name}: better must be 'higher', 'lower' or '', "
                             f"not {self.better!r}")
        if self.plottable and not self.better:
            raise ValueError(f"metric {self.name} is plottable, so it needs a direction "
                             "(better='higher' or 'lower')")

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.sql_type]

    @property
    def title(self) -> str:
        """The label with its unit, for axes and captions."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


METRICS: tuple[Metric, ...] = (
    Metric("length", "FLOAT", "feature length ||f||", "", True, False, "higher", core=True),
    Metric("angles", "FLOAT[C]", "angles to every class direction", "degrees", False, True, ""),
    Metric("angle_true", "FLOAT", "angle to the true class direction", "degrees", True, True,
           "lower", core=True),
    Metric("angle_pred", "FLOAT", "angle to the predicted class direction", "degrees", False, True,
           ""),
    Metric("angle_gap", "FLOAT", "angle gap: nearest other class minus true class", "degrees",
           True, True, "higher", core=True),
    Metric("logit_margin", "FLOAT", "logit margin z_y - max other z_k", "", True, False, "higher"),
    Metric("margin_distance", "FLOAT", "signed distance to the nearest decision boundary", "",
           True, True, "higher", core=True),
    Metric("pred", "SMALLINT", "predicted class", "", False, False, ""),
    Metric("correct", "BOOLEAN", "correctly classified", "", False, False, "higher"),
    Metric("prob_true", "FLOAT", "softmax probability of the true class", "", True, False,
           "higher"),
    Metric("confidence", "FLOAT", "softmax probability of the predicted class", "", True, False,
           "higher"),
    Metric("loss", "FLOAT", "cross-entropy loss", "nats", True, False, "lower"),
    Metric("entropy", "FLOAT", "entropy of the softmax", "nats", True, False, "lower"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
# Per-sample numbers a page may plot, filter or shift; the only names spliced into SQL text.
PLOTTABLE: dict[str, Metric] = {m.name: m for m in METRICS if m.plottable}
CORE: tuple[str, ...] = tuple(m.name for m in METRICS if m.core)
DEFAULT_METRIC = "margin_distance"


def plottable(name: str) -> str:
    """`name` if it is a plottable metric (safe to splice into SQL), else a ValueError."""
    if name not in PLOTTABLE:
        raise ValueError(f"unknown metric '{name}' (one of {', '.join(PLOTTABLE)})")
    return name
