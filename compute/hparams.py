"""What hyperparameters are declared with: a dataclass field with bounds (`bounded`), a required
field (`REQUIRED`), and the training recipe every trained model has (`TrainRecipe`).

A leaf module: the config reader, the pruning methods and training all import it, and it imports
none of them (the config reads every table against these dataclasses; compute/config.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

AUGMENTATIONS = ("crop", "flip")


REQUIRED = dataclasses.MISSING


def bounded(default: Any, check: Callable[[Any], bool], must: str) -> Any:
    """A dataclass field whose value a config must keep within bounds: `check(value)`, described
    as "must be <must>" when it fails (None, where the type allows it, is not checked). A default
    of REQUIRED makes the key required."""
    return field(default=default, metadata={"bounds": (check, must)})


@dataclass(frozen=True)
class TrainRecipe:
    epochs: int = bounded(10, lambda v: v >= 0, "0 or more")
    lr: float = bounded(0.05, lambda v: v > 0, "positive")
    batch_size: int = bounded(64, lambda v: v >= 1, "at least 1")
    momentum: float = bounded(0.9, lambda v: 0 <= v < 1, "in [0, 1)")
    weight_decay: float = bounded(5e-4, lambda v: v >= 0, "0 or more")
    # crop (pad 4, random 32x32 crop), flip
    augment: tuple[str, ...] = bounded(("crop",), lambda v: set(v) <= set(AUGMENTATIONS),
                                       f"a list of {' / '.join(AUGMENTATIONS)}")
