"""A build: data -> models -> every (model, condition) pair -> geometry -> one store.

Models are all prepared (loaded, trained, pruned) before the store is touched, so a bad checkpoint
fails fast. Evaluation runs condition by condition: each batch is corrupted once and fed to every
model, and each (model, condition) pair is written in one transaction, which is what lets an
interrupted build resume.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import torch
from tqdm import tqdm

from compute.cifar10c import OfficialCorruptions
from compute.config import BuildConfig
from compute.corruptions import Corruption, quantize_like_benchmark, select
from compute.datasets import DataSplits, ImageSet, load_data, png_bytes
from compute.errors import UserError
from compute.geometry import geometry
from compute.models import measure_sparsity
from compute.preparation import PreparedModel, check_methods, prepare_models
from compute.similarity import FeatureGram


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


@contextmanager
def reproducible(threads: int | None) -> Iterator[None]:
    """Evaluation that gives the same numbers on every run of a machine: a fixed number of CPU
    threads (MKL and oneDNN split their sums by thread) and torch's deterministic kernels
    (cuDNN without autotuning on a GPU). Restores the previous settings afterwards."""
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1], warn_only=before[2])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[3:]


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


def build(cfg: BuildConfig, device: str = "auto", threads: int | None = None) -> Path:
    """Build (or resume) the store of `cfg` and atomically put it at `cfg.output`; `threads`
    fixes the CPU threads evaluation runs on (default: torch's, one per core)."""
    from store.writer import StoreWriter

    # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    dev = resolve_device(device)
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    # Foreign architectures (`package.module:factory`) may live next to the config.
    if str(cfg.path.parent.resolve()) not in sys.path:
        sys.path.insert(0, str(cfg.path.parent.resolve()))
    resolve_conditions(cfg)  # unknown names fail before the data is read
    check_methods(cfg)
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
            writer.put_meta({**_meta(cfg, data, dev),
                             "threads": str(threads or torch.get_num_threads())})
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
            with reproducible(threads):
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
