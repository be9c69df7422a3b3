"""The input-space radius of each sample: the size of the smallest adversarial perturbation a
minimal-perturbation attack finds for it, per model, stored beside the feature-space margin
(`margin_distance`) so the two can be compared sample by sample.

It is an upper bound on the true minimal perturbation (a stronger search may find a smaller one),
never a certificate. A sample the model already gets wrong has radius 0; one the attack does not
flip within its steps has no radius (NULL). The attacks are torchattacks', registered by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from compute.errors import UserError
from compute.hparams import bounded


def fab(model: nn.Module, spec: RadiusSpec, classes: int) -> object:
    """FAB (Croce and Hein 2020): steps to the projection onto the linearised nearest boundary
    within the [0, 1] box, then back towards the input, keeping the smallest adversarial found.
    Its budget only filters what it returns, so it is set to accept any size."""
    import torchattacks

    return torchattacks.FAB(model, norm=spec.norm, eps=UNBOUNDED, steps=spec.steps,
                            n_restarts=1, n_classes=classes, seed=spec.seed)


def deepfool(model: nn.Module, spec: RadiusSpec, classes: int) -> object:
    """DeepFool (Moosavi-Dezfooli et al. 2016): steps to the linearised nearest boundary, pushed
    `overshoot` beyond it, until the prediction flips: an L2 perturbation."""
    import torchattacks

    return torchattacks.DeepFool(model, steps=spec.steps, overshoot=spec.overshoot)


# Larger than any perturbation of an image in [0, 1] in either norm (L2 of 3 x 32 x 32: 55.4).
UNBOUNDED = 1e6
METHODS: dict[str, Callable[[nn.Module, RadiusSpec, int], object]] = {
    "fab": fab,
    "deepfool": deepfool,
}


@dataclass(frozen=True)
class RadiusSpec:
    """`[radius]`: which minimal-perturbation attack, how long it may search, on how many
    samples (the first of each class in turn; None: every test sample)."""

    method: str = bounded("fab", lambda v: v in METHODS, " or ".join(METHODS))
    norm: str = bounded("L2", lambda v: v in ("L2", "Linf"), "L2 or Linf (deepfool: L2 only)")
    steps: int = bounded(100, lambda v: v >= 1, "at least 1")
    overshoot: float = bounded(0.02, lambda v: v >= 0, "0 or more")  # deepfool's
    samples: int | None = bounded(None, lambda v: v >= 1, "at least 1")
    seed: int = 0  # fab's, for its random restarts

    def __post_init__(self) -> None:
        if self.method == "deepfool" and self.norm != "L2":
            raise UserError("[radius] method = \"deepfool\" measures L2 only: set norm = \"L2\" "
                            "or method = \"fab\"")


def radii(model: nn.Module, spec: RadiusSpec, images: torch.Tensor,
          labels: torch.Tensor) -> np.ndarray:
    """Each sample's radius under `model` (float64, NaN where none was found): the size, in the
    method's norm, of the perturbation that flips the prediction; 0 where it is wrong already."""
    with torch.inference_mode(False), torch.enable_grad():
        # Contiguous: FAB `.view`s its input and fails on a permuted (channels-last) batch.
        x = images.detach().clone(memory_format=torch.contiguous_format)
        y = labels.detach().clone()
        attack = METHODS[spec.method](model, spec, model.classifier.out_features)
        adversarial = attack(x, y).detach()
    with torch.no_grad():
        flipped = model(adversarial).argmax(1) != y
    delta = (adversarial - x).flatten(1).double()
    size = delta.norm(dim=1) if spec.norm == "L2" else delta.abs().amax(1)
    return torch.where(flipped, size, torch.nan).cpu().numpy()


def radii_in_batches(model: nn.Module, spec: RadiusSpec, images: torch.Tensor,
                     labels: torch.Tensor, device: torch.device, batch_size: int) -> np.ndarray:
    """`radii` of uint8 `images` (N, 3, H, W), a batch at a time on `device`: one model's work
    unit, the same numbers in any engine."""
    return np.concatenate([
        radii(model, spec, images[i:i + batch_size].to(device).float() / 255,
              labels[i:i + batch_size].to(device))
        for i in range(0, len(images), batch_size)])
