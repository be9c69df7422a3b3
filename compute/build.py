"""A build: data -> models -> every (model, condition) pair -> geometry -> one store.

Models are all prepared (loaded, trained, pruned) before the store is touched, so a bad checkpoint
fails fast. Evaluation runs condition by condition: each batch is corrupted once and fed to every
model, and everything a condition gives (`ConditionResults`) is written in one transaction, which
is what lets an interrupted build resume. `build` is the list of steps; each step is a function
below, and what it stores is the writer's.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import torch
from tqdm import tqdm

from compute import numerics
from compute.conditions import Condition, attack_records, resolve_conditions
from compute.config import BuildConfig
from compute.datasets import DataSplits, ImageSet, load_data, png_bytes
from compute.devices import cpu_threads, pinned, resolve_device
from compute.engines import InProcess, OnRay, create_engine
from compute.errors import UserError
from compute.inspection import inspection_subset, kept_samples, sweep_groups
from compute.models import measure_sparsity
from compute.preparation import PreparedModel, preflight, prepare_models
from store.derived import shift_moment_views
from store.records import ConditionResults, ModelRecord
from store.writer import StoreWriter


def check_output(path: Path) -> None:
    """The store can be written there: not a folder, and its folder can be made and written."""
    if path.is_dir():
        raise UserError(f"--out {path} is a folder: name the store file, e.g. {path / 'store.duckdb'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot make the folder {path.parent} for the store ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise UserError(f"cannot write in {path.parent}: choose another --out")


def reference_of(m: PreparedModel) -> str | None:
    """The dense model a model is read against: its `reference`, else the model it came from."""
    return m.spec.reference or m.spec.base


def model_record(m: PreparedModel, ids: dict[str, int], num_classes: int) -> ModelRecord:
    """The row the store keeps of a model: its recipe's facts and its measured sparsity."""
    sparsity, total, nonzero = measure_sparsity(m.probe.net)
    reference = reference_of(m)
    return ModelRecord(
        model_id=m.model_id,
        name=m.spec.name,
        arch=m.arch,
        method=m.spec.method,
        target_sparsity=m.spec.prune.sparsity if m.spec.prune else None,
        sparsity=sparsity,
        params_total=total,
        params_nonzero=nonzero,
        reference_model_id=ids[reference] if reference else None,
        num_classes=num_classes,
        feature_dim=m.probe.classifier.in_features,
        checkpoint=str(m.checkpoint) if m.checkpoint else None,
        checkpoint_sha256=m.checkpoint_sha256,
        recipe=m.spec.recipe,
        seed=m.spec.seed,
    )


def _meta(cfg: BuildConfig, data: DataSplits, device: torch.device) -> dict[str, str]:
    import torchvision

    return {
        "config_name": cfg.name,
        "listed_thumbnails": str(cfg.conditions.listed_thumbnails),
        "config_path": str(cfg.path),
        "config_toml": cfg.text,
        "dataset": data.name,
        "corruption_source": ("none" if not cfg.conditions.corruptions else
                              f"official files in {cfg.conditions.cifar10c}"
                              if cfg.conditions.cifar10c else "generated"),
        "skipped_images": "\n".join(data.skipped),
        "device": device.type,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "duckdb": duckdb.__version__,
    }


def _runtime(cfg: BuildConfig, device: str, threads: int | None
             ) -> tuple[torch.device, int | None, str]:
    """The device, the CPU threads and the numerics (as described in the store) a build runs on."""
    # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    dev = resolve_device(numerics.device_for(cfg.numerics, device))
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    numerics_used = numerics.apply(cfg.numerics)
    if cfg.numerics == "portable" and threads is None:
        threads = numerics.PORTABLE_THREADS
    # Foreign architectures (`package.module:factory`) may live next to the config.
    if str(cfg.path.parent.resolve()) not in sys.path:
        sys.path.insert(0, str(cfg.path.parent.resolve()))
    return dev, threads, numerics_used


def _open_writer(cfg: BuildConfig, num_classes: int) -> StoreWriter:
    try:
        return StoreWriter(cfg.output, cfg.fingerprint(), num_classes)
    except (OSError, duckdb.Error) as exc:
        raise UserError(f"cannot write the store at {cfg.output} ({exc})") from None


def _put_dimensions(writer: StoreWriter, meta: dict[str, str], data: DataSplits,
                    conditions: Sequence[Condition]) -> None:
    """What a fresh store holds before any model: meta, classes, conditions, samples."""
    writer.put_meta(meta)
    writer.put_classes(data.classes)
    writer.put_conditions([c.record() for c in conditions])
    thumbs = [png_bytes(img) for img in tqdm(data.test.images, desc="thumbnails", leave=False)]
    writer.put_samples(data.test.labels.numpy(), data.test.sources, thumbs)


def _put_models(writer: StoreWriter, models: Sequence[PreparedModel], num_classes: int) -> None:
    ids = {m.spec.name: m.model_id for m in models}
    for m in models:
        clf = m.probe.classifier
        writer.put_model(model_record(m, ids, num_classes), clf.weight.detach().cpu().numpy(),
                         clf.bias.detach().cpu().numpy())


def _evaluate(writer: StoreWriter, runner: InProcess | OnRay, cfg: BuildConfig,
              models: Sequence[PreparedModel], conditions: Sequence[Condition],
              data: DataSplits, dev: torch.device) -> None:
    """Every condition not yet whole in the store, evaluated and stored one at a time."""
    test, num_classes = data.test, len(data.classes)
    done = writer.done_pairs()
    # Every model runs on a condition, not only the missing ones: CKA needs all their features at
    # once. (Only a resumed condition re-runs a model.)
    todo = [c for c in conditions if any((m.model_id, c.condition_id) not in done for m in models)]
    if writer.resumed and done:
        tqdm.write(f"resuming {writer.partial.name}: {len(done):,} of "
                   f"{len(models) * len(conditions):,} (model, condition) pairs are written, "
                   f"{len(todo)} conditions to go", file=sys.stderr)
    model_ids = [m.model_id for m in models]
    row = {m.spec.name: i for i, m in enumerate(models)}
    references = [row[reference_of(m)] if reference_of(m) else None for m in models]
    groups = sweep_groups(models, references)
    subset = inspection_subset(test.labels, cfg.conditions.thumbnails).numpy()
    clean_correct = None
    evaluated = runner.evaluations(cfg, models, todo, test, num_classes)
    for condition, (results, cka) in tqdm(evaluated, total=len(todo), unit="cond",
                                          desc=f"evaluating {len(models)} models"):
        if condition.clean:
            clean_correct = np.stack([r["correct"] for r in results])
        elif clean_correct is None:  # resumed after the clean condition was written
            clean_correct = writer.correct(conditions[0].condition_id, model_ids, len(test))
        sample_ids = condition.sample_ids(test).numpy().astype(np.int32)
        kept, pngs = None, []
        if not condition.clean and not condition.per_model:  # one input per sample to show
            if len(sample_ids) == len(test):
                kept = kept_samples(results, clean_correct, references, groups, subset,
                                    cfg.conditions.listed_thumbnails, num_classes)
            else:  # an attack on a subset: the inspection samples it attacked
                kept = np.intersect1d(subset, sample_ids)
            pngs = _pngs(condition, test, kept, dev, models, cfg.evaluation.batch_size)
        writer.put_condition(ConditionResults(
            condition.condition_id, model_ids, cka, sample_ids,
            [(m.model_id, metrics) for m, metrics in zip(models, results, strict=True)
             if (m.model_id, condition.condition_id) not in done],
            kept, pngs))


def _put_radii(writer: StoreWriter, runner: InProcess | OnRay, cfg: BuildConfig,
               models: Sequence[PreparedModel], test: ImageSet) -> None:
    """Each model's input-space radii on the `[radius]` samples, a work unit per model in the
    engine, each committed as it arrives (a resumed build skips the models it holds)."""
    spec = cfg.radius
    ids = inspection_subset(test.labels, spec.samples) if spec.samples else torch.arange(len(test))
    done = writer.radii_done()
    todo = [m for m in models if m.model_id not in done]
    found = runner.radii(cfg, todo, test.images[ids], test.labels[ids])
    for model_id, values in tqdm(found, total=len(todo), desc=f"radius ({spec.method})",
                                 unit="model", leave=False):
        writer.put_radii(model_id, ids.numpy().astype(np.int32), spec.method, spec.norm, values)


def _pngs(condition: Condition, test: ImageSet, ids: np.ndarray, dev: torch.device,
          models: Sequence[PreparedModel], batch_size: int) -> list[bytes]:
    """The images of samples `ids` under `condition`, as the PNG bytes the store keeps."""
    if not len(ids):
        return []
    images = condition.shared_images(test, torch.from_numpy(ids), dev, models, batch_size) * 255
    return [png_bytes(img) for img in images.round().byte().cpu()]


def build(cfg: BuildConfig, device: str = "auto", threads: int | None = None,
          engine: str = "inprocess", **engine_options: object) -> Path:
    """Build (or resume) the store of `cfg` and atomically put it at `cfg.output`; `threads`
    fixes the CPU threads evaluation runs on (default: torch's, one per core). `engine` runs the
    work units (compute/engines.py: inprocess, or ray with `address` and `gpus_per_task`)."""
    dev, threads, numerics_used = _runtime(cfg, device, threads)
    resolve_conditions(cfg)  # unknown names fail before the data is read
    preflight(cfg)
    check_output(cfg.output)
    runner = create_engine(engine, dev, threads, **engine_options)
    data = load_data(cfg.data.source, **cfg.data.options)
    conditions = resolve_conditions(cfg, data.test)
    runner.train_missing(cfg, data)
    with cpu_threads(threads):  # loads what an engine trained; trains what is left
        models = prepare_models(cfg, data, dev)
    # Page-locked on a GPU machine: every condition copies batches of these to the device.
    data.test.images = pinned(data.test.images, dev)
    with _open_writer(cfg, len(data.classes)) as writer:
        if not writer.resumed:
            _put_dimensions(writer, {**_meta(cfg, data, dev),
                                     "threads": str(threads or torch.get_num_threads()),
                                     "numerics": numerics_used},
                            data, conditions)
        _put_models(writer, models, len(data.classes))
        writer.put_attacks(attack_records(conditions, {m.spec.name: m.model_id for m in models},
                                          data.test))
        _evaluate(writer, runner, cfg, models, conditions, data, dev)
        if cfg.radius is not None:
            _put_radii(writer, runner, cfg, models, data.test)
        # What the corruption-redundancy view pools, so it need not read every metric row.
        for metric, severity in tqdm(shift_moment_views(cfg.conditions.severities),
                                     desc="corruption shift moments", unit="view", leave=False):
            writer.put_shift_moments(metric, severity)
        # Every model's mCE and the rest with bootstrap intervals: about a second per model.
        writer.put_robustness_intervals(
            lambda models: tqdm(models, desc="robustness intervals", unit="model", leave=False))
        return writer.commit()
