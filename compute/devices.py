"""Which device a build runs on: CUDA when torch sees it (`auto`), or the one asked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


def pinned(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` in page-locked memory when it is to be copied to a GPU: the copies can then run
    asynchronously (`non_blocking=True`) beside the computation. A CPU device gets it unchanged."""
    return tensor.pin_memory() if device.type == "cuda" and not tensor.is_pinned() else tensor


# What `[evaluation] autocast` may ask for: the dtype the forward pass runs in (None: float32).
AUTOCAST = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """torch on `threads` CPU threads inside the block (None: leave it as it is). A model trained
    on another thread count sums in another order and ends with other weights, so the engines
    train on the same count to give the same store."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
