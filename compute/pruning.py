"""Pruning strategies, by name (DESIGN section 5). Each is one function that takes a model (a
Probe, holding trained or freshly initialised weights), its recipe and a training context, and
leaves the model pruned to the recipe's sparsity, measured over every conv and linear weight,
and trained. Masked weights are exactly zero in the weights the forward pass uses.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize

from compute.config import PruneRecipe, TrainRecipe
from compute.datasets import ImageSet
from compute.errors import UserError
from compute.models import Probe, prunable_weights
from compute.training import Masks, apply_masks


@dataclass
class Context:
    """What a strategy may use: the training data and recipe, and whether it starts trained."""

    train_set: ImageSet
    recipe: TrainRecipe
    device: torch.device
    seed: int
    from_trained: bool  # True when starting from a trained base model
    run: Callable[..., None]  # training.train bound to the data, device and seed
    # What a strategy did, step by step (gmp: one entry per pruning step); saved with the model.
    history: list[dict[str, float]] = field(default_factory=list)

    def generator(self, purpose: str) -> torch.Generator:
        """A generator for one use, independent of the one that initialised the weights (which
        is seeded with `seed` itself: reusing it would correlate masks with weights)."""
        return torch.Generator().manual_seed((self.seed * 31 + zlib.crc32(purpose.encode())) % 2**63)

    def train(self, probe: Probe, masks: Masks | None = None, epochs: int | None = None,
              schedule: Callable[[int, int], Masks | None] | None = None) -> None:
        recipe = self.recipe if epochs is None else TrainRecipe(
            **{**self.recipe.__dict__, "epochs": epochs})
        self.run(probe, recipe, masks=masks, schedule=schedule)


Strategy = Callable[[Probe, PruneRecipe, Context], Masks]
STRATEGIES: dict[str, Strategy] = {}


def register(name: str) -> Callable[[Strategy], Strategy]:
    def wrap(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return wrap


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise UserError(f"unknown pruning method '{name}' (known: {', '.join(STRATEGIES)})")
    return STRATEGIES[name]


# --- masks ------------------------------------------------------------------------------------


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
    return top_k_masks({k: w.abs() for k, w in prunable_weights(net).items()}, sparsity)


def masks_of(net: nn.Module) -> Masks:
    """The masks a pruned model carries: where its conv and linear weights are non-zero."""
    return {k: (w != 0) for k, w in prunable_weights(net).items()}


# --- strategies that prune weights and train the rest --------------------------------------------


@register("magnitude")
def magnitude(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Global one-shot magnitude pruning, then fine-tuning (FT in CARD)."""
    masks = magnitude_masks(probe.net, recipe.sparsity)
    apply_masks(probe.net, masks)
    ctx.train(probe, masks)
    return masks


def cubic_schedule(total_steps: int, final: float, prunes: int = 20,
                   end_fraction: float = 0.75) -> dict[int, float]:
    """Zhu & Gupta's gradual pruning schedule: {training step: sparsity to prune to}.

    `prunes` equally spaced steps t_k = k * end / prunes (k = 1..prunes, end = end_fraction of
    training) take the sparsity along s_k = final * (1 - (1 - k / prunes)^3): fast at first,
    slowly at the end, `final` at t_n. The remaining steps fine-tune the final mask. With fewer
    steps than prunes, some coincide and the later target wins.
    """
    end = max(int(end_fraction * total_steps), 1)
    return {max(round(k * end / prunes), 1) - 1: final * (1 - (1 - k / prunes) ** 3)
            for k in range(1, prunes + 1)}


@register("gmp")
def gradual_magnitude(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Gradual magnitude pruning (Zhu & Gupta 2017) while training: global magnitude pruning 20
    times along the cubic schedule over the first three quarters of the steps, then training with
    the final mask for the last quarter."""
    masks: Masks = {}
    targets: dict[int, float] = {}

    def schedule(step: int, total_steps: int) -> Masks | None:
        if not targets:
            targets.update(cubic_schedule(total_steps, recipe.sparsity))
        if step not in targets:
            return None
        masks.update(magnitude_masks(probe.net, targets[step]))
        ctx.history.append({"step": step + 1, "total_steps": total_steps,
                            "target": targets[step], "sparsity": _mask_sparsity(masks)})
        return masks

    if ctx.recipe.epochs <= 0:
        raise UserError(f"'gmp' prunes while training: give the model a [models.train] recipe "
                        f"with epochs > 0 (got {ctx.recipe.epochs})")
    ctx.train(probe, schedule=schedule)
    return masks


def _mask_sparsity(masks: Masks) -> float:
    return 1 - sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())


@register("ltr")
def lottery_ticket_rewinding(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Iterative magnitude pruning with rewinding (Frankle et al. 2020), `rounds` rounds each
    removing the same fraction of what is left. From scratch the weights rewind to their values
    after the first epoch; from a trained model (no early checkpoint exists) the learning rate
    rewinds instead (Renda et al. 2020): each round retrains with the full schedule."""
    masks: Masks = {}
    rewind_to = None
    if not ctx.from_trained:
        ctx.train(probe, epochs=1)
        rewind_to = {k: v.clone() for k, v in probe.net.state_dict().items()}
        ctx.train(probe, epochs=max(ctx.recipe.epochs - 1, 1))
    for r in range(1, recipe.rounds + 1):
        target = 1 - (1 - recipe.sparsity) ** (r / recipe.rounds)
        masks = magnitude_masks(probe.net, target)
        if rewind_to is not None:
            probe.net.load_state_dict(rewind_to)
        apply_masks(probe.net, masks)
        ctx.train(probe, masks)
    return masks


@register("random")
def random_pruning(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """A uniformly random mask at the same sparsity, then training: the control."""
    gen = ctx.generator("random mask")
    scores = {k: torch.rand(w.shape, generator=gen) for k, w in prunable_weights(probe.net).items()}
    masks = top_k_masks(scores, recipe.sparsity)
    apply_masks(probe.net, masks)
    ctx.train(probe, masks)
    return masks


@register("snip")
def snip(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Connection sensitivity |dL/dw * w| on one training batch (Lee et al. 2019), global top-k,
    then training; at initialisation, or as a saliency criterion on a trained model."""
    gen = ctx.generator("snip batch")
    batch = torch.randperm(len(ctx.train_set), generator=gen)[: ctx.recipe.batch_size].sort().values
    x = ctx.train_set.images[batch].float() / 255.0
    scores = snip_scores(probe, x, ctx.train_set.labels[batch], ctx.device)
    masks = top_k_masks(scores, recipe.sparsity)
    apply_masks(probe.net, masks)
    ctx.train(probe, masks)
    return masks


def snip_scores(probe: Probe, x: torch.Tensor, y: torch.Tensor,
                device: torch.device) -> dict[str, torch.Tensor]:
    """|dL/dw * w| for every conv and linear weight, L the mean cross-entropy on (x, y), with
    batch norm in training mode (as the first training step would see the batch). The model is
    left as it was: its batch-norm statistics are restored."""
    probe.to(device).train()
    buffers = {k: b.clone() for k, b in probe.net.named_buffers()}
    weights = prunable_weights(probe.net)
    for w in weights.values():
        w.grad = None
    nn.functional.cross_entropy(probe(x.to(device)), y.to(device)).backward()
    scores = {k: (w.grad * w).abs().detach() for k, w in weights.items()}
    probe.zero_grad(set_to_none=True)
    with torch.no_grad():
        for k, b in probe.net.named_buffers():
            b.copy_(buffers[k])
    return scores


# --- strategies that keep the random weights and learn which to use -------------------------------


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


def _learn_subnetwork(probe: Probe, recipe: PruneRecipe, ctx: Context,
                      kind: type[SubnetworkMask]) -> Masks:
    """Freeze every conv and linear weight (and bias) at its random initialisation, learn a score
    per weight, then bake the chosen subnetwork into plain weights."""
    if ctx.from_trained:
        raise UserError(f"'{recipe.method}' keeps weights at their random initialisation: "
                        "give the model an 'arch' and no 'base'")
    gen = ctx.generator("scores")
    modules = [m for m in probe.net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    for m in modules:
        m.weight.requires_grad_(False)
        if m.bias is not None:
            m.bias.requires_grad_(False)
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            parametrize.register_parametrization(m, "weight", kind(m.weight, recipe.sparsity))
        m.parametrizations.weight.original.requires_grad_(False)
    ctx.train(probe)
    for m in modules:
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
        m.weight.requires_grad_(True)
        if m.bias is not None:
            m.bias.requires_grad_(True)
    return masks_of(probe.net)


@register("edgepopup")
def edgepopup(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Weights stay at their random initialisation; a score per weight is trained and the top-k
    weights of every layer form the subnetwork (Ramanujan et al. 2020)."""
    return _learn_subnetwork(probe, recipe, ctx, SubnetworkMask)


@register("biprop")
def biprop(probe: Probe, recipe: PruneRecipe, ctx: Context) -> Masks:
    """Binary weights (sign times a per-layer scale) with a learned mask: the multi-prize ticket
    (Diffenderfer & Kailkhura 2021)."""
    return _learn_subnetwork(probe, recipe, ctx, BinarySubnetworkMask)
