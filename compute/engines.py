"""Engines run a build's work units (compute/plan.py): training the models whose weights are not
cached, evaluating every model under each condition not yet in the store, then each model's
input-space radii (`[radius]`) not yet there. The build itself
(compute/build.py) is the only writer whatever the engine, so every engine gives the same store
and resumes the same way. Adding an engine is a class and one registration line."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from compute.conditions import Condition
from compute.config import BuildConfig
from compute.datasets import DataSplits, ImageSet
from compute.errors import UserError
from compute.evaluation import Results, evaluate, reproducible
from compute.preparation import PreparedModel
from compute.radius import radii_in_batches


class InProcess:
    """Everything in this process, one unit after another, on its device (the default)."""

    def __init__(self, device: torch.device, threads: int | None) -> None:
        self.device, self.threads = device, threads

    def train_missing(self, cfg: BuildConfig, data: DataSplits) -> None:
        """Nothing ahead of time: prepare_models trains what is missing, in order."""

    def evaluations(self, cfg: BuildConfig, models: Sequence[PreparedModel],
                    conditions: Sequence[Condition], test: ImageSet,
                    num_classes: int) -> Iterator[tuple[Condition, Results]]:
        for condition in conditions:
            with reproducible(self.threads):
                results, cka = evaluate(list(models), condition, test, self.device,
                                        cfg.evaluation.batch_size, cfg.evaluation.autocast)
            yield condition, (results, cka.cpu().numpy())

    def radii(self, cfg: BuildConfig, models: Sequence[PreparedModel], images: torch.Tensor,
              labels: torch.Tensor) -> Iterator[tuple[int, np.ndarray]]:
        for m in models:
            with reproducible(self.threads):
                found = radii_in_batches(m.probe, cfg.radius, images, labels, self.device,
                                         cfg.evaluation.batch_size)
            yield m.model_id, found


class OnRay:
    """Ray tasks on a local or remote cluster (compute/distributed.py)."""

    def __init__(self, device: torch.device, threads: int | None, address: str | None = None,
                 gpus_per_task: float = 0) -> None:
        from compute import distributed

        if gpus_per_task < 0:
            raise UserError(f"--gpus-per-task must be 0 or more, got {gpus_per_task:g}")
        self.ray = distributed
        # Tasks run on the driver's thread count, so their numbers equal the in-process ones.
        self.threads = threads or torch.get_num_threads()
        self.gpus = gpus_per_task
        distributed.start(address)

    def train_missing(self, cfg: BuildConfig, data: DataSplits) -> None:
        self.ray.train_missing(cfg, data, self.threads, self.gpus)

    def evaluations(self, cfg: BuildConfig, models: Sequence[PreparedModel],
                    conditions: Sequence[Condition], test: ImageSet,
                    num_classes: int) -> Iterator[tuple[Condition, Results]]:
        return self.ray.evaluations(cfg, models, conditions, test, num_classes, self.threads,
                                    self.gpus)

    def radii(self, cfg: BuildConfig, models: Sequence[PreparedModel], images: torch.Tensor,
              labels: torch.Tensor) -> Iterator[tuple[int, np.ndarray]]:
        return self.ray.radii(cfg, models, images, labels, self.threads, self.gpus)


ENGINES: dict[str, Callable[..., InProcess | OnRay]] = {"inprocess": InProcess, "ray": OnRay}


def create_engine(name: str, device: torch.device, threads: int | None,
                  **options: object) -> InProcess | OnRay:
    """The engine called `name`; options it does not take (--address without ray) are errors."""
    if name not in ENGINES:
        raise UserError(f"unknown engine '{name}' (one of {', '.join(ENGINES)})")
    given = {k: v for k, v in options.items() if v is not None}
    if name == "inprocess" and given:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
        raise UserError(f"{flags} only applies to --engine ray")
    return ENGINES[name](device, threads, **given)
