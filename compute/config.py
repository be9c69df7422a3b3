"""Experiment configs: a TOML file read into dataclasses, strictly.

Every table is checked against the fields of its dataclass (or, for `[data]`, against the
parameters of the chosen data source): an unknown key names the nearest valid one, a value of the
wrong type or out of range names its table and key. Relative paths in a config are relative to
the config file, so a build does not depend on the directory it is started from.
`{data_root}` in a path stands for `[data] root`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute.attacks import read_attacks
from compute.errors import UserError

# The schema pieces the pruning methods and training declare their hyperparameters with live in a
# leaf module, so they import it without importing this one (and its readers import them).
from compute.hparams import (  # noqa: F401
    AUGMENTATIONS,
    REQUIRED,
    TrainRecipe,
    bounded,
    checked,
    described,
    fields_of,
    read_table,
)
from compute.radius import RadiusSpec


@dataclass(frozen=True)
class PruneSpec:
    method: str  # a registered pruning method (compute/pruning/)
    params: Any  # that method's hyperparameters (its dataclass), sparsity among them

    @property
    def sparsity(self) -> float:
        return self.params.sparsity


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str | None = None  # inherited from `base` when pruning
    checkpoint: str | None = None
    classifier: str | None = None  # the final nn.Linear, found automatically when unset
    base: str | None = None  # model whose trained weights a pruned model starts from
    reference: str | None = None  # dense model to compare with (defaults to base)
    prune: PruneSpec | None = None
    train: TrainRecipe | None = None
    recipe: str | None = None  # the [[models]] entry a sweep expanded into this model
    seed: int | None = None  # its seed in that sweep (None outside a seed sweep)

    @property
    def method(self) -> str:
        return self.prune.method if self.prune else "dense"


@dataclass(frozen=True)
class DataSpec:
    """`[data]`: the source, its own parameters (`options`: the source function's arguments,
    checked against its signature) and the normalisation."""

    source: str
    mean: tuple[float, ...] | None = bounded(None, lambda v: len(v) == 3, "three numbers (R, G, B)")
    std: tuple[float, ...] | None = bounded(None, lambda v: len(v) == 3 and min(v) > 0,
                                            "three positive numbers (R, G, B)")
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conditions:
    """`[conditions]`: what the models are evaluated under besides clean."""

    # Names, families, 'benchmark' or 'all'; a string is a list of one.
    corruptions: str | tuple[str, ...] = ()
    severities: tuple[int, ...] = bounded((1, 2, 3, 4, 5),
                                          lambda v: bool(v) and all(1 <= s <= 5 for s in v),
                                          "a non-empty list of severities in 1..5")
    cifar10c: str | None = None  # official CIFAR-10-C files to read instead of generating
    thumbnails: int = bounded(40, lambda v: v >= 0, "0 or more")  # corrupted images kept
    # Corrupted images also for the first this-many samples of every list the Samples page shows
    # under a condition (corruption-fragile per model, pruning-fragile and -gain per pruned model).
    listed_thumbnails: int = bounded(48, lambda v: v >= 0, "0 or more")
    # `[[conditions.attacks]]`: adversarial attacks at budgets (compute/attacks.py), read into
    # AttackSpecs by load_config.
    attacks: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.corruptions, str):
            object.__setattr__(self, "corruptions", (self.corruptions,))
        object.__setattr__(self, "attacks", tuple(self.attacks))


@dataclass(frozen=True)
class Evaluation:
    """`[evaluation]`: how the models' forward passes run."""

    batch_size: int = bounded(256, lambda v: v >= 1, "at least 1")
    # The forward pass in reduced precision; the geometry is still computed in float64 from the
    # (reduced-precision) features. Its effect on the stored numbers: docs/benchmarks.md.
    autocast: str = bounded("none", lambda v: v in ("none", "bf16", "fp16"), "none, bf16 or fp16")


@dataclass(frozen=True)
class _Top:
    """The top level as written; load_config turns it into a BuildConfig."""

    name: str = bounded(REQUIRED, lambda v: bool(v.strip()), "a non-empty string")
    data: dict  # read against the data source's parameters
    models: list
    output: str | None = None
    seed: int = 0
    # How floats are computed on a CPU: native (fastest) or portable (the same on every x86-64
    # CPU; compute/numerics.py). Set before torch loads, by the command line.
    numerics: str = bounded("native", lambda v: v in ("native", "portable"), "native or portable")
    checkpoints: str | None = None
    conditions: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    radius: dict | None = None  # [radius]: compute/radius.py


@dataclass(frozen=True)
class _Model:
    """One `[[models]]` table as written; it expands into one ModelSpec, or several (a sweep)."""

    name: str = bounded(REQUIRED, lambda v: bool(v.strip()), "a non-empty string")
    arch: str | None = None
    checkpoint: str | None = None
    classifier: str | None = None
    base: str | None = None
    reference: str | None = None
    prune: dict | None = None
    train: dict | None = None
    # A sweep: one model per seed (and per sparsity, when the prune table's `sparsity` is a list).
    seeds: tuple[int, ...] | None = bounded(
        None, lambda v: len(v) > 0 and len(set(v)) == len(v) and min(v) >= 0,
        "a non-empty list of distinct integers, 0 or more")


@dataclass(frozen=True)
class BuildConfig:
    """A checked config, paths resolved; each table's defaults are its dataclass's."""

    name: str
    path: Path  # the config file
    text: str  # its TOML text, stored in the store's meta
    output: Path
    data: DataSpec
    conditions: Conditions
    evaluation: Evaluation
    models: tuple[ModelSpec, ...]
    seed: int
    numerics: str
    checkpoints: Path
    radius: RadiusSpec | None = None  # each sample's input-space radius, per model

    def fingerprint(self, **overrides: object) -> str:
        """Same config text and overrides -> same store; used to decide whether to resume."""
        key = self.text + repr(sorted(overrides.items()))
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def _prune(table: Any, where: str) -> list[PruneSpec]:
    """A `prune` table: `method`, then that method's own hyperparameters; one spec per sparsity
    when `sparsity` is a list (a sweep)."""
    # Imported here, as the data sources below: the methods load torch, which must wait until
    # `python -m compute` has set the numerics (compute/numerics.py) from this very config.
    from compute.pruning import get_method, list_pruning_methods

    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table, got {described(table)}")
    method = table.get("method")
    if not isinstance(method, str):
        raise UserError(f"{where} needs 'method' (one of {', '.join(list_pruning_methods())})")
    params = get_method(method).params
    hints, required, bounds = fields_of(params)
    sweep = table.get("sparsity")
    if isinstance(sweep, list):
        if not sweep or len(set(sweep)) != len(sweep):
            raise UserError(f"'sparsity' in {where} must be a number or a non-empty list of "
                            f"distinct numbers, got {described(sweep)}")
        return [_prune({**table, "sparsity": s}, where)[0] for s in sweep]
    values = checked({k: v for k, v in table.items() if k != "method"},
                      {"method": str, **hints}, required, f"{where} (method '{method}')", bounds)
    return [PruneSpec(method, params(**values))]


def percent(sparsity: float) -> str:
    """A sparsity as a sweep names it: 0.9 -> '90', 0.975 -> '97.5'."""
    return f"{sparsity * 100:.4g}"


def _expand(values: dict[str, Any], prunes: list[PruneSpec] | None,
            swept: dict[str, list[ModelSpec]], where: str) -> list[ModelSpec]:
    """One model entry as the models it describes: itself, or one per sparsity and seed, named
    `<name>-<percent>` / `<name>-s<seed>` / `<name>-<percent>-s<seed>`. A reference to a model
    swept over seeds is to its member with the same seed."""
    stem = values["name"]
    seeds = values.pop("seeds", None)
    by_sparsity = prunes is not None and len(prunes) > 1
    out = []
    for prune in prunes or [None]:
        for seed in seeds or [None]:
            name = stem + (f"-{percent(prune.sparsity)}" if by_sparsity else "") + (
                f"-s{seed}" if seed is not None else "")
            refs = {key: _member(values.get(key), seed, swept, where, key)
                    for key in ("base", "reference")}
            recipe = stem if (by_sparsity or seeds) else None
            out.append(ModelSpec(**{**values, **refs, "name": name, "prune": prune,
                                    "recipe": recipe, "seed": seed}))
    return out


def _member(ref: str | None, seed: int | None, swept: dict[str, list[ModelSpec]], where: str,
            key: str) -> str | None:
    """The model a `base` or `reference` names: itself, or its sweep's member with `seed`."""
    if ref is None or ref not in swept:
        return ref
    members = swept[ref]
    if len({m.prune.sparsity for m in members if m.prune}) > 1:
        raise UserError(f"'{key}' of {where} is '{ref}', a sweep over sparsities: name one of "
                        f"its models, e.g. '{members[0].name}'")
    match = [m.name for m in members if m.seed == seed]
    if seed is None or not match:
        have = ", ".join(str(m.seed) for m in members)
        raise UserError(f"'{key}' of {where} is '{ref}', a sweep over seeds {have}: give this "
                        f"entry seeds among them (each model then uses its own seed's '{ref}'), "
                        f"or name one of its models, e.g. '{members[0].name}'")
    return match[0]


def _source_parameters(source: str) -> tuple[dict[str, Any], set[str]]:
    """The options a data source takes (name -> type) and which of them it needs."""
    from compute.datasets import DATASETS, list_datasets

    if source not in DATASETS:
        raise UserError(f"unknown data source '{source}' in [data] (known: {', '.join(list_datasets())})")
    fn = DATASETS[source]
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    return ({name: hints.get(name, Any) for name in params},
            {name for name, p in params.items() if p.default is inspect.Parameter.empty})


def _data(raw: Any, data_root: str | None, resolve: Callable[[str], Path]) -> DataSpec:
    """`[data]`: DataSpec's keys and the chosen source's parameters (its `options`)."""
    if not isinstance(raw, dict):
        raise UserError(f"[data] must be a table, got {described(raw)}")
    source = raw.get("source")
    if not isinstance(source, str):
        raise UserError("[data] needs 'source' (a string: digits, imagefolder or cifar10)")
    options_hints, needed = _source_parameters(source)
    common_hints, _, bounds = fields_of(DataSpec)
    del common_hints["options"]
    table = dict(raw)
    if data_root is not None:
        table["root"] = data_root
    values = checked(table, {**common_hints, **options_hints}, {"source"} | needed,
                     f"[data] (source '{source}')", bounds)
    if "root" in values and isinstance(values["root"], str):
        values["root"] = str(Path(data_root) if data_root is not None else resolve(values["root"]))
    options = {k: v for k, v in values.items() if k not in common_hints}
    return DataSpec(**{k: v for k, v in values.items() if k in common_hints}, options=options)


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The config file's text and its TOML, or one line on why it cannot be read."""
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"config {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise UserError(f"cannot read config {path} ({exc.strerror})") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {path} is not valid TOML: {exc}") from None


def _models(tables: list, resolve: Callable[[str], Path], root: str) -> list[ModelSpec]:
    """Every `[[models]]` table as the models it describes, in order, references checked."""
    models: list[ModelSpec] = []
    swept: dict[str, list[ModelSpec]] = {}  # entry name -> its models, for entries that expand
    for i, table in enumerate(tables):
        label = table.get("name") if isinstance(table, dict) else None
        where = f"[[models]] #{i + 1}" + (f" ('{label}')" if isinstance(label, str) else "")
        m = dataclasses.asdict(read_table(_Model, table, where))
        prune = m.pop("prune")
        prunes = None if prune is None else _prune(prune, f"the prune table of {where}")
        if m["train"] is not None:
            m["train"] = read_table(TrainRecipe, m["train"], f"the train table of {where}")
        if m["checkpoint"] is not None:
            m["checkpoint"] = str(resolve(m["checkpoint"].replace("{data_root}", root)))
        if m["seeds"] is not None and m["checkpoint"] is not None:
            raise UserError(f"{where} has a 'checkpoint' and 'seeds': a given checkpoint is one "
                            "model, so it has no seeds to sweep")
        expanded = _expand(m, prunes, swept, where)
        if len(expanded) > 1 or expanded[0].recipe is not None:
            swept[m["name"]] = expanded
        models.extend(expanded)
    _check_models(models)
    return models


def load_config(path: str | Path, data_root: str | None = None, out: str | None = None,
                checkpoints: str | None = None, numerics: str | None = None) -> BuildConfig:
    """Read and check a config; `data_root`, `out`, `checkpoints` and `numerics` override
    `[data] root`, `output`, `checkpoints` and `numerics`."""
    path = Path(path)
    text, raw = _read_toml(path)
    here = path.parent

    def resolve(p: str) -> Path:
        return (here / p).resolve() if not Path(p).is_absolute() else Path(p)

    top = read_table(_Top, raw, f"the top level of {path.name}")
    data = _data(top.data, data_root, resolve)
    root = data.options.get("root", str(here))
    conditions = read_table(Conditions, top.conditions, "[conditions]")
    if conditions.cifar10c is not None:
        conditions = dataclasses.replace(
            conditions, cifar10c=str(resolve(conditions.cifar10c.replace("{data_root}", root))))
    if not top.models:
        raise UserError(f"config {path.name} needs at least one [[models]] table")
    models = tuple(_models(top.models, resolve, root))
    dense = next((m.name for m in models if m.prune is None), models[0].name)
    conditions = dataclasses.replace(conditions, attacks=read_attacks(
        conditions.attacks, [m.name for m in models], dense))
    configured_output = resolve(top.output or f"../stores/{top.name}.duckdb")
    if checkpoints is not None:
        checkpoints = str(Path(checkpoints).resolve())
    else:
        checkpoints = top.checkpoints or str(configured_output.parent / "checkpoints")
    return BuildConfig(
        name=top.name, path=path, text=text,
        output=Path(out).resolve() if out else configured_output,
        data=data, conditions=conditions,
        evaluation=read_table(Evaluation, top.evaluation, "[evaluation]"),
        radius=read_table(RadiusSpec, top.radius, "[radius]") if top.radius is not None else None,
        models=models,
        seed=top.seed, numerics=numerics or top.numerics,
        # Trained weights belong to the config's recipes, not to where one copy of the store goes.
        checkpoints=resolve(checkpoints),
    )


def _check_models(models: list[ModelSpec]) -> None:
    seen: dict[str, ModelSpec] = {}
    for m in models:
        if m.name in seen:
            raise UserError(f"two models are named '{m.name}'")
        for ref in (m.base, m.reference):
            if ref is not None and ref not in seen:
                raise UserError(f"model '{m.name}' refers to '{ref}', which is not defined before it")
        if m.base is None and m.arch is None:
            raise UserError(f"model '{m.name}' needs an 'arch' (or a 'base' model to prune)")
        if m.base is None and m.checkpoint is None and m.train is None:
            raise UserError(f"model '{m.name}' needs a 'checkpoint' or a [models.train] recipe")
        if m.prune is not None:
            from compute.pruning import get_method

            method = get_method(m.prune.method)
            if method.prunes_while_training and (m.train is None or m.train.epochs == 0):
                raise UserError(f"model '{m.name}': {method.name} prunes while training, so it "
                                "needs a train recipe with epochs > 0")
            if method.fresh_init and (m.base is not None or m.checkpoint is not None):
                raise UserError(f"model '{m.name}': {method.name} keeps weights at their random "
                                "initialisation: give it an 'arch' and no 'base' or 'checkpoint'")
        seen[m.name] = m
