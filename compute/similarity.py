"""Linear CKA between models' penultimate features (Kornblith et al. 2019).

Features are never stored, so whatever needs them is computed while they pass by: the Gram of the
concatenated features of every model is accumulated batch by batch (float64, on the features'
device), and linear CKA of every pair of models follows from its centred blocks:

    CKA(X, Y) = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F),   Xc = X - mean(X)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two feature matrices (n, d1) and (n, d2) over the same n samples, directly."""
    xc = x.to(torch.float64) - x.to(torch.float64).mean(dim=0)
    yc = y.to(torch.float64) - y.to(torch.float64).mean(dim=0)
    cross = (xc.T @ yc).square().sum()
    norm = (xc.T @ xc).norm() * (yc.T @ yc).norm()
    return float(cross / norm) if norm > 0 else float("nan")


class FeatureGram:
    """Accumulates what linear CKA between every pair of models needs, one batch at a time.

    Memory is (sum of feature dims)^2 doubles, whatever the number of samples.
    """

    def __init__(self) -> None:
        self.gram: torch.Tensor | None = None
        self.total: torch.Tensor | None = None
        self.dims: list[int] = []
        self.n = 0

    def update(self, features: Sequence[torch.Tensor]) -> None:
        """Add one batch: the (B, d_m) features of every model, for the same B samples."""
        f = torch.cat([x.detach().flatten(1).to(torch.float64) for x in features], dim=1)
        if self.gram is None:
            self.dims = [x.flatten(1).shape[1] for x in features]
            self.gram = torch.zeros(f.shape[1], f.shape[1], dtype=torch.float64, device=f.device)
            self.total = torch.zeros(f.shape[1], dtype=torch.float64, device=f.device)
        self.gram += f.T @ f
        self.total += f.sum(dim=0)
        self.n += f.shape[0]

    def cka(self) -> torch.Tensor:
        """(M, M) linear CKA between the models, NaN where a model's features are constant."""
        if self.gram is None or self.n == 0:
            raise ValueError("no features were accumulated")
        mean = self.total / self.n
        centred = self.gram - self.n * torch.outer(mean, mean)
        bounds = [0, *torch.cumsum(torch.tensor(self.dims), 0).tolist()]
        blocks = [slice(bounds[i], bounds[i + 1]) for i in range(len(self.dims))]
        m = len(blocks)
        self_norm = torch.stack([centred[b, b].norm() for b in blocks])
        out = torch.empty(m, m, dtype=torch.float64)
        for i in range(m):
            for j in range(i, m):
                denom = self_norm[i] * self_norm[j]
                value = centred[blocks[i], blocks[j]].square().sum() / denom if denom > 0 else torch.nan
                out[i, j] = out[j, i] = value
        return out
