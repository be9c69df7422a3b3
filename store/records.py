"""The rows compute hands the writer, typed: field names are the store's column names, so they
live here, in `store/`, and nowhere in compute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelRecord:
    model_id: int
    name: str
    arch: str
    method: str  # 'dense' or a pruning method
    target_sparsity: float | None  # what the recipe asked for (None for dense)
    sparsity: float  # measured: zero weights / prunable weights
    params_total: int
    params_nonzero: int
    reference_model_id: int | None  # the dense model a pruned one is compared with
    num_classes: int
    feature_dim: int
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    notes: str | None = None
    recipe: str | None = None  # the config entry a sweep expanded (None: the model's own name)
    seed: int | None = None  # the sweep's seed (None outside a seed sweep)


@dataclass(frozen=True)
class ConditionRecord:
    condition_id: int
    name: str  # 'clean' or '<corruption>-<severity>'
    corruption: str  # 'clean' for the clean condition
    severity: int  # 0 for clean, 1..5 otherwise
    family: str  # clean, noise, blur, weather, digital, extra
    benchmark: bool  # counts towards mean corruption accuracy and mCE

    @classmethod
    def clean(cls) -> ConditionRecord:
        return cls(0, "clean", "clean", 0, "clean", False)


@dataclass(frozen=True)
class AttackRecord:
    """How an attack condition's inputs were made (the `attacks` table)."""

    condition_id: int
    attack: str
    norm: str
    budget: float
    steps: int
    step_size: float
    random_start: bool
    mode: str  # white-box or transfer
    source_model_id: int | None  # a transfer's source model
    samples: int


@dataclass(frozen=True)
class ConditionResults:
    """Everything a build stores of one condition, written in one transaction
    (`StoreWriter.put_condition`): a condition in the store is whole or absent."""

    condition_id: int
    model_ids: Sequence[int]  # every model evaluated, in the order of `cka`'s rows
    cka: np.ndarray  # linear CKA between every two models' features (models x models)
    sample_ids: np.ndarray  # the samples every metrics array is over
    # (model_id, its metrics) for the pairs not yet in the store; a metric's array is per sample,
    # `angles` (samples, classes) with rows of NaN where the feature length is 0.
    metrics: Sequence[tuple[int, Mapping[str, np.ndarray]]]
    thumbnail_ids: np.ndarray | None = None  # samples whose corrupted images are kept
    thumbnails: Sequence[bytes] = ()  # their PNG bytes
