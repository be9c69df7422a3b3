"""The Ray engine: a build's work units as Ray tasks, on one machine or a cluster.

    python -m compute build CONFIG --engine ray [--address ADDRESS] [--gpus-per-task N]

Training: one task per model whose weights are not cached, each after its base model's task (Ray
passes the base's checkpoint bytes on as the task's argument, so it waits for it). Checkpoints
travel through Ray's object store, and the driver writes each one into the checkpoint cache as
it arrives, so a killed driver loses at most the tasks still running.

Evaluation: one task per condition not yet in the store, each running every model on that
condition (CKA needs all their features at once); then one task per model for its input-space
radii (`[radius]`), committed as each finishes. Their results come back to the driver, which
is the only writer: it commits them in condition order exactly as the in-process engine does, so
the store is atomic and a rerun resumes it. The models reach the tasks as state dicts in the
object store, the test images likewise; nothing needs a shared file system except a config's
own files (given checkpoints, official CIFAR-10-C files), which must be at the same path on
every node.

Each task reserves and uses `--threads` CPU threads (default: the driver's, one per core): the
same kernels on the same thread count give the same numbers, so a Ray build equals an
in-process one with the same `--threads` (tests/compute/test_distributed.py). On one machine,
`--threads 1` runs a task per core.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from compute import checkpoints, numerics
from compute.conditions import Condition, resolve_conditions
from compute.config import BuildConfig
from compute.datasets import DataSplits, ImageSet
from compute.errors import UserError
from compute.evaluation import Results, evaluate, reproducible
from compute.preparation import (
    PreparedModel,
    cached_checkpoint,
    empty_probe,
    initial_probe,
    train_one,
    weight_keys,
)
from compute.radius import radii_in_batches

ROOT = Path(__file__).resolve().parents[1]


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError("--engine ray needs Ray: pip install -r requirements-ray.txt") from None
    return ray


def start(address: str | None) -> None:
    """Connect to the cluster at `address` (`auto`: the one `ray start` made on this machine), or
    start a local one with a worker per core."""
    ray = _ray()
    if ray.is_initialized():
        return
    try:
        # The code travels with the job (py_modules), so nodes need the environment, not a
        # checkout: Ray ships `compute` and `store` to every worker.
        # The numerics' environment too: ATen and MKL read it when a worker's torch loads.
        pinned_env = {k: os.environ[k] for k in numerics.PORTABLE_ENV if k in os.environ}
        ray.init(address=address, log_to_driver=False, include_dashboard=False,
                 runtime_env={"py_modules": [str(ROOT / "compute"), str(ROOT / "store")],
                              "env_vars": pinned_env})
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UserError(f"cannot connect to a Ray cluster at {address} ({exc}): start one "
                        "with `ray start --head` (docs/distributed.md) or leave out --address "
                        "for a local one") from None


def _task_device(gpus: float) -> torch.device:
    return torch.device("cuda" if gpus > 0 else "cpu")


def _train_task(cfg: BuildConfig, name: str, train_set: ImageSet, num_classes: int,
                base_payload: bytes | None, threads: int, gpus: float) -> bytes:
    """Train or prune one model in a Ray worker; the checkpoint file's bytes."""
    torch.set_num_threads(threads)  # Ray sets one thread per reserved CPU; the build's count rules
    numerics.apply(cfg.numerics)
    spec = next(s for s in cfg.models if s.name == name)
    archs: dict[str, str] = {}
    for s in cfg.models:
        archs[s.name] = s.arch or archs[s.base]
    base_state = None
    if base_payload is not None:
        base_state = torch.load(io.BytesIO(base_payload), map_location="cpu",
                                weights_only=False)["state_dict"]
    probe = initial_probe(cfg, spec, archs[name], num_classes, base_state)
    payload, _ = train_one(cfg, spec, probe, train_set, _task_device(gpus),
                           weight_keys(cfg)[name])
    return payload


def _probes(cfg: BuildConfig, states: dict[str, bytes], num_classes: int,
            device: torch.device, names: set[str] | None = None) -> list[PreparedModel]:
    """The config's models (those in `names`, default all) rebuilt in a worker from their state
    dicts, numbered as the build numbers them."""
    models = []
    archs: dict[str, str] = {}
    for model_id, spec in enumerate(cfg.models):
        archs[spec.name] = spec.arch or archs[spec.base]
        if names is not None and spec.name not in names:
            continue
        probe = empty_probe(cfg, spec, archs[spec.name], num_classes)
        probe.net.load_state_dict(torch.load(io.BytesIO(states[spec.name]), map_location="cpu"))
        models.append(PreparedModel(model_id, spec, archs[spec.name], probe.to(device).eval(),
                                    "", None, None))
    return models


def _evaluate_task(cfg: BuildConfig, index: int, test: ImageSet, num_classes: int,
                   states: dict[str, bytes], threads: int, gpus: float) -> Results:
    """Every model on one condition in a Ray worker: (metrics per model, CKA)."""
    device = _task_device(gpus)
    numerics.apply(cfg.numerics)
    condition = resolve_conditions(cfg, test)[index]
    models = _probes(cfg, states, num_classes, device)
    with reproducible(threads):
        results, cka = evaluate(models, condition, test, device, cfg.evaluation.batch_size,
                                cfg.evaluation.autocast)
    return results, cka.cpu().numpy()


def _radius_task(cfg: BuildConfig, name: str, state: bytes, samples: tuple[torch.Tensor, ...],
                 num_classes: int, threads: int, gpus: float) -> np.ndarray:
    """One model's input-space radii on the `[radius]` samples in a Ray worker."""
    device = _task_device(gpus)
    numerics.apply(cfg.numerics)
    (model,) = _probes(cfg, {name: state}, num_classes, device, {name})
    with reproducible(threads):
        return radii_in_batches(model.probe, cfg.radius, *samples, device,
                                cfg.evaluation.batch_size)


def train_missing(cfg: BuildConfig, data: DataSplits, threads: int, gpus: float) -> int:
    """Train every model whose weights are not cached, as Ray tasks in dependency order, and write
    each checkpoint into the cache as it arrives; the number trained."""
    ray = _ray()
    keys = weight_keys(cfg)
    todo = [s for s in cfg.models if (s.train or s.prune)
            and not cached_checkpoint(cfg, s, keys[s.name]).is_file()]
    if not todo:
        return 0
    task = ray.remote(num_cpus=threads, num_gpus=gpus)(_train_task)
    train_ref = ray.put(data.train)
    refs: dict[str, object] = {}
    for spec in todo:  # config order: a base is always before the models that start from it
        base = None
        if spec.base is not None:
            base_spec = next(s for s in cfg.models if s.name == spec.base)
            path = cached_checkpoint(cfg, base_spec, keys[spec.base])
            base = refs.get(spec.base) or (path.read_bytes() if path.is_file() else None)
        refs[spec.name] = task.remote(cfg, spec.name, train_ref, len(data.classes), base, threads,
                                      gpus)
    names = {ref: name for name, ref in refs.items()}
    pending = list(refs.values())
    with tqdm(total=len(pending), desc="training on Ray", unit="model") as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            name = names[done[0]]
            spec = next(s for s in cfg.models if s.name == name)
            checkpoints.write_atomically(cached_checkpoint(cfg, spec, keys[name]), ray.get(done[0]))
            bar.update()
    return len(todo)


def evaluations(cfg: BuildConfig, models: Sequence[PreparedModel], conditions: Sequence[Condition],
                test: ImageSet, num_classes: int, threads: int,
                gpus: float) -> Iterator[tuple[Condition, Results]]:
    """Each condition's results, in condition order, from Ray tasks that all run at once."""
    ray = _ray()
    task = ray.remote(num_cpus=threads, num_gpus=gpus)(_evaluate_task)
    states = ray.put({m.spec.name: _state_bytes(m) for m in models})
    test_ref = ray.put(test)
    refs = [task.remote(cfg, c.condition_id, test_ref, num_classes, states, threads, gpus)
            for c in conditions]
    for condition, ref in zip(conditions, refs, strict=True):
        yield condition, ray.get(ref)


def radii(cfg: BuildConfig, models: Sequence[PreparedModel], images: torch.Tensor,
          labels: torch.Tensor, threads: int, gpus: float) -> Iterator[tuple[int, np.ndarray]]:
    """Each model's radii from a Ray task per model, all running at once, as they finish."""
    ray = _ray()
    task = ray.remote(num_cpus=threads, num_gpus=gpus)(_radius_task)
    samples = ray.put((images, labels))
    classes = models[0].probe.classifier.out_features if models else 0
    refs = {task.remote(cfg, m.spec.name, _state_bytes(m), samples, classes, threads, gpus):
            m.model_id for m in models}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield refs[done[0]], ray.get(done[0])


def _state_bytes(m: PreparedModel) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.cpu() for k, v in m.probe.net.state_dict().items()}, buffer)
    return buffer.getvalue()
