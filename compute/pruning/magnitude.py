"""Magnitude-based methods: keep the largest trained weights, once (magnitude), gradually while
training (gmp) or over rounds of training and rewinding (ltr)."""

from __future__ import annotations

from dataclasses import dataclass

from compute.errors import UserError
from compute.hparams import bounded
from compute.models import Probe
from compute.pruning.masks import magnitude_masks, mask_sparsity
from compute.pruning.registry import Context, Sparsity, register
from compute.training import GradualPruning, Masks, apply_masks


@register("magnitude")
def magnitude(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    """Global one-shot magnitude pruning, then fine-tuning (FT in CARD)."""
    masks = magnitude_masks(probe.net, params.sparsity)
    apply_masks(probe.net, masks)
    ctx.train(probe, masks)
    return masks


@dataclass(frozen=True)
class GmpParams(Sparsity):
    prunes: int = bounded(20, lambda v: v >= 1, "at least 1")  # pruning steps
    end: float = bounded(0.75, lambda v: 0 < v <= 1, "in (0, 1]")  # fraction of training they span


def cubic_schedule(total_steps: int, final: float, prunes: int = 20,
                   end_fraction: float = 0.75) -> dict[int, float]:
    """Zhu & Gupta's gradual pruning schedule: {training step (0-based): sparsity to prune to}.

    `prunes` equally spaced steps t_k = k * end / prunes (k = 1..prunes, end = end_fraction of
    training) take the sparsity along s_k = final * (1 - (1 - k / prunes)^3): fast at first,
    slowly at the end, `final` at t_n. The remaining steps fine-tune the final mask. With fewer
    steps than prunes, some coincide and the later target wins.
    """
    end = max(int(end_fraction * total_steps), 1)
    return {max(round(k * end / prunes), 1) - 1: final * (1 - (1 - k / prunes) ** 3)
            for k in range(1, prunes + 1)}


@register("gmp", GmpParams, prunes_while_training=True)
def gradual_magnitude(params: GmpParams, probe: Probe, ctx: Context) -> Masks:
    """Gradual magnitude pruning (Zhu & Gupta 2017) while training: global magnitude pruning at
    the steps of the cubic schedule, then training with the final mask for the rest."""
    masks: Masks = {}

    def prune(step: int, total_steps: int, target: float) -> Masks:
        masks.update(magnitude_masks(probe.net, target))
        ctx.history.append({"step": step + 1, "total_steps": total_steps, "target": target,
                            "sparsity": mask_sparsity(masks)})
        return masks

    def plan(total_steps: int) -> dict[int, float]:
        return cubic_schedule(total_steps, params.sparsity, params.prunes, params.end)

    if ctx.recipe.epochs <= 0:
        raise UserError("'gmp' prunes while training: give the model a train recipe with epochs > 0")
    ctx.train(probe, gradual=GradualPruning(plan, prune))
    return masks


@dataclass(frozen=True)
class LtrParams(Sparsity):
    rounds: int = bounded(3, lambda v: v >= 1, "at least 1")  # each removes the same fraction left


@register("ltr", LtrParams)
def lottery_ticket_rewinding(params: LtrParams, probe: Probe, ctx: Context) -> Masks:
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
    for r in range(1, params.rounds + 1):
        target = 1 - (1 - params.sparsity) ** (r / params.rounds)
        masks = magnitude_masks(probe.net, target)
        if rewind_to is not None:
            probe.net.load_state_dict(rewind_to)
        apply_masks(probe.net, masks)
        ctx.train(probe, masks)
    return masks
