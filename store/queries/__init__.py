"""Named, parameterised queries, a module per page; pages call them and draw.

Each takes a connection (or cursor) and returns a Polars DataFrame (or a number). Filters come as
lists of integer ids bound as parameters; the only names spliced into SQL text are metric columns,
checked against the catalogue (`store.catalogue.plottable`) first. "Averaged over severities" is
`severity=None` throughout.
"""

from store.queries.common import classes, conditions, corruptions, models, store_summary
from store.queries.compare import SHIFTS, compare_two
from store.queries.geometry import (
    angle_length_bins,
    angle_length_points,
    class_directions,
    class_pair_angles,
    class_pair_bins,
    class_pair_boundary,
    class_pair_plane,
    metric_histogram,
    overlay_histogram,
    paired_shift_cells,
    sample_cards,
    selection_size,
    shift_histogram,
    shift_summary,
)
from store.queries.overview import (
    UNSTABLE_SE,
    accuracy_by_corruption,
    accuracy_by_family,
    accuracy_by_severity,
    accuracy_grid,
    model_overview,
    model_robustness,
    reference_degradation,
    relative_ce,
    robustness_intervals,
)
from store.queries.pruning import (
    NEAR_CHANCE,
    chance_under,
    change_vs_dense,
    near_chance_models,
    pruning_flips,
)
from store.queries.samples import (
    SAMPLE_CATEGORIES,
    sample_category,
    sample_export,
    sample_images,
    sample_metrics,
    sample_path,
)
from store.queries.similarity import corruption_correlation, model_similarity
from store.queries.sql import schema_overview
from store.queries.sweep import (
    MEASURES,
    average_seeds,
    ece,
    ece_by_severity,
    exemplar_modes,
    exemplar_summary,
    exemplars,
    harsh_condition,
    metric_label,
    model_measures,
    populations,
    reliability,
    seed_disagreement,
    seed_groups,
    seed_spread,
    seed_values,
    sparsity_curves,
    sweep_models,
)

__all__ = [
    "MEASURES", "NEAR_CHANCE", "SAMPLE_CATEGORIES", "SHIFTS", "UNSTABLE_SE", "accuracy_by_corruption",
    "accuracy_by_family", "accuracy_by_severity", "accuracy_grid", "angle_length_bins",
    "angle_length_points", "average_seeds", "chance_under", "change_vs_dense", "class_directions",
    "class_pair_angles", "class_pair_bins", "class_pair_boundary", "class_pair_plane", "classes",
    "compare_two",
    "conditions", "corruption_correlation", "corruptions", "ece", "ece_by_severity",
    "exemplar_modes", "exemplar_summary", "exemplars", "harsh_condition", "metric_histogram",
    "metric_label", "model_measures", "model_overview", "model_robustness", "model_similarity",
    "models",
    "near_chance_models", "overlay_histogram", "paired_shift_cells", "populations", "pruning_flips",
    "reference_degradation", "relative_ce", "reliability", "robustness_intervals", "sample_cards",
    "sample_category",
    "sample_export", "sample_images", "sample_metrics", "sample_path", "schema_overview",
    "seed_disagreement", "seed_groups", "seed_spread", "seed_values", "selection_size",
    "shift_histogram", "shift_summary", "sparsity_curves", "store_summary", "sweep_models",
]
