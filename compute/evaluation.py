"""The evaluation loop: every test sample under one condition through every model, its geometry
and the models' feature similarity, run so that it gives the same numbers every time. (Under a
white-box attack each model sees its own inputs; CKA then compares the models' features of the
same samples, each attacked on that model.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from compute.conditions import Condition
from compute.datasets import ImageSet
from compute.devices import AUTOCAST
from compute.geometry import geometry
from compute.preparation import PreparedModel
from compute.similarity import FeatureGram

# What evaluating the models under one condition gives any engine: metrics per model, and the
# CKA between every two models' features (M x M).
Results = tuple[list[dict[str, np.ndarray]], np.ndarray]


@contextmanager
def reproducible(threads: int | None) -> Iterator[None]:
    """Evaluation that gives the same numbers on every run of a machine: a fixed number of CPU
    threads (MKL and oneDNN split their sums by thread) and torch's deterministic kernels
    (cuDNN without autotuning on a GPU). Restores the previous settings afterwards."""
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1], warn_only=before[2])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[3:]


@torch.inference_mode()
def evaluate(
    models: list[PreparedModel], condition: Condition, test: ImageSet, device: torch.device,
    batch_size: int, autocast: str = "none",
) -> tuple[list[dict[str, np.ndarray]], torch.Tensor]:
    """Geometry of every test sample under one condition, for each model (one dict of arrays
    each), and the linear CKA between the models' penultimate features (M x M). `autocast` runs
    the forward passes in bf16 or fp16 (AUTOCAST); the geometry and CKA stay in float64 / float32
    from the features it gives."""
    dtype = AUTOCAST[autocast]
    parts: list[list[dict[str, torch.Tensor]]] = [[] for _ in models]
    gram = FeatureGram()
    ids = condition.sample_ids(test)
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        # Channels-last: the CPU convolutions run about 1.5x faster on it (docs/benchmarks.md).
        # An attack condition's inputs are crafted here, with gradients (compute/attacks.py).
        xs = [x.contiguous(memory_format=torch.channels_last)
              for x in condition.inputs(test, batch, start, device, models)]
        y = test.labels[batch].to(device)
        features = []
        for out, m, x in zip(parts, models, xs, strict=True):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                f, _ = m.probe.features_and_logits(x)
            f = f.float()
            features.append(f)
            out.append(geometry(f, m.probe.classifier.weight, m.probe.classifier.bias, y))
        gram.update(features)
    metrics = [{k: torch.cat([p[k] for p in out]).cpu().numpy() for k in out[0]} for out in parts]
    return metrics, gram.cka()
