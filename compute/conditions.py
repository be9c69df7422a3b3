"""The conditions a build evaluates: clean, then every chosen corruption at every chosen severity,
generated in torch or read from the official CIFAR-10-C files, then every attack at every budget
(compute/attacks.py). A corruption gives every model the same inputs; a white-box attack gives
each model its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from compute.attacks import AttackSpec, batch_seed, perturb
from compute.cifar10c import OfficialCorruptions
from compute.config import BuildConfig
from compute.corruptions import Corruption, quantize_like_benchmark, select
from compute.datasets import ImageSet
from compute.inspection import inspection_subset
from store.records import AttackRecord, ConditionRecord


class Attacked(Protocol):
    """What an attack needs of a model: its name (a transfer's source) and its Probe."""

    @property
    def spec(self) -> object: ...
    @property
    def probe(self) -> nn.Module: ...


@dataclass
class Condition:
    condition_id: int
    name: str
    corruption: Corruption | None  # None for clean
    severity: int
    official: OfficialCorruptions | None = None  # read the images instead of generating them
    attack: AttackSpec | None = None  # an attack at budget `eps` instead of a corruption
    eps: float = 0.0
    seed: int = 0  # the build's: with the condition and the batch, an attack's random start

    @property
    def clean(self) -> bool:
        return self.corruption is None and self.attack is None

    @property
    def per_model(self) -> bool:
        """Each model gets its own inputs (a white-box attack), not one shared input."""
        return self.attack is not None and self.attack.mode == "white-box"

    def sample_ids(self, test: ImageSet) -> torch.Tensor:
        """The test samples evaluated under this condition, in order: all of them, or an attack's
        declared subset (the first of each class in turn, as the inspection subset)."""
        if self.attack is not None and self.attack.samples is not None:
            return inspection_subset(test.labels, self.attack.samples)
        return torch.arange(len(test))

    def inputs(self, test: ImageSet, ids: torch.Tensor, start: int, device: torch.device,
               models: Sequence[Attacked]) -> list[torch.Tensor]:
        """The batch of samples `ids` (starting at position `start` of `sample_ids`) as each of
        `models` sees it under this condition: one shared tensor, or one per model."""
        if self.attack is None:
            return [self.images(test, ids, device)] * len(models)
        clean = test.images[ids].to(device, non_blocking=True).float() / 255.0
        labels = test.labels[ids].to(device)
        seed = batch_seed(self.seed, self.condition_id, start)

        def attacked(m: Attacked) -> torch.Tensor:
            classes = m.probe.classifier.out_features
            return perturb(m.probe, self.attack, self.eps, clean, labels, classes, seed)

        if self.per_model:
            return [attacked(m) for m in models]
        source = next(m for m in models if m.spec.name == self.attack.source)
        return [attacked(source)] * len(models)

    def shared_images(self, test: ImageSet, ids: torch.Tensor, device: torch.device,
                      models: Sequence[Attacked], batch_size: int) -> torch.Tensor | None:
        """Samples `ids` as every model saw them (the thumbnails' source), or None where each
        model saw its own (a white-box attack). An attack's batch is re-run whole, as evaluation
        ran it, so its random start, and so its inputs, are the ones the models were given."""
        if self.attack is None:
            return self.images(test, ids, device)
        if self.per_model:
            return None
        evaluated = self.sample_ids(test)
        position = torch.full((len(test),), -1, dtype=torch.long)
        position[evaluated] = torch.arange(len(evaluated))
        if (position[ids] < 0).any():
            raise ValueError(f"{self.name} did not attack every sample asked for")
        out = torch.empty((len(ids), *test.images.shape[1:]), device=device)
        starts = (position[ids] // batch_size) * batch_size
        for start in starts.unique().tolist():
            x = self.inputs(test, evaluated[start:start + batch_size], start, device, models)[0]
            rows = (starts == start).nonzero().flatten()
            out[rows.to(device)] = x[(position[ids[rows]] - start).to(device)]
        return out

    def images(self, test: ImageSet, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Test samples `ids` under this condition (a corruption or clean): float (B, 3, H, W)
        in [0, 1] on `device`."""
        if self.attack is not None:
            raise ValueError(f"{self.name} is an attack: its inputs depend on the model (inputs)")
        if self.official is not None:
            raw = self.official.images(self.corruption.name, self.severity, ids)
            return raw.to(device).float() / 255.0
        clean = test.images[ids].to(device, non_blocking=True).float() / 255.0
        if self.corruption is None:
            return clean
        return quantize_like_benchmark(self.corruption(clean, self.severity, ids))

    def record(self) -> ConditionRecord:
        """The row the store keeps of it."""
        if self.attack is not None:
            return ConditionRecord(self.condition_id, self.name, self.attack.name, self.severity,
                                   "adversarial", False)
        if self.corruption is None:
            return ConditionRecord.clean()
        c = self.corruption
        return ConditionRecord(self.condition_id, self.name, c.name, self.severity, c.family,
                               c.benchmark)


def resolve_conditions(cfg: BuildConfig, test: ImageSet | None = None) -> list[Condition]:
    """Clean, then every selected corruption at every severity (corruption-major order).

    With `test`, a config pointing at official CIFAR-10-C files gets them opened and checked.
    """
    corruptions = select(cfg.conditions.corruptions)
    official = None
    if cfg.conditions.cifar10c is not None and test is not None and corruptions:
        official = OfficialCorruptions(cfg.conditions.cifar10c, [c.name for c in corruptions], test.labels,
                                       tuple(test.images.shape[1:]))
    conditions = [Condition(0, "clean", None, 0)]
    for corruption in corruptions:
        for severity in cfg.conditions.severities:
            name = f"{corruption.name}-{severity}"
            conditions.append(Condition(len(conditions), name, corruption, severity, official))
    for attack in cfg.conditions.attacks:
        # A budget's rank is its severity: the pages order an attack's conditions by it.
        for rank, eps in enumerate(sorted(attack.eps), start=1):
            conditions.append(Condition(len(conditions), f"{attack.name}-{rank}", None, rank,
                                        attack=attack, eps=eps, seed=cfg.seed))
    return conditions


def attack_records(conditions: Sequence[Condition], model_ids: dict[str, int],
                   test: ImageSet) -> list[AttackRecord]:
    """What the store keeps of each attack condition: attack, norm, budget, steps, mode, source."""
    return [AttackRecord(c.condition_id, c.attack.attack, c.attack.norm, c.eps, c.attack.steps,
                         c.attack.step_scale * c.eps / c.attack.steps, c.attack.random_start,
                         c.attack.mode, model_ids.get(c.attack.source), len(c.sample_ids(test)))
            for c in conditions if c.attack is not None]
