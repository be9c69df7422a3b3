"""Pruning strategies, by name. Each returns a mask per prunable weight reaching a target sparsity
measured over every conv and linear weight; training afterwards keeps the masked weights at zero."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from compute.errors import UserError
from compute.models import prunable_weights

Masks = dict[str, torch.Tensor]
PRUNERS: dict[str, Callable[[nn.Module, float], Masks]] = {}


def register(name: str) -> Callable:
    def wrap(fn: Callable[[nn.Module, float], Masks]) -> Callable[[nn.Module, float], Masks]:
        PRUNERS[name] = fn
        return fn

    return wrap


def get_pruner(name: str) -> Callable[[nn.Module, float], Masks]:
    if name not in PRUNERS:
        raise UserError(f"unknown pruning method '{name}' (known: {', '.join(sorted(PRUNERS))})")
    return PRUNERS[name]


@register("magnitude")
def magnitude(net: nn.Module, sparsity: float) -> Masks:
    """Global one-shot magnitude pruning: the smallest |w| over all conv and linear weights go."""
    weights = prunable_weights(net)
    scores = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    k = round(sparsity * scores.numel())
    if k == 0:
        return {name: torch.ones_like(w, dtype=torch.bool) for name, w in weights.items()}
    # Ranking (not a threshold) prunes exactly k weights even when magnitudes tie.
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    keep[torch.argsort(scores, stable=True)[:k]] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].view_as(w)
        start += w.numel()
    return masks


@torch.no_grad()
def apply_masks(net: nn.Module, masks: Masks) -> None:
    params = dict(net.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].device, params[name].dtype))
