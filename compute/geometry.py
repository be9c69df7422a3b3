"""The geometry of the last feature layer, as the cross-entropy loss sees it.

For a feature f, class directions W (C x d) and biases b, the logits are
z_k = ||W_k|| ||f|| cos(theta_k) + b_k, so the loss depends only on the feature length, the angles
to the class directions, the class weight norms and the biases. Everything is computed in float64
on the device of the inputs: the angles are stored in float32 degrees, and the identities the tests
check (logits rebuilt from stored columns) need the arithmetic before storage to be exact.
"""

from __future__ import annotations

import torch


def _min_over_other_classes(values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """min_{k != y} values[:, k] (NaN-propagating, so undefined inputs stay undefined)."""
    masked = values.scatter(1, labels[:, None], torch.inf)
    return masked.min(dim=1).values


def geometry(
    features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, labels: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Every per-sample metric of the store's catalogue (store/catalogue.py) for a batch.

    features (N, d), weight (C, d), bias (C,), labels (N,) -> dict of (N,) tensors, plus `angles`
    (N, C) in degrees. The angles of a zero feature are undefined: NaN here, NULL in the store.
    The angle to a zero class direction is 90 degrees (the zero vector is orthogonal to all).
    """
    f = features.detach().to(torch.float64)
    w = weight.detach().to(device=f.device, dtype=torch.float64)
    b = bias.detach().to(device=f.device, dtype=torch.float64)
    y = labels.to(device=f.device, dtype=torch.long)
    rows = torch.arange(len(y), device=f.device)

    length = f.norm(dim=1)
    w_norm = w.norm(dim=1)
    dots = f @ w.T
    logits = dots + b

    with torch.no_grad():
        # A class direction pruned to zero is orthogonal to every feature (f . 0 = 0): 90 degrees,
        # which keeps z_k = ||W_k|| ||f|| cos(theta_k) + b_k exact. A zero feature has no angles.
        # Unit vectors first: the product of two tiny norms would underflow.
        f_unit = f / length[:, None]
        w_unit = w / torch.where(w_norm > 0, w_norm, 1.0)[:, None]
        cos = f_unit @ w_unit.T
        angles = torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))
        angles = torch.where(length[:, None] > 0, angles, torch.nan)

        pred = logits.argmax(dim=1)
        z_true = logits[rows, y]
        angle_true = angles[rows, y]

        # Signed distance of f to each pairwise boundary z_y = z_k of the true class. Where
        # W_y == W_k there is no boundary: the biases alone decide, for every f, so the distance
        # is +-inf (0 on an exact tie). This keeps "margin_distance > 0 iff correct".
        diff = z_true[:, None] - logits
        diff_norm = (w[y][:, None, :] - w[None, :, :]).norm(dim=2)
        distance = torch.where(diff_norm > 0, diff / diff_norm, diff.sign() * torch.inf)
        distance = distance.nan_to_num(nan=0.0, posinf=torch.inf, neginf=-torch.inf)

        log_p = torch.log_softmax(logits, dim=1)
        p = log_p.exp()
        return {
            "length": length,
            "angles": angles,
            "angle_true": angle_true,
            "angle_pred": angles[rows, pred],
            "angle_gap": _min_over_other_classes(angles, y) - angle_true,
            "logit_margin": z_true - _min_over_other_classes(-logits, y).neg(),
            "margin_distance": _min_over_other_classes(distance, y),
            "pred": pred,
            "correct": pred == y,
            "prob_true": p[rows, y],
            "confidence": p.max(dim=1).values,
            "loss": -log_p[rows, y],
            "entropy": -(p * log_p).nan_to_num().sum(dim=1),
        }


def logits_from_geometry(
    length: torch.Tensor, angles: torch.Tensor, weight_norm: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Rebuild the logits from stored columns: z_k = ||W_k|| * length * cos(theta_k) + b_k."""
    return weight_norm * length[:, None] * torch.cos(torch.deg2rad(angles)) + bias
