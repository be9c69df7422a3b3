"""Which device a build runs on: CUDA when torch sees it (`auto`), or the one asked for."""

from __future__ import annotations

import torch

from compute.errors import UserError


def resolve_device(name: str) -> torch.device:
    """auto, cpu or cuda; cuda only when torch sees a CUDA device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but torch sees no CUDA device (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)
