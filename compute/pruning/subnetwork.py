"""Subnetwork search: the weights stay at their random initialisation and a score per weight is
trained; the top-scoring weights of every layer form the subnetwork (edge-popup), binarised to
+-a per-layer scale (biprop)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from compute.models import Probe
from compute.pruning.masks import masks_of
from compute.pruning.registry import Context, Sparsity, register
from compute.training import Masks


class _TopK(torch.autograd.Function):
    """A 0/1 mask of the largest scores, passing gradients straight through to the scores."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: float) -> torch.Tensor:
        k = max(round(keep * scores.numel()), 1)
        mask = torch.zeros_like(scores)
        mask.view(-1)[torch.topk(scores.flatten(), k).indices] = 1.0
        return mask

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class SubnetworkMask(nn.Module):
    """Parametrization: weight -> weight * top-k(|scores|) (edge-popup)."""

    def __init__(self, weight: torch.Tensor, sparsity: float) -> None:
        super().__init__()
        self.keep = 1.0 - sparsity
        fan_in = weight[0].numel()
        self.scores = nn.Parameter(torch.empty_like(weight).uniform_(-1, 1) * math.sqrt(6 / fan_in))

    def mask(self) -> torch.Tensor:
        return _TopK.apply(self.scores.abs(), self.keep)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask()


class BinarySubnetworkMask(SubnetworkMask):
    """Parametrization: weight -> alpha * sign(weight) * mask, alpha the mean |w| kept (biprop)."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mask = self.mask()
        alpha = (weight.abs() * mask).sum() / mask.sum()
        return alpha * torch.sign(weight) * mask


def _learn_subnetwork(params: Sparsity, probe: Probe, ctx: Context,
                      kind: type[SubnetworkMask]) -> Masks:
    """Freeze every conv and linear weight (and bias) at its random initialisation, learn a score
    per weight, then bake the chosen subnetwork into plain weights."""
    gen = ctx.generator("scores")
    modules = [m for m in probe.net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for m in modules:
        m.weight.requires_grad_(False)
        if m.bias is not None:
            m.bias.requires_grad_(False)
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            parametrize.register_parametrization(m, "weight", kind(m.weight, params.sparsity))
        m.parametrizations.weight.original.requires_grad_(False)
    ctx.train(probe)
    for m in modules:
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        m.weight.requires_grad_(True)
        if m.bias is not None:
            m.bias.requires_grad_(True)
    return masks_of(probe.net)


@register("edgepopup", fresh_init=True)
def edgepopup(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    """Weights stay at their random initialisation; a score per weight is trained and the top-k
    weights of every layer form the subnetwork (Ramanujan et al. 2020)."""
    return _learn_subnetwork(params, probe, ctx, SubnetworkMask)


@register("biprop", fresh_init=True)
def biprop(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    """Binary weights (sign times a per-layer scale) with a learned mask: the multi-prize ticket
    (Diffenderfer & Kailkhura 2021)."""
    return _learn_subnetwork(params, probe, ctx, BinarySubnetworkMask)
