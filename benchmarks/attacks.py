"""What an attack costs in a build, against the bare library loop on the same batches.

    .venv/bin/python -m benchmarks.attacks [--config configs/cifar10-resnet20-attacks.toml]
                                           [--data-root DIR] [--images 1000] [--repeats 3]

On the config's first model (the pretrained ResNet-20 by default, on its CIFAR-10 test images)
and the first `--images` test samples, times per 1,000 images: a clean forward pass; each of the
config's PGD conditions as a build crafts its inputs (`Condition.inputs`: the seeded generator,
the copies out of inference mode) against `torchattacks.PGD` / `PGDL2` called directly on the same
batches (the ratio is the build's overhead; the goal is at most 1.1x); and AutoAttack on a tenth of
the images. Interleaved, best of `--repeats`, so the ratios compare runs side by side on a shared
machine. Record the output in docs/attacks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
import torchattacks

from compute.attacks import batch_seed
from compute.conditions import resolve_conditions
from compute.config import load_config
from compute.datasets import load_data
from compute.evaluation import reproducible
from compute.preparation import prepare_models

ROOT = Path(__file__).resolve().parent.parent


def bare(probe: torch.nn.Module, condition, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The library called by hand: what a user's own loop would run."""
    spec, eps = condition.attack, condition.eps
    alpha = spec.step_scale * eps / spec.steps
    make = torchattacks.PGD if spec.norm == "Linf" else torchattacks.PGDL2
    return make(probe, eps=eps, alpha=alpha, steps=spec.steps,
                random_start=spec.random_start)(x, y)


def best(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "cifar10-resnet20-attacks.toml"))
    parser.add_argument("--data-root")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg = load_config(args.config, data_root=args.data_root)
    cfg = dataclasses.replace(cfg, models=cfg.models[:1])
    data = load_data(cfg.data.source, **cfg.data.options)
    device = torch.device("cpu")
    (model,) = prepare_models(cfg, data, device)
    conditions = [c for c in resolve_conditions(cfg, data.test) if c.attack is not None]
    test, batch = data.test, cfg.evaluation.batch_size
    ids = torch.arange(min(args.images, len(test)))
    per_k = 1000 / len(ids)

    def batches():
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            yield start, part, test.images[part].float() / 255, test.labels[part]

    with reproducible(torch.get_num_threads()):
        def forward():
            with torch.inference_mode():
                for _, _, x, _ in batches():
                    model.probe(x)
        clean = best(forward, args.repeats) * per_k
        print(f"{model.spec.name} on {len(ids):,} {data.name} test images, "
              f"{torch.get_num_threads()} threads; seconds per 1,000 images")
        print(f"{'clean forward':34s} {clean:8.2f}")
        for c in conditions:
            if c.attack.attack != "pgd":
                continue

            def in_build(c=c):
                for start, part, _, _ in batches():
                    c.inputs(test, part, start, device, [model])

            def by_hand(c=c):
                for start, _, x, y in batches():
                    torch.manual_seed(batch_seed(cfg.seed, c.condition_id, start))
                    bare(model.probe, c, x, y)

            build_s = best(in_build, args.repeats) * per_k
            bare_s = best(by_hand, args.repeats) * per_k
            print(f"{c.name:34s} build {build_s:8.2f}  bare {bare_s:8.2f}  ratio "
                  f"{build_s / bare_s:5.2f}  ({build_s / clean:5.1f}x a clean forward)")
        few = ids[: max(1, len(ids) // 10)]
        for c in conditions:
            if c.attack.attack == "autoattack":
                seconds = best(lambda c=c: c.inputs(test, few, 0, device, [model]), 1)
                print(f"{c.name:34s} {seconds * 1000 / len(few):8.2f}  (on {len(few)} images)")


if __name__ == "__main__":
    main()
