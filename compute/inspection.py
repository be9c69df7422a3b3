"""Which samples keep their corrupted images in the store, for the app to show: a fixed subset
spread over the classes (`inspection_subset`), and the first samples of every list the Samples
page opens under a condition (`listed_samples`), the pruning-identified exemplars among them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from compute.preparation import PreparedModel


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


def sweep_groups(models: Sequence[PreparedModel], references: Sequence[int | None]
                 ) -> list[tuple[tuple[list[int], list[int]], str]]:
    """The populations exemplars are found in: per pruned sweep group (recipe and sparsity), the
    rows of its models and of their dense references, with the group's recipe."""
    groups: dict[tuple[str, float | None], list[int]] = {}
    for i, m in enumerate(models):
        if references[i] is not None:
            key = (m.spec.recipe or m.spec.name, m.spec.prune.sparsity if m.spec.prune else None)
            groups.setdefault(key, []).append(i)
    return [((rows, sorted({references[i] for i in rows})), recipe)
            for (recipe, _), rows in groups.items()]


def kept_samples(results: Sequence[Mapping[str, np.ndarray]], clean_correct: np.ndarray,
                 references: Sequence[int | None],
                 groups: Sequence[tuple[tuple[list[int], list[int]], str]], subset: np.ndarray,
                 per_list: int, classes: int) -> np.ndarray:
    """The samples whose images under one corruption the store keeps: the inspection `subset` and
    every model's listed samples, from its `results` (each model's metrics, in model order)."""
    correct = np.stack([r["correct"] for r in results])
    margin = np.stack([r["margin_distance"] for r in results])
    pred = np.stack([r["pred"] for r in results])
    masks = exemplar_masks(pred, [p for p, _ in groups], classes)
    exemplars: list[np.ndarray | None] = [None] * len(results)
    for ((pruned, _), _), mask in zip(groups, masks, strict=True):
        for i in pruned:
            exemplars[i] = mask
    return np.union1d(subset, listed_samples(correct, clean_correct, margin, references,
                                             per_list, exemplars))
