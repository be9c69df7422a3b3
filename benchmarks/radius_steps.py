"""How much FAB's radius moves with its number of steps, and what each step count costs.

    .venv/bin/python -m benchmarks.radius_steps [--config configs/cifar10-resnet20-attacks.toml]
                                                [--data-root DIR] [--samples 100]
                                                [--steps 10 20 50 100]

On the config's first model (the pretrained ResNet-20 by default) and the config's radius subset
cut to `--samples` (the first of each class in turn), runs the config's `[radius]` search at each
step count and prints, against the largest: the time, how many samples each finds a radius for,
the ratio of the radii (the smaller search's is larger: the radius is an upper bound that more
steps tighten) and their Spearman rank correlation. It is what chose the attacks config's 20
steps; record the output in docs/attacks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import scipy.stats
import torch

from compute.config import load_config
from compute.datasets import load_data
from compute.inspection import inspection_subset
from compute.preparation import prepare_models
from compute.radius import RadiusSpec, radii

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "cifar10-resnet20-attacks.toml"))
    parser.add_argument("--data-root")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100])
    args = parser.parse_args()
    cfg = load_config(args.config, data_root=args.data_root)
    cfg = dataclasses.replace(cfg, models=cfg.models[:1])
    data = load_data(cfg.data.source, **cfg.data.options)
    (model,) = prepare_models(cfg, data, torch.device("cpu"))
    ids = inspection_subset(data.test.labels, args.samples)
    x, y = data.test.images[ids].float() / 255, data.test.labels[ids]
    base = cfg.radius or RadiusSpec()
    found = {}
    print(f"{base.method} {base.norm} radius of {model.spec.name}, {len(ids)} test samples")
    for steps in sorted(args.steps):
        start = time.perf_counter()
        found[steps] = radii(model.probe, dataclasses.replace(base, steps=steps), x, y)
        r = found[steps]
        print(f"{steps:>4} steps: {time.perf_counter() - start:6.1f} s, a radius for "
              f"{np.isfinite(r).sum()}/{len(r)}, median of the flipped "
              f"{np.nanmedian(np.where(r > 0, r, np.nan)):.4f}", flush=True)
    most = max(found)
    ref = found[most]
    for steps in sorted(found)[:-1]:
        r = found[steps]
        both = np.isfinite(r) & np.isfinite(ref) & (ref > 0)
        ratio = r[both] / ref[both]
        rho = scipy.stats.spearmanr(r[both], ref[both]).statistic
        print(f"{steps:>4} against {most} steps, {both.sum()} samples: radius ratio median "
              f"{np.median(ratio):.4f}, p90 {np.quantile(ratio, 0.9):.4f}, max {ratio.max():.4f}; "
              f"Spearman {rho:.4f}")


if __name__ == "__main__":
    main()
