"""The conditions a build evaluates: clean, then every chosen corruption at every chosen severity,
generated in torch or read from the official CIFAR-10-C files; and which samples keep their
corrupted images for the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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
    corruptions = select(cfg.corruptions)
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


def modal(pred: np.ndarray, classes: int) -> np.ndarray:
    """The most frequent prediction per sample over a population's rows of `pred` (models,
    samples); a tie goes to the lowest class, as in scipy.stats.mode and the store's SQL."""
    counts = np.stack([(pred == k).sum(axis=0) for k in range(classes)])
    return counts.argmax(axis=0)  # argmax returns the first maximum: the lowest class


def exemplar_masks(pred: np.ndarray, groups: Sequence[tuple[Sequence[int], Sequence[int]]],
                   classes: int) -> list[np.ndarray]:
    """Per (pruned rows, dense rows) population pair, the pruning-identified exemplars (Hooker et
    al. 2019): samples whose modal prediction over the pruned rows of `pred` differs from the
    one over the dense rows."""
    return [modal(pred[list(pruned)], classes) != modal(pred[list(dense)], classes)
            for pruned, dense in groups]


def listed_samples(correct: np.ndarray, clean_correct: np.ndarray, margin: np.ndarray,
                   references: Sequence[int | None], per_list: int,
                   exemplars: Sequence[np.ndarray | None] = ()) -> np.ndarray:
    """The samples the Samples page lists first under one condition, whose corrupted images the
    store keeps: for every model the first `per_list` corruption-fragile samples (right on clean,
    wrong here) and, for a model with a reference (its index in `references`), the first
    `per_list` pruning-fragile and pruning-gain ones and of its sweep group's exemplars
    (`exemplars[m]`, a mask), in the page's order (largest |margin distance| first, undefined
    last, then by sample id). Arrays are (models, samples)."""
    chosen: set[int] = set()
    for m in range(len(correct)):
        lists = [clean_correct[m] & ~correct[m]]
        r = references[m]
        if r is not None:
            lists += [correct[r] & ~correct[m], ~correct[r] & correct[m]]
        if m < len(exemplars) and exemplars[m] is not None:
            lists.append(exemplars[m])
        decisive = np.nan_to_num(np.abs(margin[m]), nan=-1.0)  # undefined sorts last
        for mask in lists:
            idx = np.flatnonzero(mask)
            order = np.lexsort((idx, -decisive[idx]))
            chosen.update(idx[order[:per_list]].tolist())
    return np.array(sorted(chosen), dtype=np.int64)
