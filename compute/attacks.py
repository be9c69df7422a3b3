"""Adversarial attacks as conditions: an attack at a budget is a condition like a corruption at a
severity, and every row it gives carries the same geometry.

The attacks are torchattacks' (3.5.1), never hand-written: a registry maps a config's `attack`
name to a factory that builds the library's attack for one model, norm and budget. The attacked
model is the `Probe`, which normalises [0, 1] pixels itself, so the attack sees pixels in [0, 1]
and its budget is in pixel units (8/255 is the usual Linf budget on CIFAR-10).

Two modes (docs/attacks.md):
- white-box: each model is attacked on its own gradients; its inputs are its own;
- transfer: the inputs are crafted once on a source model and given to every model, like a
  corruption.

The random start of PGD and the random parts of AutoAttack draw from torch's generator, which is
seeded per (build seed, condition, batch) and restored afterwards: a condition gives the same
inputs on every run, a resumed build and each engine included.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from compute.errors import UserError
from compute.hparams import REQUIRED, bounded, read_table

NORMS = ("Linf", "L2")
MODES = ("white-box", "transfer")


def budget_value(text: float | str) -> float:
    """A budget as written in a config: a number, or a fraction such as "8/255"."""
    if isinstance(text, int | float):
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*/\s*(\d+(?:\.\d*)?)\s*", text)
    if not match or float(match[2]) == 0:
        raise UserError(f"budget '{text}' in [[conditions.attacks]] must be a number or a "
                        "fraction such as \"8/255\"")
    return float(match[1]) / float(match[2])


def _budgets_ok(values: tuple[float | str, ...]) -> bool:
    eps = [budget_value(v) for v in values]
    return bool(eps) and all(0 <= e <= 1 for e in eps) and len(set(eps)) == len(eps)


Factory = Callable[[nn.Module, "AttackSpec", float, int, int], object]
ATTACKS: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    def add(factory: Factory) -> Factory:
        ATTACKS[name] = factory
        return factory
    return add


@register("pgd")
def pgd(model: nn.Module, spec: AttackSpec, eps: float, num_classes: int, seed: int) -> object:
    """Projected gradient descent on the cross-entropy (Madry et al. 2018), Linf or L2."""
    import torchattacks

    alpha = spec.step_scale * eps / spec.steps
    if spec.norm == "Linf":
        return torchattacks.PGD(model, eps=eps, alpha=alpha, steps=spec.steps,
                                random_start=spec.random_start)
    return torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=spec.steps,
                              random_start=spec.random_start)


@register("autoattack")
def autoattack(model: nn.Module, spec: AttackSpec, eps: float, num_classes: int,
               seed: int) -> object:
    """The standard AutoAttack ensemble (Croce and Hein 2020): APGD-CE, APGD-T, FAB-T and Square,
    each sample kept at the first attack that fools the model."""
    import torchattacks

    return torchattacks.AutoAttack(model, norm=spec.norm, eps=eps, version="standard",
                                   n_classes=num_classes, seed=seed)


@dataclass(frozen=True)
class AttackSpec:
    """One `[[conditions.attacks]]` table: an attack, its norm and a list of budgets (a condition
    each), how it runs and on which model."""

    attack: str = bounded(REQUIRED, lambda v: v in ATTACKS, " or ".join(ATTACKS))
    budgets: tuple[float | str, ...] = bounded(
        REQUIRED, _budgets_ok, "a non-empty list of distinct budgets in [0, 1] (numbers or \"k/255\")")
    norm: str = bounded("Linf", lambda v: v in NORMS, " or ".join(NORMS))
    steps: int = bounded(10, lambda v: v >= 1, "at least 1")  # iterations of PGD
    # PGD's step size as a multiple of the budget / steps: 2.5 (Madry et al.'s choice) lets the
    # iterate cross the whole budget and back within the steps.
    step_scale: float = bounded(2.5, lambda v: v > 0, "positive")
    random_start: bool = True
    mode: str = bounded("white-box", lambda v: v in MODES, " or ".join(MODES))
    source: str | None = None  # the model a transfer attack is crafted on (default: the first)
    # Attack this many test samples, the first of each class in turn (AutoAttack is costly);
    # None: the whole test set.
    samples: int | None = bounded(None, lambda v: v >= 1, "at least 1")

    @property
    def name(self) -> str:
        """The condition's corruption name: the attack and norm, and the source for a transfer."""
        base = f"{self.attack}_{self.norm.lower()}"
        return base if self.mode == "white-box" else f"{base}_from_{self.source}"

    @property
    def eps(self) -> tuple[float, ...]:
        return tuple(budget_value(b) for b in self.budgets)


def read_attacks(tables: tuple, models: list[str], dense: str) -> tuple[AttackSpec, ...]:
    """`[[conditions.attacks]]` read and checked; a transfer's source defaults to `dense` (the
    first dense model) and must be one of `models`."""
    out = []
    for i, table in enumerate(tables):
        where = f"[[conditions.attacks]] number {i + 1}"
        spec = read_table(AttackSpec, table, where)
        if spec.mode == "white-box" and spec.source is not None:
            raise UserError(f"'source' in {where} applies to mode = \"transfer\" only: a "
                            "white-box attack uses each model's own gradients")
        if spec.mode == "transfer":
            spec = dataclasses.replace(spec, source=spec.source or dense)
            if spec.source not in models:
                raise UserError(f"'source' in {where} names '{spec.source}', which is not a "
                                f"model of this config (models: {', '.join(models)})")
        out.append(spec)
    names = [s.name for s in out]
    for name in names:
        if names.count(name) > 1:
            raise UserError(f"two [[conditions.attacks]] tables are both '{name}': give one "
                            "table all its budgets")
    return tuple(out)


def perturb(model: nn.Module, spec: AttackSpec, eps: float, images: torch.Tensor,
            labels: torch.Tensor, num_classes: int, seed: int) -> torch.Tensor:
    """`images` (B, 3, H, W in [0, 1]) attacked on `model` at budget `eps`: the library's
    adversarial inputs, detached, in [0, 1] and within `eps` of `images` in the spec's norm.
    Torch's random generator is seeded with `seed` for the attack and restored afterwards."""
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices):
        torch.manual_seed(seed)
        # Copies made outside inference mode: the attack needs tensors autograd can use; made
        # contiguous because the library `.view`s them (FAB fails on a permuted batch).
        x = images.detach().clone(memory_format=torch.contiguous_format)
        y = labels.detach().clone()
        attack = ATTACKS[spec.attack](model, spec, eps, num_classes, seed)
        adversarial = attack(x, y)
    return adversarial.detach()


def batch_seed(build_seed: int, condition_id: int, start: int) -> int:
    """The seed of one batch of one attack condition: fixed by the build, the condition and where
    the batch starts, so any engine, and a resumed build, draws the same random starts."""
    return (build_seed * 1_000_003 + condition_id * 65_537 + start) % 2**31
