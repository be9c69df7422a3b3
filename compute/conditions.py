"""The conditions a build evaluates: clean, then every chosen corruption at every chosen severity,
generated in torch or read from the official CIFAR-10-C files."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compute.cifar10c import OfficialCorruptions
from compute.config import BuildConfig
from compute.corruptions import Corruption, quantize_like_benchmark, select
from compute.datasets import ImageSet
from store.records import ConditionRecord


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

    def record(self) -> ConditionRecord:
        """The row the store keeps of it."""
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
    return conditions
