"""Methods that score every weight once, keep the global top, then train: a random score (the
control) and connection sensitivity (snip)."""

from __future__ import annotations

import torch
from torch import nn

from compute.models import Probe, prunable_weights
from compute.pruning.masks import top_k_masks
from compute.pruning.registry import Context, Sparsity, register
from compute.training import Masks, apply_masks


@register("random")
def random_pruning(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    """A uniformly random mask at the same sparsity, then training: the control."""
    gen = ctx.generator("random mask")
    scores = {k: torch.rand(w.shape, generator=gen) for k, w in prunable_weights(probe.net).items()}
    masks = top_k_masks(scores, params.sparsity)
    apply_masks(probe.net, masks)
    ctx.train(probe, masks)
    return masks


@register("snip")
def snip(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    """Connection sensitivity |dL/dw * w| on one training batch (Lee et al. 2019), global top-k,
    then training; at initialisation, or as a saliency criterion on a trained model."""
    gen = ctx.generator("snip batch")
    batch = torch.randperm(len(ctx.train_set), generator=gen)[: ctx.recipe.batch_size].sort().values
    x = ctx.train_set.images[batch].float() / 255.0
    scores = snip_scores(probe, x, ctx.train_set.labels[batch], ctx.device)
    masks = top_k_masks(scores, params.sparsity)
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
