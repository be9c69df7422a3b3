"""Experiment configs: a TOML file read into dataclasses, strictly (an unknown key is an error).

Relative paths in a config are relative to the config file, so a build does not depend on the
directory it is started from. `{data_root}` in a checkpoint path stands for `[data] root`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compute.errors import UserError


@dataclass(frozen=True)
class TrainRecipe:
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 64
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: tuple[str, ...] = ("crop",)  # crop (pad 4, random 32x32 crop), flip


@dataclass(frozen=True)
class PruneRecipe:
    method: str  # magnitude, gmp, ltr, random, snip, edgepopup, biprop
    sparsity: float  # target fraction of conv and linear weights that are zero
    rounds: int = 3  # ltr: pruning rounds, each removing the same fraction of what is left


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str | None = None  # inherited from `base` when pruning
    checkpoint: str | None = None
    classifier: str | None = None  # the final nn.Linear, found automatically when unset
    base: str | None = None  # model whose trained weights a pruned model starts from
    reference: str | None = None  # dense model to compare with (defaults to base)
    prune: PruneRecipe | None = None
    train: TrainRecipe | None = None

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
    cifar10c: Path | None = None  # official CIFAR-10-C files to read instead of generating
    thumbnails: int = 40  # samples whose corrupted images are stored for inspection
    checkpoints: Path = Path("checkpoints")

    def fingerprint(self, **overrides: object) -> str:
        """Same config text and overrides -> same store; used to decide whether to resume."""
        key = self.text + repr(sorted(overrides.items()))
        return hashlib.sha256(key.encode()).hexdigest()[:16]


def _take(cls: type, table: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise UserError(f"unknown key '{unknown[0]}' in {where} (allowed: {', '.join(sorted(names))})")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})
    except TypeError as exc:
        raise UserError(f"{where}: {exc}") from None


def load_config(path: str | Path, data_root: str | None = None, out: str | None = None) -> BuildConfig:
    """Read and check a config; `data_root` and `out` override `[data] root` and `output`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {path} is not valid TOML: {exc}") from None
    here = path.parent

    def resolve(p: str) -> Path:
        return (here / p).resolve() if not Path(p).is_absolute() else Path(p)

    top = {"name", "output", "seed", "data", "conditions", "evaluation", "models", "checkpoints"}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise UserError(f"unknown key '{unknown[0]}' at the top of {path.name}")
    for required in ("name", "data", "models"):
        if required not in raw:
            raise UserError(f"config {path.name} has no '{required}'")

    data_raw = dict(raw["data"])
    if "source" not in data_raw:
        raise UserError("[data] needs a 'source' (digits or imagefolder)")
    if data_root is not None:
        data_raw["root"] = data_root
    if "root" in data_raw:
        data_raw["root"] = str(resolve(data_raw["root"]) if data_root is None else Path(data_root))
    data = DataSpec(
        source=data_raw.pop("source"),
        mean=tuple(data_raw.pop("mean")) if "mean" in data_raw else None,
        std=tuple(data_raw.pop("std")) if "std" in data_raw else None,
        options=data_raw,
    )

    models = []
    if not isinstance(raw["models"], list) or not raw["models"]:
        raise UserError(f"config {path.name} needs at least one [[models]] table")
    for i, m in enumerate(raw["models"]):
        m = dict(m)
        where = f"[[models]] #{i + 1} ({m.get('name', 'unnamed')})"
        if "prune" in m:
            m["prune"] = _take(PruneRecipe, m["prune"], f"{where} prune")
        if "train" in m:
            m["train"] = _take(TrainRecipe, m["train"], f"{where} train")
        if "checkpoint" in m:
            ckpt = m["checkpoint"].replace("{data_root}", data_raw.get("root", str(here)))
            m["checkpoint"] = str(resolve(ckpt))
        models.append(_take(ModelSpec, m, where))
    _check_models(models)

    conditions = dict(raw.get("conditions", {}))
    unknown = sorted(set(conditions) - {"corruptions", "severities", "cifar10c", "thumbnails"})
    if unknown:
        raise UserError(f"unknown key '{unknown[0]}' in [conditions]")
    corruptions = conditions.get("corruptions", ())
    if isinstance(corruptions, str):
        corruptions = (corruptions,)
    cifar10c = conditions.get("cifar10c")
    if cifar10c is not None:
        cifar10c = resolve(cifar10c.replace("{data_root}", data_raw.get("root", str(here))))
    evaluation = raw.get("evaluation", {})
    configured_output = resolve(raw.get("output", f"../stores/{raw['name']}.duckdb"))
    output = Path(out).resolve() if out else configured_output
    return BuildConfig(
        name=raw["name"],
        path=path,
        text=text,
        output=output,
        data=data,
        corruptions=tuple(corruptions),
        severities=tuple(conditions.get("severities", (1, 2, 3, 4, 5))),
        models=tuple(models),
        seed=int(raw.get("seed", 0)),
        batch_size=int(evaluation.get("batch_size", 256)),
        cifar10c=cifar10c,
        thumbnails=int(conditions.get("thumbnails", 40)),
        # Trained weights belong to the config's recipes, not to where one copy of the store goes.
        checkpoints=resolve(raw.get("checkpoints", str(configured_output.parent / "checkpoints"))),
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
        if m.prune is not None and not 0.0 <= m.prune.sparsity < 1.0:
            raise UserError(f"model '{m.name}': sparsity must be in [0, 1), got {m.prune.sparsity}")
        seen[m.name] = m
