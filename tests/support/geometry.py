"""The geometry's definitions in plain numpy, one sample at a time: the reference the torch code
is tested against, and what the torch-free test stores are made with (float64 throughout)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def norm(v: np.ndarray) -> float:
    """||v||, scaled first so that tiny components do not underflow when squared."""
    top = float(np.abs(v).max()) if v.size else 0.0
    return top * math.sqrt(float(((v / top) ** 2).sum())) if top > 0 else 0.0


def reference_geometry(f: np.ndarray, w: np.ndarray, b: np.ndarray,
                       y: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of the store's catalogue for features f (N, d), class directions w (C, d),
    biases b (C,) and labels y (N,); angles (N, C) in degrees, NaN for a zero feature."""
    f, w, b = (np.asarray(a, dtype=np.float64) for a in (f, w, b))
    y = np.asarray(y)
    n, c = len(y), len(b)
    z = f @ w.T + b
    w_norm = [norm(row) for row in w]
    # Each metric's values, sample by sample, under its catalogue name; arrays at the end.
    out: dict[str, list] = defaultdict(list)
    for i in range(n):
        length = norm(f[i])
        if length > 0:
            # Unit vectors first (two tiny norms multiplied would underflow); a zero class
            # direction is at 90 degrees to every feature.
            cos = [float((f[i] / length) @ (w[k] / w_norm[k])) if w_norm[k] > 0 else 0.0
                   for k in range(c)]
            angles = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        else:
            angles = np.full(c, np.nan)
        t, pred = int(y[i]), int(np.argmax(z[i]))
        others = [k for k in range(c) if k != t]
        distance = []
        for k in others:
            gap, apart = z[i, t] - z[i, k], norm(w[t] - w[k])
            distance.append(gap / apart if apart > 0 else math.copysign(math.inf, gap) if gap else 0.0)
        log_p = z[i] - (z[i].max() + math.log(np.exp(z[i] - z[i].max()).sum()))
        p = np.exp(log_p)
        out["length"].append(length)
        out["angles"].append(angles)
        out["angle_true"].append(angles[t])
        out["angle_pred"].append(angles[pred])
        out["angle_gap"].append(min(angles[k] for k in others) - angles[t])
        out["logit_margin"].append(z[i, t] - max(z[i, k] for k in others))
        out["margin_distance"].append(min(distance))
        out["pred"].append(pred)
        out["prob_true"].append(p[t])
        out["confidence"].append(p.max())
        out["loss"].append(-log_p[t])
        out["entropy"].append(-(p * log_p).sum())
    arrays = {k: np.array(v, dtype=np.int64 if k == "pred" else np.float64)
              .reshape((n, c) if k == "angles" else (n,)) for k, v in out.items()}
    arrays["correct"] = arrays["pred"] == y
    return arrays
