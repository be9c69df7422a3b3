"""Every model of a config, ready to evaluate: loaded, trained or pruned, from a cache of weights.

A trained or pruned model is saved as `<checkpoints>/<name>-<key>.pt`. The key hashes everything
that decides its weights: the recipe, the data spec, the seed, the base model's key, the given
checkpoint's sha256, the torch version, and the source of the code that loads data, builds,
trains and prunes models. A change to any of them, code included, trains afresh instead of
reusing weights that no longer follow from the recipe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

from compute import checkpoints, numerics
from compute.config import BuildConfig, ModelSpec, TrainRecipe
from compute.datasets import DataSplits, ImageSet
from compute.errors import UserError
from compute.models import Probe, check_architecture, create_model
from compute.pruning import Context, get_method
from compute.training import Masks, train

# The modules whose code decides trained weights (this one included: it seeds and orders).
WEIGHT_CODE = ("compute.preparation", "compute.training", "compute.pruning", "compute.models",
               "compute.datasets", "compute.config", "compute.hparams", "compute.checkpoints")


@dataclass
class PreparedModel:
    model_id: int
    spec: ModelSpec
    arch: str
    probe: Probe
    key: str  # hash of everything that determines the weights
    checkpoint: Path | None
    checkpoint_sha256: str | None
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)


@cache
def code_fingerprint() -> str:
    """sha256 over the source files of WEIGHT_CODE, the torch version and the numerics this
    process runs (a portable and a native build train different weights)."""
    digest = hashlib.sha256(torch.__version__.encode() + numerics.describe().encode())
    for name in WEIGHT_CODE:
        digest.update(Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()[:16]


def model_seed(seed: int, name: str) -> int:
    """The seed of one model's initialisation and training: the config's seed and its name."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def weight_keys(cfg: BuildConfig) -> dict[str, str]:
    """Each model's weight key, computed as prepare_models does but without loading or training
    anything: what `plan` checks the checkpoint cache with."""
    keys: dict[str, str] = {}
    archs: dict[str, str] = {}
    for spec in cfg.models:
        archs[spec.name] = spec.arch or archs[spec.base]
        given = checkpoints.sha256(Path(spec.checkpoint)) if spec.checkpoint else None
        keys[spec.name] = _key(code_fingerprint(), archs[spec.name], dataclasses.asdict(cfg.data),
                               dataclasses.asdict(spec), cfg.seed,
                               keys[spec.base] if spec.base else None, given)
    return keys


def cached_checkpoint(cfg: BuildConfig, spec: ModelSpec, key: str) -> Path:
    """Where a trained or pruned model's weights are cached."""
    return cfg.checkpoints / f"{spec.name}-{key}.pt"


def preflight(cfg: BuildConfig) -> None:
    """What can be checked of the models before any data is read or model trained: their
    architectures exist (foreign factories import), their checkpoints are there."""
    trains = [m.name for m in cfg.models if m.train is not None or m.prune is not None]
    if trains and cfg.data.source == "imagefolder" and not cfg.data.options.get("train"):
        raise UserError(f"model '{trains[0]}' trains, so [data] needs a 'train' folder beside "
                        "'test'")
    for spec in cfg.models:
        if spec.arch is not None:
            check_architecture(spec.arch)
        if spec.checkpoint is not None and not Path(spec.checkpoint).is_file():
            raise UserError(f"model '{spec.name}': checkpoint {spec.checkpoint} does not exist")
        if spec.prune is not None:
            get_method(spec.prune.method)


def empty_probe(cfg: BuildConfig, spec: ModelSpec, arch: str, num_classes: int) -> Probe:
    """A model of the spec's architecture with whatever weights it is created with, to load a
    state dict into."""
    return Probe(create_model(arch, num_classes), spec.classifier, cfg.data.mean, cfg.data.std)


def initial_probe(cfg: BuildConfig, spec: ModelSpec, arch: str, num_classes: int,
                  base_state: Mapping[str, torch.Tensor] | None) -> Probe:
    """A model as it is before its own training: initialised from its own seed (its weights must
    depend on its recipe only, not on what ran before it: the cache is keyed on the recipe), then
    loaded from its given checkpoint or from its base model's trained weights."""
    torch.manual_seed(model_seed(cfg.seed, spec.name))
    probe = empty_probe(cfg, spec, arch, num_classes)
    if spec.checkpoint:
        checkpoints.load_into(probe.net, Path(spec.checkpoint), probe.classifier_name, num_classes)
    elif base_state is not None:
        probe.net.load_state_dict(base_state)
    return probe


def train_one(cfg: BuildConfig, spec: ModelSpec, probe: Probe, train_set: ImageSet | None,
              device: torch.device, key: str) -> tuple[bytes, list[dict[str, float]]]:
    """Train or prune one model from `initial_probe` in place; (its checkpoint file's bytes,
    what its method recorded). The engines run this, in process or as a Ray task."""
    masks, history = _train_and_prune(
        probe, spec, train_set, device, model_seed(cfg.seed, spec.name),
        from_trained=spec.base is not None or spec.checkpoint is not None)
    return checkpoints.dumps(probe.net, {"key": key, **dataclasses.asdict(spec)}, masks,
                             history), history


def prepare_models(cfg: BuildConfig, data: DataSplits, device: torch.device) -> list[PreparedModel]:
    """Load, train and prune every model of the config, reusing checkpoints whose key matches."""
    num_classes = len(data.classes)
    prepared: dict[str, PreparedModel] = {}
    keys = weight_keys(cfg)
    for model_id, spec in enumerate(cfg.models):
        base = prepared.get(spec.base) if spec.base else None
        arch = spec.arch or base.arch
        probe = initial_probe(cfg, spec, arch, num_classes,
                              base.probe.net.state_dict() if base else None)
        key = keys[spec.name]
        ckpt_path, history = None, []
        ckpt_sha = checkpoints.sha256(Path(spec.checkpoint)) if spec.checkpoint else None
        if spec.checkpoint:
            ckpt_path = Path(spec.checkpoint)
        if spec.prune or spec.train:
            ckpt_path = cached_checkpoint(cfg, spec, key)
            if ckpt_path.is_file():
                checkpoints.load_into(probe.net, ckpt_path, probe.classifier_name, num_classes)
                history = checkpoints.read_history(ckpt_path)
            else:
                payload, history = train_one(cfg, spec, probe, data.train, device, key)
                checkpoints.write_atomically(ckpt_path, payload)
            ckpt_sha = checkpoints.sha256(ckpt_path)
        probe.to(device).eval()
        prepared[spec.name] = PreparedModel(model_id, spec, arch, probe, key, ckpt_path, ckpt_sha,
                                            history)
    return list(prepared.values())


def _train_and_prune(
    probe: Probe, spec: ModelSpec, train_set: ImageSet | None, device: torch.device, seed: int,
    from_trained: bool,
) -> tuple[Masks | None, list[dict[str, float]]]:
    """Train a model, or prune it with its strategy (which trains as its method says); the
    masks and what the strategy recorded on the way."""
    if train_set is None:
        raise UserError(f"model '{spec.name}' needs training data: set [data] train")
    desc = f"training {spec.name}"

    def run(model: Probe, recipe: TrainRecipe, **kwargs: object) -> None:
        train(model, train_set, recipe, device, seed, desc=desc, **kwargs)

    if spec.prune is None:
        run(probe, spec.train)
        return None, []
    recipe = spec.train or TrainRecipe(epochs=0)  # no recipe: prune without training
    ctx = Context(train_set, recipe, device, seed, from_trained, run)
    masks = get_method(spec.prune.method)(spec.prune.params, probe, ctx)
    return masks, ctx.history
