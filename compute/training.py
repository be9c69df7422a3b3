"""Training and fine-tuning: SGD with momentum, a cosine schedule, crop/flip augmentation, seeded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from compute.datasets import ImageSet
from compute.devices import pinned
from compute.hparams import TrainRecipe

Masks = dict[str, torch.Tensor]


@dataclass(frozen=True)
class GradualPruning:
    """Pruning while training, on a schedule the training loop drives: `plan(total_steps)` gives
    {step (0-based): target sparsity}; after the optimiser's step `s` in it, the masks become
    `prune(s, total_steps, target)` and hold from then on."""

    plan: Callable[[int], dict[int, float]]
    prune: Callable[[int, int, float], Masks]


@torch.no_grad()
def apply_masks(net: nn.Module, masks: Masks) -> None:
    params = dict(net.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].device, params[name].dtype))


def augment(x: torch.Tensor, ops: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Random 4-pixel-padded crops and horizontal flips, one draw per image, batched."""
    n, _, h, w = x.shape
    if "crop" in ops:
        padded = F.pad(x, (4, 4, 4, 4))
        dy = torch.randint(0, 9, (n,), generator=gen)
        dx = torch.randint(0, 9, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None].to(x.device)
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :].to(x.device)
        x = padded[torch.arange(n, device=x.device)[:, None, None, None],
                   torch.arange(x.shape[1], device=x.device)[None, :, None, None], rows, cols]
    if "flip" in ops:
        flip = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x


def train(
    model: nn.Module,
    data: ImageSet,
    recipe: TrainRecipe,
    device: torch.device,
    seed: int,
    masks: Masks | None = None,
    desc: str = "training",
    gradual: GradualPruning | None = None,
) -> None:
    """Train `model` (a Probe taking [0, 1] inputs) in place; masked weights stay exactly zero,
    and with `gradual`, the masks tighten at the steps of its plan."""
    if recipe.epochs <= 0:
        return
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(
        params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    steps_per_epoch = (len(data) + recipe.batch_size - 1) // recipe.batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.epochs * steps_per_epoch)
    # On a GPU: one asynchronous copy from page-locked memory, and channels-last convolutions
    # (tensor cores want NHWC). Not on the CPU, where it would change the trained weights of
    # every cached model and the figures in docs/pruning.md for no measured gain in training.
    gpu = device.type == "cuda"
    images = pinned(data.images, device).to(device, non_blocking=True)
    labels = pinned(data.labels, device).to(device, non_blocking=True)
    if gpu:
        model.to(memory_format=torch.channels_last)
    if masks:
        apply_masks(model.net, masks)
    total_steps, step = recipe.epochs * steps_per_epoch, 0
    prune_at = gradual.plan(total_steps) if gradual is not None else {}
    bar = tqdm(range(recipe.epochs), desc=desc, unit="epoch", leave=False)
    for _ in bar:
        order = torch.randperm(len(data), generator=gen).to(device)
        loss_sum = 0.0
        for start in range(0, len(data), recipe.batch_size):
            idx = order[start : start + recipe.batch_size]
            x = augment(images[idx].float() / 255.0, recipe.augment, gen)
            if gpu:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step in prune_at:
                masks = gradual.prune(step, total_steps, prune_at[step])
            step += 1
            if masks:
                apply_masks(model.net, masks)
            loss_sum += loss.item() * len(idx)
        bar.set_postfix(loss=f"{loss_sum / len(data):.3f}")
    model.eval()
