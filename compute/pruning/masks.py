"""Masks as pure functions of scores and weights: which weights survive, and how many."""

from __future__ import annotations

import torch
from torch import nn

from compute.models import prunable_weights
from compute.training import Masks


def top_k_masks(scores: dict[str, torch.Tensor], sparsity: float) -> Masks:
    """Keep the highest-scoring (1 - sparsity) of all weights together (a global ranking, so
    exactly that many survive even when scores tie)."""
    flat = torch.cat([s.detach().flatten().float() for s in scores.values()])
    drop = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool, device=flat.device)
    if drop:
        keep[torch.argsort(flat, stable=True)[:drop]] = False
    masks, start = {}, 0
    for name, s in scores.items():
        masks[name] = keep[start : start + s.numel()].view_as(s)
        start += s.numel()
    return masks


def magnitude_masks(net: nn.Module, sparsity: float) -> Masks:
    """The global top-|w| of the net's conv and linear weights (zeros, already pruned, go first)."""
    return top_k_masks({k: w.abs() for k, w in prunable_weights(net).items()}, sparsity)


def masks_of(net: nn.Module) -> Masks:
    """The masks a pruned model carries: where its conv and linear weights are non-zero."""
    return {k: (w != 0) for k, w in prunable_weights(net).items()}


def mask_sparsity(masks: Masks) -> float:
    """The fraction of weights the masks remove."""
    return 1 - sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
