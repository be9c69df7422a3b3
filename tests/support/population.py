"""A hand-built sweep population whose answers are known: two dense seeds and three gmp seeds at
90 % with chosen predictions and confidences under one corruption (clean is always right at
confidence 0.9), so the exemplars, the seed spread and the ECE can be worked out by hand."""

from pathlib import Path

import numpy as np

from store.catalogue import PLOTTABLE
from store.records import ConditionRecord, ModelRecord
from store.writer import StoreWriter

LABELS = np.array([0, 1, 2, 0, 1, 2])
# (name, recipe, method, target sparsity, seed, reference id)
MODELS = [("dense-s1", "dense", "dense", None, 1, None), ("dense-s2", "dense", "dense", None, 2, None),
          ("gmp-90-s1", "gmp", "gmp", 0.9, 1, 0), ("gmp-90-s2", "gmp", "gmp", 0.9, 2, 1),
          ("gmp-90-s3", "gmp", "gmp", 0.9, 3, 0)]
# Predictions under the corrupted condition (id 1); clean is always right.
PRED = np.array([
    [0, 1, 2, 0, 1, 0],  # dense-s1
    [0, 1, 2, 1, 1, 1],  # dense-s2: dense modes 0 1 2 0 1 0 (samples 3 and 5 tie: lowest class)
    [1, 1, 2, 0, 2, 2],  # gmp-s1
    [1, 1, 0, 1, 2, 2],  # gmp-s2
    [0, 1, 0, 2, 2, 0],  # gmp-s3: gmp modes 1 1 0 0 2 2 (sample 3 ties three ways: class 0)
])
DENSE_MODE, GMP_MODE = [0, 1, 2, 0, 1, 0], [1, 1, 0, 0, 2, 2]
EXEMPLARS = [0, 2, 4, 5]  # where the modes differ
CONFIDENCE = np.array([0.95, 0.85, 0.55, 0.35, 0.05, 0.999])


def metrics(pred: np.ndarray, confidence: np.ndarray) -> dict[str, np.ndarray]:
    n = len(pred)
    out = {name: np.linspace(0.1, 1.0, n).astype(np.float32) for name in PLOTTABLE}
    out.update(pred=pred.astype(np.int16), correct=pred == LABELS,
               confidence=confidence.astype(np.float32), angles=np.full((n, 3), 45.0),
               angle_pred=np.full(n, 40.0, np.float32))
    return out


def build_population_store(path: Path) -> Path:
    with StoreWriter(path, "sweep", num_classes=3) as w:
        w.put_meta({"config_name": "population", "dataset": "hand"})
        w.put_classes(["a", "b", "c"])
        w.put_conditions([ConditionRecord.clean(),
                          ConditionRecord(1, "gaussian_noise-5", "gaussian_noise", 5, "noise", True)])
        w.put_samples(LABELS, ["x"] * 6, [b"\x89PNG"] * 6)
        for i, (name, recipe, method, target, seed, ref) in enumerate(MODELS):
            w.put_model(ModelRecord(i, name, "hand", method, target, target or 0.0, 10, 10, ref, 3,
                                    3, recipe=recipe, seed=seed), np.eye(3), np.zeros(3))
            w.put_metrics(i, 0, np.arange(6, dtype=np.int32), metrics(LABELS, np.full(6, 0.9)))
            w.put_metrics(i, 1, np.arange(6, dtype=np.int32), metrics(PRED[i], CONFIDENCE))
        return w.commit()
