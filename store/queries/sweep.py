"""The sweep's queries: models grouped by recipe and sparsity with their seeds, measures against
sparsity with seed bands, how much seeds differ (the robustness lottery), pruning-identified
exemplars and calibration. Everything per model reads `summaries` / `calibration` (a few rows
per model and condition); only the per-sample views read `metrics`, for one condition."""

from __future__ import annotations

import polars as pl

from store import derived
from store.catalogue import PLOTTABLE
from store.queries.common import Con, frame, ids
from store.queries.overview import model_robustness
from store.queries.pruning import NEAR_CHANCE

# What a sweep view can put on its y axis: name -> (label, higher is better).
MEASURES: dict[str, tuple[str, bool]] = {
    "mean_corruption_accuracy": ("mean corruption accuracy", True),
    "clean_accuracy": ("clean accuracy", True),
    "mce": ("mCE (dense reference = 100)", False),
    "relative_mce": ("relative mCE", False),
    "corruption_ece": ("ECE under corruption", False),
    "clean_ece": ("ECE on clean", False),
    # Each metric's direction is the catalogue's.
    **{f"corrupted_{name}": (f"mean {m.label} under corruption", m.better == "higher")
       for name, m in PLOTTABLE.items()},
}

GROUP = ["recipe", "method", "target_sparsity"]


def measure(name: str) -> str:
    """`name` if it is one of MEASURES (the only names this module splices into SQL)."""
    if name not in MEASURES:
        raise ValueError(f"unknown measure {name!r}; one of {', '.join(MEASURES)}")
    return name


def sweep_models(con: Con) -> pl.DataFrame:
    """Every model with its place in the sweep: recipe, method, target sparsity (0 for a dense
    model), seed and reference, in build order."""
    return frame(con, """
        SELECT m.model_id, m.name AS model, m.recipe, m.method,
               coalesce(m.target_sparsity, 0.0) AS target_sparsity, m.sparsity, m.seed,
               r.name AS reference
        FROM models m LEFT JOIN models r ON r.model_id = m.reference_model_id
        ORDER BY m.model_id
    """)


def seed_groups(con: Con) -> pl.DataFrame:
    """Every model with the seed group it averages into: `group` names its recipe at its sparsity
    (`gmp-90`, or the recipe alone when it has one sparsity), `seeds` how many models the group
    has. A model outside any seed sweep is a group of its own, under its own name."""
    members = sweep_models(con)
    per_recipe = members.group_by("recipe").agg(pl.col("target_sparsity").n_unique().alias("k"))
    return (members.join(per_recipe, on="recipe")
            .with_columns(pl.when(pl.col("seed").is_null()).then(pl.col("model"))
                          .when(pl.col("k") > 1).then(pl.col("recipe") + "-" + (
                              pl.col("target_sparsity") * 100).round(2).cast(pl.Utf8)
                              .str.replace(r"\.0$", ""))
                          .otherwise(pl.col("recipe")).alias("group"))
            .with_columns(pl.len().over("group").alias("seeds"))
            .select("model_id", "model", "group", "recipe", "method", "target_sparsity", "sparsity",
                    "seed", "seeds").sort("model_id"))


def average_seeds(data: pl.DataFrame, groups: pl.DataFrame, values: list[str]) -> pl.DataFrame:
    """`data` (a `model` column, `values`, other key columns) averaged over the seeds of each
    group: `model` becomes the group's name, each value its mean over the seeds, with
    `<value>_low` / `<value>_high` the lowest and highest seed and `seeds` their number."""
    keys = [c for c in data.columns if c not in (*values, "model", "model_id")]
    joined = data.join(groups.select("model", "group", "model_id").rename(
        {"model_id": "_id"}), on="model", how="left").with_columns(
        pl.col("group").fill_null(pl.col("model")))
    aggs = [pl.len().alias("seeds"), pl.col("_id").min().alias("_first")]
    for v in values:
        aggs += [pl.col(v).mean(), pl.col(v).min().alias(f"{v}_low"),
                 pl.col(v).max().alias(f"{v}_high")]
    return (joined.group_by(["group", *keys], maintain_order=True).agg(aggs)
            .sort("_first", *keys).drop("_first").rename({"group": "model"}))


def model_measures(con: Con) -> pl.DataFrame:
    """One row per model: its sweep coordinates and every measure of MEASURES, from `summaries`
    (corruption means are over the benchmark conditions)."""
    means = ", ".join(f"avg(s.mean_{n}) FILTER (WHERE c.benchmark) AS corrupted_{n}"
                      for n in PLOTTABLE)
    per_model = frame(con, f"""
        SELECT s.model_id,
               avg(s.ece) FILTER (WHERE c.corruption = 'clean') AS clean_ece,
               avg(s.ece) FILTER (WHERE c.benchmark) AS corruption_ece,
               {means}
        FROM summaries s JOIN conditions c USING (condition_id)
        GROUP BY s.model_id
    """)
    overview = model_robustness(con)
    return (sweep_models(con).join(overview, on="model_id", how="left")
            .join(per_model, on="model_id", how="left").sort("model_id"))


def sparsity_curves(con: Con, name: str) -> pl.DataFrame:
    """A measure against target sparsity: per (recipe, method, sparsity), the mean over its seeds
    with the lowest and highest seed (the band), the standard deviation and the seed count."""
    col = measure(name)
    return (model_measures(con).group_by(GROUP, maintain_order=True)
            .agg(pl.col(col).mean().alias("mean"), pl.col(col).min().alias("low"),
                 pl.col(col).max().alias("high"), pl.col(col).std().alias("std"),
                 pl.len().alias("seeds"))
            .sort("recipe", "target_sparsity"))


def seed_spread(con: Con, name: str) -> pl.DataFrame:
    """The robustness lottery, per (recipe, sparsity) with two seeds or more: the range of a
    measure over its seeds (highest minus lowest seed), its standard deviation, and the range of
    the recipes' means at that sparsity (`between_recipes`), the gap a choice of method buys.
    `lottery` = range / between_recipes: above 1, the seed matters more than the method."""
    curves = sparsity_curves(con, name).filter(pl.col("seeds") >= 2)
    between = (curves.filter(pl.col("method") != "dense").group_by("target_sparsity")
               .agg((pl.col("mean").max() - pl.col("mean").min()).alias("between_recipes"),
                    pl.len().alias("recipes")))
    return (curves.with_columns((pl.col("high") - pl.col("low")).alias("range"))
            .join(between, on="target_sparsity", how="left")
            .with_columns(pl.when(pl.col("recipes") >= 2)
                          .then(pl.col("range") / pl.col("between_recipes"))
                          .alias("lottery"))
            .drop("recipes").sort("target_sparsity", "recipe"))


def seed_values(con: Con, name: str) -> pl.DataFrame:
    """Each model's value of a measure with its group and seed: the dots of the lottery strip."""
    col = measure(name)
    return model_measures(con).select("model_id", "model", *GROUP, "seed",
                                      pl.col(col).alias("value"))


def sampling_variance(con: Con, name: str) -> pl.DataFrame:
    """Per pruned target sparsity, the variance a model's value of measure `name` owes to the
    test samples drawn, beyond what the models at that sparsity share (`sampling_noise`: its
    interaction mean square over the samples); empty for a measure without a per-sample form
    (mCE, ECE, the geometry means)."""
    return frame(con, """
        SELECT target_sparsity, interaction_ms / samples AS sampling FROM sampling_noise
        WHERE measure = $name ORDER BY target_sparsity
    """, name=measure(name))


def pooled_sample_difference(con: Con, name: str, a: list[int], b: list[int]) -> dict[str, float]:
    """Two groups of models (two recipes' seeds) on the same test samples, for an accuracy
    measure with a per-sample form (derived.SAMPLED_MEASURES): per sample, group a's mean over
    its models of the sample's accuracy under the measure's conditions (`sample_accuracy`) minus
    group b's; their mean (= the difference of the groups'
    mean accuracies), standard deviation and count `n`, for a paired test over the samples
    pooled over the seeds. Empty ({}) for a measure without a per-sample form."""
    if measure(name) not in derived.SAMPLED_MEASURES:
        return {}
    rows = frame(con, """
        WITH per_sample AS (
            SELECT sample_id,
                   avg(correct / k) FILTER (WHERE model_id = ANY($a))
                   - avg(correct / k) FILTER (WHERE model_id = ANY($b)) AS d
            FROM sample_accuracy
            WHERE measure = $measure AND model_id = ANY($both)
            GROUP BY sample_id
        )
        SELECT count(d) AS n, avg(d) AS mean, stddev_samp(d) AS sd FROM per_sample
    """, measure=measure(name), a=ids(a), b=ids(b), both=ids([*a, *b]))
    return rows.row(0, named=True) if rows["n"][0] else {}


def seed_disagreement(con: Con, condition: int) -> pl.DataFrame:
    """Per (recipe, sparsity) with two seeds or more, under one condition: the share of samples
    its seeds predict differently, and the share some seed gets right and another wrong."""
    return frame(con, """
        WITH g AS (
            SELECT model_id, recipe, method, coalesce(target_sparsity, 0.0) AS target_sparsity,
                   dense_rank() OVER (ORDER BY recipe, coalesce(target_sparsity, 0.0)) AS grp,
                   count(*) OVER (PARTITION BY recipe, target_sparsity) AS seeds
            FROM models
        ), per_sample AS (  -- min <> max: more than one prediction, without a distinct count
            SELECT g.grp, min(mt.pred) <> max(mt.pred) AS differ,
                   bool_or(mt.correct) <> bool_and(mt.correct) AS split
            FROM metrics mt JOIN g USING (model_id)
            WHERE mt.condition_id = $condition AND g.seeds >= 2
            GROUP BY g.grp, mt.sample_id
        ), per_group AS (
            SELECT grp, avg(differ::DOUBLE) AS predictions_differ,
                   avg(split::DOUBLE) AS correctness_differs, count(*) AS samples
            FROM per_sample GROUP BY grp
        )
        SELECT g.recipe, any_value(g.method) AS method, g.target_sparsity, any_value(g.seeds) AS seeds,
               any_value(p.predictions_differ) AS predictions_differ,
               any_value(p.correctness_differs) AS correctness_differs,
               any_value(p.samples) AS samples
        FROM per_group p JOIN g USING (grp)
        GROUP BY g.recipe, g.target_sparsity ORDER BY g.target_sparsity, g.recipe
    """, condition=int(condition))


# The modal prediction of each population under $condition, from a CTE `pop` (model_id, pruned):
# the most frequent prediction, a tie going to the lowest class id (as scipy.stats.mode does).
MODAL_CTES = """
    votes AS (
        SELECT p.pruned, mt.sample_id, mt.pred, count(*) AS n
        FROM metrics mt JOIN pop p USING (model_id)
        WHERE mt.condition_id = $condition
        GROUP BY ALL
    ), modal AS (
        SELECT pruned, sample_id, first(pred ORDER BY n DESC, pred) AS modal,
               max(n) / sum(n) AS share
        FROM votes GROUP BY ALL
    )
"""

_MODAL = f"""
    WITH pop AS (
        SELECT model_id, model_id = ANY($pruned) AS pruned FROM models
        WHERE model_id = ANY($pruned) OR model_id = ANY($dense)
    ), {MODAL_CTES}
    SELECT s.sample_id, s.label, d.modal AS dense_modal, d.share AS dense_share,
           p.modal AS pruned_modal, p.share AS pruned_share, d.modal <> p.modal AS pie
    FROM samples s
    JOIN modal d ON d.sample_id = s.sample_id AND NOT d.pruned
    JOIN modal p ON p.sample_id = s.sample_id AND p.pruned
"""


def populations(con: Con, recipe: str, sparsity: float) -> tuple[list[int], list[int]]:
    """(pruned, dense) model ids of one sweep group: its seeds, and the dense models they are
    compared with (their references)."""
    rows = frame(con, """
        SELECT model_id, reference_model_id FROM models
        WHERE recipe = $recipe AND coalesce(target_sparsity, 0.0) = $sparsity
        ORDER BY model_id
    """, recipe=recipe, sparsity=float(sparsity))
    dense = sorted({int(r) for r in rows["reference_model_id"].drop_nulls()})
    return ids(rows["model_id"]), dense


def exemplars(con: Con, condition: int, pruned: list[int], dense: list[int]) -> pl.DataFrame:
    """Pruning-identified exemplars (Hooker et al. 2019, "What Do Compressed Deep Neural Networks
    Forget?") under one condition: every sample whose modal prediction over the pruned population
    differs from the modal prediction over the dense one, with both modes and the share of each
    population that voted for it, most agreed-upon first."""
    return frame(con, _MODAL + """
        WHERE d.modal <> p.modal
        ORDER BY p.share + d.share DESC, s.sample_id
    """, condition=int(condition), pruned=ids(pruned), dense=ids(dense))


def exemplar_modes(con: Con, model: int, condition: int) -> pl.DataFrame:
    """The exemplars of a model's sweep group (its recipe at its sparsity, against their dense
    references) under one condition, as the Samples page's cards show them: `pred` is the pruned
    population's modal class, `reference_pred` the dense one's, `correct` whether the pruned mode
    is the label."""
    group = frame(con, "SELECT recipe, coalesce(target_sparsity, 0.0) AS s FROM models "
                       "WHERE model_id = $model", model=int(model))
    if group.is_empty():
        return pl.DataFrame()
    pruned, dense = populations(con, group["recipe"][0], group["s"][0])
    found = exemplars(con, condition, pruned, dense)
    names = frame(con, "SELECT class_id, name FROM classes")
    name = dict(zip(names["class_id"], names["name"], strict=True))
    return found.select(
        "sample_id", pl.col("pruned_modal").replace_strict(name, return_dtype=pl.Utf8).alias("pred"),
        pl.col("dense_modal").replace_strict(name, return_dtype=pl.Utf8).alias("reference_pred"),
        (pl.col("pruned_modal") == pl.col("label")).alias("correct"), "pruned_share",
        "dense_share")


def exemplar_summary(con: Con, condition: int, pruned: list[int], dense: list[int]) -> dict:
    """How many exemplars, and each population's modal accuracy on them and on the rest: the
    paper's finding is that both populations do far worse on exemplars."""
    rows = frame(con, _MODAL, condition=int(condition), pruned=ids(pruned), dense=ids(dense))
    if rows.is_empty():
        return {"samples": 0, "exemplars": 0}
    out = {"samples": rows.height, "exemplars": int(rows["pie"].sum())}
    for pie, part in rows.group_by("pie"):
        tag = "exemplars" if pie[0] else "rest"
        out[f"dense_accuracy_{tag}"] = float((part["dense_modal"] == part["label"]).mean())
        out[f"pruned_accuracy_{tag}"] = float((part["pruned_modal"] == part["label"]).mean())
    return out


def ece(con: Con) -> pl.DataFrame:
    """Expected calibration error and accuracy of every (model, condition)."""
    return frame(con, """
        SELECT s.model_id, m.name AS model, s.condition_id, c.name AS condition, c.corruption,
               c.severity, s.ece, s.accuracy, s.mean_confidence
        FROM summaries s JOIN models m USING (model_id) JOIN conditions c USING (condition_id)
        ORDER BY s.model_id, s.condition_id
    """)


def ece_by_severity(con: Con, model_ids: list[int]) -> pl.DataFrame:
    """ECE per chosen model and severity (0 = clean), averaged over the benchmark corruptions."""
    return frame(con, """
        SELECT m.name AS model, s.model_id, c.severity, avg(s.ece) AS ece,
               avg(s.accuracy) AS accuracy, avg(s.mean_confidence) AS confidence
        FROM summaries s JOIN models m USING (model_id) JOIN conditions c USING (condition_id)
        WHERE (c.benchmark OR c.corruption = 'clean') AND s.model_id = ANY($models)
        GROUP BY ALL ORDER BY s.model_id, c.severity
    """, models=ids(model_ids))


def reliability(con: Con, model_ids: list[int], condition: int) -> pl.DataFrame:
    """The reliability diagram's bins of each chosen model under one condition: bin, count, mean
    confidence and accuracy (empty bins have no row)."""
    return frame(con, """
        SELECT m.name AS model, k.model_id, k.bin, k.n, k.confidence, k.accuracy,
               k.n / sum(k.n) OVER (PARTITION BY k.model_id) AS share
        FROM calibration k JOIN models m USING (model_id)
        WHERE k.condition_id = $condition AND k.model_id = ANY($models)
        ORDER BY k.model_id, k.bin
    """, condition=int(condition), models=ids(model_ids))


def metric_label(name: str) -> str:
    """The label of a measure, for axes."""
    return MEASURES[measure(name)][0]


def harsh_condition(con: Con) -> str | None:
    """The benchmark condition a calibration view opens on: the one with the lowest mean accuracy
    over the models among those where every model is still above NEAR_CHANCE x chance (a model
    at chance has no calibration worth reading); the lowest overall when there is none."""
    rows = con.execute("""
        WITH per AS (
            SELECT c.name, avg(a.accuracy) AS mean_accuracy, min(a.accuracy) AS worst
            FROM accuracy a JOIN conditions c USING (condition_id)
            WHERE c.benchmark
            GROUP BY c.condition_id, c.name
        )
        SELECT name FROM per
        ORDER BY worst >= $factor / (SELECT count(*) FROM classes) DESC, mean_accuracy, name
        LIMIT 1
    """, {"factor": NEAR_CHANCE}).fetchall()
    return rows[0][0] if rows else None
