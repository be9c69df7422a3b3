"""Experiment configs: a TOML file read into dataclasses, strictly.

Every table is checked against the fields of its dataclass (or, for `[data]`, against the
parameters of the chosen data source): an unknown key names the nearest valid one, a value of the
wrong type or out of range names its table and key. Relative paths in a config are relative to
the config file, so a build does not depend on the directory it is started from.
`{data_root}` in a path stands for `[data] root`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import inspect
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute.errors import UserError

# The schema pieces the pruning methods and training declare their hyperparameters with live in a
# leaf module, so they import it without importing this one (and its readers import them).
from compute.hparams import AUGMENTATIONS, REQUIRED, TrainRecipe, bounded  # noqa: F401


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
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class BuildConfig:
    name: str
    path: Path  # the config file
    text: str  # its TOML text, stored in the store's meta
    output: Path
    data: DataSpec
    corruptions: tuple[str, ...]  # names, families, 'benchmark' or 'all'
    severities: tuple[int, ...]
    models: tuple[ModelSpec, ...]
    seed: int = 0
    batch_size: int = 256
    autocast: str = "none"  # evaluation's forward pass: none (float32), bf16 or fp16
    cifar10c: Path | None = None  # official CIFAR-10-C files to read instead of generating
    thumbnails: int = 40  # samples whose corrupted images are stored for inspection
    # Corrupted images also for the first this-many samples of every list the Samples page shows
    # under a condition (corruption-fragile per model, pruning-fragile and -gain per pruned model).
    listed_thumbnails: int = 48
    checkpoints: Path = Path("checkpoints")
    # How floats are computed on a CPU: native (fastest) or portable (the same on every x86-64
    # CPU; compute/numerics.py). Set before torch loads, by the command line.
    numerics: str = "native"

    def fingerprint(self, **overrides: object) -> str:
        """Same config text and overrides -> same store; used to decide whether to resume."""
        key = self.text + repr(sorted(overrides.items()))
        return hashlib.sha256(key.encode()).hexdigest()[:16]


# --- the tables as written: field names and types are the schema ------------------------------


@dataclass(frozen=True)
class _Top:
    name: str = bounded(REQUIRED, lambda v: bool(v.strip()), "a non-empty string")
    data: dict  # checked against the data source's parameters
    models: list
    output: str | None = None
    seed: int = 0
    numerics: str = bounded("native", lambda v: v in ("native", "portable"), "native or portable")
    checkpoints: str | None = None
    conditions: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Conditions:
    corruptions: str | tuple[str, ...] = ()
    severities: tuple[int, ...] = bounded((1, 2, 3, 4, 5),
                                          lambda v: bool(v) and all(1 <= s <= 5 for s in v),
                                          "a non-empty list of severities in 1..5")
    cifar10c: str | None = None
    thumbnails: int = bounded(40, lambda v: v >= 0, "0 or more")
    listed_thumbnails: int = bounded(48, lambda v: v >= 0, "0 or more")


@dataclass(frozen=True)
class _Evaluation:
    batch_size: int = bounded(256, lambda v: v >= 1, "at least 1")
    # The forward pass in reduced precision; the geometry is still computed in float64 from the
    # (reduced-precision) features. Its effect on the stored numbers: docs/benchmarks.md.
    autocast: str = bounded("none", lambda v: v in ("none", "bf16", "fp16"), "none, bf16 or fp16")


@dataclass(frozen=True)
class _Model:
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
class _DataCommon:
    source: str
    mean: tuple[float, ...] | None = bounded(None, lambda v: len(v) == 3, "three numbers (R, G, B)")
    std: tuple[float, ...] | None = bounded(None, lambda v: len(v) == 3 and min(v) > 0,
                                            "three positive numbers (R, G, B)")


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "nothing"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(hint)[0]).removeprefix('a ')}s"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table", list: "an array of tables"}.get(hint, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, list) and all(_matches(v, typing.get_args(hint)[0]) for v in value)
    return isinstance(value, hint)


def _described(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{shown} ({kind})"


def _unknown(key: str, allowed: list[str], where: str) -> UserError:
    near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return UserError(f"unknown key '{key}' in {where} ({hint}allowed: {', '.join(sorted(allowed))})")


def _checked(table: Any, hints: Mapping[str, Any], required: set[str], where: str,
             bounds: Mapping[str, tuple[Callable[[Any], bool], str]]) -> dict[str, Any]:
    """The table's values, each checked against its type hint and bounds; lists become tuples."""
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table, got {_described(table)}")
    for key in table:
        if key not in hints:
            raise _unknown(key, list(hints), where)
    for key in sorted(required - set(table)):
        raise UserError(f"{where} needs '{key}' ({_type_name(hints[key])})")
    out = {}
    for key, value in table.items():
        if not _matches(value, hints[key]):
            raise UserError(f"'{key}' in {where} must be {_type_name(hints[key])}, "
                            f"got {_described(value)}")
        check, must = bounds.get(key, (None, ""))
        if check is not None and value is not None and not check(value):
            raise UserError(f"'{key}' in {where} must be {must}, got {_described(value)}")
        out[key] = tuple(value) if isinstance(value, list) and hints[key] is not list else value
    return out


def _schema(cls: type, skip: tuple[str, ...] = ()) -> tuple[dict, set[str], dict]:
    """A dataclass's fields as (type hints, required names, bounds), leaving out `skip`."""
    fields = [f for f in dataclasses.fields(cls) if f.name not in skip]
    hints = typing.get_type_hints(cls)
    required = {f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    bounds = {f.name: f.metadata["bounds"] for f in fields if "bounds" in f.metadata}
    return {f.name: hints[f.name] for f in fields}, required, bounds


def _take(cls: type, table: Any, where: str) -> dict[str, Any]:
    hints, required, bounds = _schema(cls)
    return _checked(table, hints, required, where, bounds)


def _prune(table: Any, where: str) -> list[PruneSpec]:
    """A `prune` table: `method`, then that method's own hyperparameters; one spec per sparsity
    when `sparsity` is a list (a sweep)."""
    from compute.pruning import get_method, list_pruning_methods  # the methods import this module

    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table, got {_described(table)}")
    method = table.get("method")
    if not isinstance(method, str):
        raise UserError(f"{where} needs 'method' (one of {', '.join(list_pruning_methods())})")
    params = get_method(method).params
    hints, required, bounds = _schema(params)
    sweep = table.get("sparsity")
    if isinstance(sweep, list):
        if not sweep or len(set(sweep)) != len(sweep):
            raise UserError(f"'sparsity' in {where} must be a number or a non-empty list of "
                            f"distinct numbers, got {_described(sweep)}")
        return [_prune({**table, "sparsity": s}, where)[0] for s in sweep]
    values = _checked({k: v for k, v in table.items() if k != "method"},
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
    if not isinstance(raw, dict):
        raise UserError(f"[data] must be a table, got {_described(raw)}")
    source = raw.get("source")
    if not isinstance(source, str):
        raise UserError("[data] needs 'source' (a string: digits, imagefolder or cifar10)")
    options_hints, needed = _source_parameters(source)
    common_hints = typing.get_type_hints(_DataCommon)
    hints = {**common_hints, **options_hints}
    table = dict(raw)
    if data_root is not None:
        table["root"] = data_root
    bounds = _schema(_DataCommon)[2]
    values = _checked(table, hints, {"source"} | needed, f"[data] (source '{source}')", bounds)
    if "root" in values and isinstance(values["root"], str):
        values["root"] = str(Path(data_root) if data_root is not None else resolve(values["root"]))
    options = {k: v for k, v in values.items() if k not in common_hints}
    return DataSpec(source=source, options=options, mean=values.get("mean"), std=values.get("std"))


def load_config(path: str | Path, data_root: str | None = None, out: str | None = None,
                checkpoints: str | None = None, numerics: str | None = None) -> BuildConfig:
    """Read and check a config; `data_root`, `out`, `checkpoints` and `numerics` override
    `[data] root`, `output`, `checkpoints` and `numerics`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"config {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise UserError(f"cannot read config {path} ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {path} is not valid TOML: {exc}") from None
    here = path.parent

    def resolve(p: str) -> Path:
        return (here / p).resolve() if not Path(p).is_absolute() else Path(p)

    top = _take(_Top, raw, f"the top level of {path.name}")
    data = _data(top["data"], data_root, resolve)
    root = data.options.get("root", str(here))

    conditions = _take(_Conditions, top.get("conditions", {}), "[conditions]")
    evaluation = _take(_Evaluation, top.get("evaluation", {}), "[evaluation]")

    if not top["models"]:
        raise UserError(f"config {path.name} needs at least one [[models]] table")
    models: list[ModelSpec] = []
    swept: dict[str, list[ModelSpec]] = {}  # entry name -> its models, for entries that expand
    for i, table in enumerate(top["models"]):
        label = table.get("name") if isinstance(table, dict) else None
        where = f"[[models]] #{i + 1}" + (f" ('{label}')" if isinstance(label, str) else "")
        m = _take(_Model, table, where)
        prunes = None
        if m.get("prune") is not None:
            prunes = _prune(m.pop("prune"), f"the prune table of {where}")
        if m.get("train") is not None:
            m["train"] = TrainRecipe(**_take(TrainRecipe, m["train"], f"the train table of {where}"))
        if m.get("checkpoint") is not None:
            m["checkpoint"] = str(resolve(m["checkpoint"].replace("{data_root}", root)))
        if m.get("seeds") is not None and m.get("checkpoint") is not None:
            raise UserError(f"{where} has a 'checkpoint' and 'seeds': a given checkpoint is one "
                            "model, so it has no seeds to sweep")
        expanded = _expand(m, prunes, swept, where)
        if len(expanded) > 1 or expanded[0].recipe is not None:
            swept[m["name"]] = expanded
        models.extend(expanded)
    _check_models(models)

    corruptions = conditions.get("corruptions", ())
    if isinstance(corruptions, str):
        corruptions = (corruptions,)
    cifar10c = conditions.get("cifar10c")
    if cifar10c is not None:
        cifar10c = resolve(cifar10c.replace("{data_root}", root))
    configured_output = resolve(top.get("output") or f"../stores/{top['name']}.duckdb")
    output = Path(out).resolve() if out else configured_output
    if checkpoints is not None:
        checkpoints = str(Path(checkpoints).resolve())
    else:
        checkpoints = top.get("checkpoints") or str(configured_output.parent / "checkpoints")
    return BuildConfig(
        name=top["name"],
        path=path,
        text=text,
        output=output,
        data=data,
        corruptions=tuple(corruptions),
        severities=tuple(conditions.get("severities", (1, 2, 3, 4, 5))),
        models=tuple(models),
        seed=top.get("seed", 0),
        numerics=numerics or top.get("numerics", "native"),
        batch_size=evaluation.get("batch_size", 256),
        autocast=evaluation.get("autocast", "none"),
        cifar10c=cifar10c,
        thumbnails=conditions.get("thumbnails", 40),
        listed_thumbnails=conditions.get("listed_thumbnails", 48),
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
