"""A build: data -> models -> every (model, condition) pair -> geometry -> one store.

Models are all prepared (loaded, trained, pruned) before the store is touched, so a bad checkpoint
fails fast. Evaluation runs condition by condition: each batch is corrupted once and fed to every
model, and each (model, condition) pair is written in one transaction, which is what lets an
interrupted build resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import torch
from tqdm import tqdm

from compute import checkpoints
from compute.cifar10c import OfficialCorruptions
from compute.config import BuildConfig, ModelSpec, TrainRecipe
from compute.corruptions import Corruption, quantize_like_benchmark, select
from compute.datasets import DataSplits, ImageSet, load_data, png_bytes
from compute.errors import UserError
from compute.geometry import geometry
from compute.models import Probe, create_model, measure_sparsity
from compute.pruning import Context, get_strategy
from compute.similarity import FeatureGram
from compute.training import Masks, train


@dataclass
class Condition:
    condition_id: int
    name: str
    corruption: Corruption | None  # None for clean
    severity: int
    official: OfficialCorruptions | None = None  # read the images instead of generating them

    def images(self, test: ImageSet, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Test samples `ids` under this condition: float (B, 3, H, W) in [0, 1] on `device`."""
        if self.official is not None:
            raw = self.official.images(self.corruption.name, self.severity, ids)
            return raw.to(device).float() / 255.0
        clean = test.images[ids].to(device, non_blocking=True).float() / 255.0
        if self.corruption is None:
            return clean
        return quantize_like_benchmark(self.corruption(clean, self.severity, ids))


@dataclass
class PreparedModel:
    model_id: int
    spec: ModelSpec
    arch: str
    probe: Probe
    key: str  # hash of everything that determines the weights
    checkpoint: Path | None
    checkpoint_sha256: str | None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but torch sees no CUDA device (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)


def resolve_conditions(cfg: BuildConfig, test: ImageSet | None = None) -> list[Condition]:
    """Clean, then every selected corruption at every severity (corruption-major order).

    With `test`, a config pointing at official CIFAR-10-C files gets them opened and checked.
    """
    corruptions = select(cfg.corruptions)
    for severity in cfg.severities:
        if severity not in (1, 2, 3, 4, 5):
            raise UserError(f"severity {severity} is not one of 1..5")
    official = None
    if cfg.cifar10c is not None and test is not None and corruptions:
        official = OfficialCorruptions(cfg.cifar10c, [c.name for c in corruptions], test.labels,
                                       tuple(test.images.shape[1:]))
    conditions = [Condition(0, "clean", None, 0)]
    for corruption in corruptions:
        for severity in cfg.severities:
            name = f"{corruption.name}-{severity}"
            conditions.append(Condition(len(conditions), name, corruption, severity, official))
    return conditions


def inspection_subset(labels: torch.Tensor, size: int) -> torch.Tensor:
    """The samples whose corrupted images are kept as thumbnails: the first of each class in
    turn, so every class is shown, in sample order."""
    order = torch.argsort(labels, stable=True)
    classes, counts = torch.unique(labels, return_counts=True)
    rank = torch.empty_like(order)
    starts = torch.cumsum(counts, 0) - counts
    rank[order] = torch.arange(len(labels)) - starts.repeat_interleave(counts)
    # Round-robin over classes: rank 0 of every class first, then rank 1, ...
    chosen = torch.argsort(rank * len(classes) + labels, stable=True)[:size]
    return torch.sort(chosen).values


# Part of every cached checkpoint's key: bump it when the same recipe would train differently.
CHECKPOINT_SCHEME = 2


def model_seed(seed: int, name: str) -> int:
    """The seed of one model's initialisation and training: the config's seed and its name."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def prepare_models(cfg: BuildConfig, data: DataSplits, device: torch.device) -> list[PreparedModel]:
    """Load, train and prune every model of the config, reusing checkpoints whose recipe matches."""
    num_classes = len(data.classes)
    prepared: dict[str, PreparedModel] = {}
    for model_id, spec in enumerate(cfg.models):
        base = prepared.get(spec.base) if spec.base else None
        arch = spec.arch or base.arch
        # A model's weights must depend on its own recipe only (the checkpoint cache is keyed on
        # it), not on what ran before it: initialise and train from a seed of its own.
        seed = model_seed(cfg.seed, spec.name)
        torch.manual_seed(seed)
        probe = Probe(create_model(arch, num_classes), spec.classifier, cfg.data.mean, cfg.data.std)
        ckpt_path, ckpt_sha = None, None
        if spec.checkpoint:
            ckpt_path = Path(spec.checkpoint)
            checkpoints.load_into(probe.net, ckpt_path, probe.classifier_name, num_classes)
            ckpt_sha = checkpoints.sha256(ckpt_path)
        elif base is not None:
            probe.net.load_state_dict(base.probe.net.state_dict())
        key = _key(CHECKPOINT_SCHEME, arch, dataclasses.asdict(cfg.data), dataclasses.asdict(spec), cfg.seed,
                   base.key if base else None, ckpt_sha)
        if spec.prune or spec.train:
            ckpt_path = cfg.checkpoints / f"{spec.name}-{key}.pt"
            if ckpt_path.is_file():
                checkpoints.load_into(probe.net, ckpt_path, probe.classifier_name, num_classes)
            else:
                masks = _train_and_prune(probe, spec, data.train, device, seed,
                                         from_trained=base is not None or spec.checkpoint is not None)
                checkpoints.save(probe.net, ckpt_path, {"key": key, **dataclasses.asdict(spec)}, masks)
            ckpt_sha = checkpoints.sha256(ckpt_path)
        probe.to(device).eval()
        prepared[spec.name] = PreparedModel(model_id, spec, arch, probe, key, ckpt_path, ckpt_sha)
    return list(prepared.values())


def _train_and_prune(
    probe: Probe, spec: ModelSpec, train_set: ImageSet | None, device: torch.device, seed: int,
    from_trained: bool,
) -> Masks | None:
    """Train a model, or prune it with its strategy (which trains as its method says)."""
    if train_set is None:
        raise UserError(f"model '{spec.name}' needs training data: set [data] train")
    desc = f"training {spec.name}"

    def run(model: Probe, recipe: TrainRecipe, **kwargs: object) -> None:
        train(model, train_set, recipe, device, seed, desc=desc, **kwargs)

    if spec.prune is None:
        run(probe, spec.train)
        return None
    recipe = spec.train or TrainRecipe(epochs=0)  # no recipe: prune without training
    ctx = Context(train_set, recipe, device, seed, from_trained, run)
    return get_strategy(spec.prune.method)(probe, spec.prune, ctx)


def model_row(m: PreparedModel, ids: dict[str, int], num_classes: int) -> dict[str, object]:
    sparsity, total, nonzero = measure_sparsity(m.probe.net)
    reference = m.spec.reference or m.spec.base
    return {
        "model_id": m.model_id,
        "name": m.spec.name,
        "arch": m.arch,
        "method": m.spec.method,
        "target_sparsity": m.spec.prune.sparsity if m.spec.prune else None,
        "sparsity": sparsity,
        "params_total": total,
        "params_nonzero": nonzero,
        "reference_model_id": ids[reference] if reference else None,
        "num_classes": num_classes,
        "feature_dim": m.probe.classifier.in_features,
        "checkpoint": str(m.checkpoint) if m.checkpoint else None,
        "checkpoint_sha256": m.checkpoint_sha256,
        "notes": None,
    }


@torch.inference_mode()
def evaluate(
    models: list[PreparedModel], condition: Condition, test: ImageSet, device: torch.device,
    batch_size: int,
) -> tuple[list[dict[str, np.ndarray]], torch.Tensor]:
    """Geometry of every test sample under one condition, for each model (one dict of arrays
    each), and the linear CKA between the models' penultimate features (M x M)."""
    parts: list[list[dict[str, torch.Tensor]]] = [[] for _ in models]
    gram = FeatureGram()
    ids = torch.arange(len(test))
    for start in range(0, len(test), batch_size):
        batch = ids[start : start + batch_size]
        # Channels-last: the CPU convolutions run about 1.5x faster on it (docs/benchmarks.md).
        x = condition.images(test, batch, device).contiguous(memory_format=torch.channels_last)
        y = test.labels[batch].to(device)
        features = []
        for out, m in zip(parts, models, strict=True):
            f, _ = m.probe.features_and_logits(x)
            features.append(f)
            out.append(geometry(f, m.probe.classifier.weight, m.probe.classifier.bias, y))
        gram.update(features)
    metrics = [{k: torch.cat([p[k] for p in out]).cpu().numpy() for k in out[0]} for out in parts]
    return metrics, gram.cka()


def _meta(cfg: BuildConfig, data: DataSplits, device: torch.device) -> dict[str, str]:
    import torchvision

    return {
        "config_name": cfg.name,
        "config_path": str(cfg.path),
        "config_toml": cfg.text,
        "dataset": data.name,
        "corruption_source": f"official files in {cfg.cifar10c}" if cfg.cifar10c else "generated",
        "device": device.type,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "duckdb": duckdb.__version__,
    }


def build(cfg: BuildConfig, device: str = "auto") -> Path:
    """Build (or resume) the store of `cfg` and atomically put it at `cfg.output`."""
    from store.writer import StoreWriter

    dev = resolve_device(device)
    # Foreign architectures (`package.module:factory`) may live next to the config.
    if str(cfg.path.parent.resolve()) not in sys.path:
        sys.path.insert(0, str(cfg.path.parent.resolve()))
    resolve_conditions(cfg)  # unknown names fail before the data is read
    data = load_data(cfg.data.source, **cfg.data.options)
    conditions = resolve_conditions(cfg, data.test)
    num_classes = len(data.classes)
    models = prepare_models(cfg, data, dev)
    ids = {m.spec.name: m.model_id for m in models}
    test = data.test

    try:
        writer = StoreWriter(cfg.output, cfg.fingerprint(), num_classes)
    except (OSError, duckdb.Error) as exc:
        raise UserError(f"cannot write the store at {cfg.output} ({exc})") from None
    with writer:
        if not writer.resumed:
            writer.put_meta(_meta(cfg, data, dev))
            writer.put_table("classes", {
                "class_id": np.arange(num_classes, dtype=np.int16), "name": data.classes})
            writer.put_table("conditions", {
                "condition_id": np.array([c.condition_id for c in conditions], np.int16),
                "name": [c.name for c in conditions],
                "corruption": [c.corruption.name if c.corruption else "clean" for c in conditions],
                "severity": np.array([c.severity for c in conditions], np.int8),
                "family": [c.corruption.family if c.corruption else "clean" for c in conditions],
                "benchmark": [bool(c.corruption and c.corruption.benchmark) for c in conditions],
            })
            thumbs = [png_bytes(img) for img in tqdm(test.images, desc="thumbnails", leave=False)]
            writer.put_table("samples", {
                "sample_id": np.arange(len(test), dtype=np.int32),
                "split": ["test"] * len(test),
                "label": test.labels.numpy().astype(np.int16),
                "source": test.sources,
                "thumbnail": thumbs,
            })
        for m in models:
            clf = m.probe.classifier
            writer.put_model(model_row(m, ids, num_classes), clf.weight.detach().cpu().numpy(),
                             clf.bias.detach().cpu().numpy())
        done = writer.done_pairs()
        subset = inspection_subset(test.labels, cfg.thumbnails)
        for condition in tqdm(conditions, desc=f"evaluating {len(models)} models", unit="cond"):
            todo = [m for m in models if (m.model_id, condition.condition_id) not in done]
            if not todo:
                continue
            if condition.corruption is not None and len(subset):
                images = (condition.images(test, subset, dev) * 255).round().byte().cpu()
                writer.put_condition_thumbnails(condition.condition_id, subset.numpy(),
                                                [png_bytes(img) for img in images])
            # Every model runs, not only the missing ones: CKA needs all their features at once.
            # (Only a resumed condition re-runs a model.) Similarity first, so a condition whose
            # metrics are all written always has its similarity too.
            results, cka = evaluate(models, condition, test, dev, cfg.batch_size)
            writer.put_similarity(condition.condition_id, [m.model_id for m in models],
                                  cka.cpu().numpy())
            sample_ids = np.arange(len(test), dtype=np.int32)
            writer.put_metrics_many([
                (m.model_id, condition.condition_id, sample_ids, metrics)
                for m, metrics in zip(models, results, strict=True)
                if (m.model_id, condition.condition_id) not in done
            ])
        # What the corruption-redundancy view pools, so it need not read every metric row.
        for metric, severity in tqdm(writer.shift_moment_keys(), desc="corruption shift moments",
                                     unit="view", leave=False):
            writer.put_shift_moments(metric, severity)
        return writer.commit()
