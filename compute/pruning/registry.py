"""The pruning registry: every method with its hyperparameters and what it may start from.

A method is a function `run(params, probe, ctx) -> masks` that leaves `probe` pruned (masked
weights exactly zero in the weights the forward pass uses) and trained as the method says, with
one frozen dataclass of hyperparameters: the fields a config's `prune` table may set besides
`method`. Sparsity is measured over every conv and linear weight.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from compute.datasets import ImageSet
from compute.errors import UserError
from compute.hparams import REQUIRED, TrainRecipe, bounded
from compute.models import Probe
from compute.training import GradualPruning, Masks


@dataclass(frozen=True)
class Sparsity:
    """The hyperparameter every method has; a method's own dataclass extends it."""

    sparsity: float = bounded(REQUIRED, lambda v: 0 <= v < 1, "in [0, 1)")  # fraction of weights zero


@dataclass
class Context:
    """What a method may use: the training data and recipe, the device, a seed, whether it starts
    from trained weights, and a way to train (training.train bound to the data and device)."""

    train_set: ImageSet
    recipe: TrainRecipe
    device: torch.device
    seed: int
    from_trained: bool
    run: Callable[..., None]
    # What a method did on the way (gmp: one entry per pruning step); saved with the model.
    history: list[dict[str, float]] = field(default_factory=list)

    def generator(self, purpose: str) -> torch.Generator:
        """A generator for one use, independent of the one that initialised the weights (which
        is seeded with `seed` itself: reusing it would correlate masks with weights)."""
        return torch.Generator().manual_seed((self.seed * 31 + zlib.crc32(purpose.encode())) % 2**63)

    def train(self, probe: Probe, masks: Masks | None = None, epochs: int | None = None,
              gradual: GradualPruning | None = None) -> None:
        recipe = self.recipe if epochs is None else TrainRecipe(
            **{**self.recipe.__dict__, "epochs": epochs})
        self.run(probe, recipe, masks=masks, gradual=gradual)


Run = Callable[[Sparsity, Probe, Context], Masks]


@dataclass(frozen=True)
class PruningMethod:
    name: str
    params: type[Sparsity]  # its hyperparameters
    run: Run
    fresh_init: bool  # keeps the random initial weights: cannot start from a trained model
    prunes_while_training: bool  # needs a training recipe with epochs > 0

    def __call__(self, params: Sparsity, probe: Probe, ctx: Context) -> Masks:
        if self.fresh_init and ctx.from_trained:
            raise UserError(f"'{self.name}' keeps weights at their random initialisation: "
                            "give the model an 'arch' and no 'base'")
        return self.run(params, probe, ctx)


METHODS: dict[str, PruningMethod] = {}


def register(name: str, params: type[Sparsity] = Sparsity, fresh_init: bool = False,
             prunes_while_training: bool = False) -> Callable[[Run], Run]:
    def wrap(run: Run) -> Run:
        if name in METHODS:
            raise ValueError(f"pruning method '{name}' is registered twice")
        METHODS[name] = PruningMethod(name, params, run, fresh_init, prunes_while_training)
        return run

    return wrap


def get_method(name: str) -> PruningMethod:
    if name not in METHODS:
        raise UserError(f"unknown pruning method '{name}' (known: {', '.join(METHODS)})")
    return METHODS[name]


def list_pruning_methods() -> list[str]:
    return list(METHODS)
