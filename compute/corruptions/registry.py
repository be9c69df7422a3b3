"""The corruption registry: every corruption with its family, parameters and properties.

A corruption is a function of a batch (N, 3, H, W) float in [0, 1], one severity's parameters and
a `SampleRandom` (per-sample random streams), returning the same shape on the same device; the
registry clips to [0, 1]. `@register` records what tests, builds and docs ask of it: its family,
whether mean corruption accuracy averages over it (the 15 of the benchmark), whether it draws
random numbers, and the published generator it reproduces (`reference`: the tests compare it with
that generator's code path, benchmarks/reference_corruptions.py), if any.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from compute.corruptions import imageops as ops
from compute.corruptions.randomness import SampleRandom, sample_seeds
from compute.errors import UserError

FAMILIES = ("noise", "blur", "weather", "digital", "extra")
Fn = Callable[[torch.Tensor, object, SampleRandom], torch.Tensor]


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str
    params: tuple  # one parameter (or tuple of parameters) per severity 1..5
    fn: Fn
    benchmark: bool  # one of the 15 that mean corruption accuracy and mCE average over
    random: bool  # draws random numbers (False: the same image every time)
    # The published generator it reproduces (its code is the specification, and
    # benchmarks/reference_corruptions.py re-runs it), or None for one of this project's own.
    reference: str | None = None

    def __call__(self, x: torch.Tensor, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
        """Corrupt a batch in [0, 1]; sample_ids (N,) fix each sample's randomness."""
        rng = SampleRandom(sample_seeds(self.name, severity, sample_ids), x.device)
        return self.fn(x, self.params[severity - 1], rng).clamp(0.0, 1.0)


CORRUPTIONS: dict[str, Corruption] = {}
# Hendrycks and Dietterich's generator of CIFAR-10-C (hendrycks/robustness, make_cifar_c.py).
CIFAR_C = "make_cifar_c.py"


def register(name: str, family: str, params: Sequence, benchmark: bool = True,
             random: bool = True, *, reference: str | None) -> Callable:
    if family not in FAMILIES:
        raise ValueError(f"corruption '{name}': family '{family}' is not one of {FAMILIES}")
    if len(params) != 5:
        raise ValueError(f"corruption '{name}' needs parameters for 5 severities, got {len(params)}")

    def wrap(fn: Fn) -> Fn:
        if name in CORRUPTIONS:
            raise ValueError(f"corruption '{name}' is registered twice")
        if benchmark and reference != CIFAR_C:
            raise ValueError(f"corruption '{name}': the benchmark is CIFAR-10-C's 15 "
                             "(reference=CIFAR_C); register a new one with benchmark=False")
        CORRUPTIONS[name] = Corruption(name, family, tuple(params), fn, benchmark, random,
                                       reference)
        return fn

    return wrap


def suite() -> list[Corruption]:
    """All corruptions in the benchmark's order: the 15 it averages over, then the 4 extras;
    family by family (FAMILIES), each family's in the order its module registers them."""
    values = sorted(CORRUPTIONS.values(), key=lambda c: FAMILIES.index(c.family))
    return [c for c in values if c.benchmark] + [c for c in values if not c.benchmark]


def get_corruption(name: str) -> Corruption:
    if name not in CORRUPTIONS:
        known = ", ".join(c.name for c in suite())
        raise UserError(f"unknown corruption '{name}' (known: {known}, or 'all')")
    return CORRUPTIONS[name]


def select(names: Sequence[str] | str) -> list[Corruption]:
    """Corruptions by name, family name, 'benchmark' (the 15) or 'all' (the 19), in suite order."""
    if isinstance(names, str):
        names = [names]
    chosen: list[Corruption] = []
    for name in names:
        if name == "all":
            group = suite()
        elif name == "benchmark":
            group = [c for c in suite() if c.benchmark]
        elif name in FAMILIES:
            group = [c for c in suite() if c.family == name]
        else:
            group = [get_corruption(name)]
        chosen += [c for c in group if c not in chosen]
    return chosen


def list_corruptions() -> list[str]:
    """The registered corruptions' names, in the benchmark's order."""
    return [c.name for c in suite()]


def quantize_like_benchmark(x: torch.Tensor) -> torch.Tensor:
    """What the model sees: 8-bit levels, truncated as the generator's stored files are."""
    return ops.to_uint8_levels(x)
