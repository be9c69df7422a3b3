"""Does the torch suite reproduce the benchmark's generator? Side by side on real CIFAR-10.

    bash scripts/setup.sh requirements-dev.txt
    .venv/bin/python -m benchmarks.fidelity [--per-class 100] [--draws 2] [--out table.md]

On a fixed subset of the shared CIFAR-10 test set (the first `--per-class` images of each class,
by file name), every corruption at every severity is made twice by each side, with independent
random draws: by the batched torch suite (`compute.corruptions`) and by the generator's own code
path one image at a time (`benchmarks/reference_corruptions.py`). Per (corruption, severity) it
prints:
- the pretrained ResNet-20's accuracy on each side, averaged over the draws, and the difference;
- the mean absolute difference torch - reference in 8-bit levels, draw for draw (meaningful for
  the deterministic corruptions, where it should be at most a level's rounding);
- for the random ones, the mean and standard deviation of (corrupted - clean) in 8-bit levels on
  each side, over all pixels of all draws.
One random draw moves the accuracy on 1,000 images by up to about 4 points, so judge random
corruptions on the average over draws. Record the table in docs/corruptions.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.reference_corruptions import corrupt, reproduced
from compute.checkpoints import load_into
from compute.corruptions import CORRUPTIONS, quantize_like_benchmark
from compute.datasets import load_data
from compute.models import Probe, create_model

ROOT = Path(__file__).resolve().parent.parent
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DRAW_STRIDE = 10_000_000  # sample ids (torch) and seeds (reference) of draw d start at d * this


def fidelity_subset(data_root: Path, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `per_class` test images of each class (uint8 (N, 3, 32, 32)) and their labels."""
    test = load_data("imagefolder", root=str(data_root), test="cifar10/test").test
    keep = torch.cat([torch.nonzero(test.labels == k).flatten()[:per_class]
                      for k in range(int(test.labels.max()) + 1)])
    return test.images[keep], test.labels[keep]


def pretrained_resnet20(data_root: Path) -> Probe:
    probe = Probe(create_model("resnet20", 10), "linear", MEAN, STD)
    load_into(probe.net, data_root / "resnet20-cifar10-akamaster.th", "linear", 10)
    return probe.eval()


def torch_draw(images: torch.Tensor, name: str, severity: int, draw: int,
               batch: int = 500) -> torch.Tensor:
    """The torch suite's corrupted images, uint8 (N, 3, H, W); `draw` picks independent noise."""
    out = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch].float() / 255
        ids = torch.arange(start, start + len(x)) + draw * DRAW_STRIDE
        y = quantize_like_benchmark(CORRUPTIONS[name](x, severity, ids))
        out.append((y * 255).round().to(torch.uint8))
    return torch.cat(out)


def reference_draw(images: torch.Tensor, name: str, severity: int, draw: int) -> torch.Tensor:
    """The generator's code path, image by image, uint8 (N, 3, H, W)."""
    hwc = images.permute(0, 2, 3, 1).numpy()
    out = [corrupt(im, name, severity, seed=draw * DRAW_STRIDE + k) for k, im in enumerate(hwc)]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


@torch.inference_mode()
def accuracy(model: Probe, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    correct = 0
    for start in range(0, len(images), batch):
        x = images[start : start + batch].float() / 255
        logits = model(x.contiguous(memory_format=torch.channels_last))  # as builds feed it
        correct += int((logits.argmax(1) == labels[start : start + batch]).sum())
    return correct / len(images)


@dataclass
class Row:
    name: str
    severity: int
    acc_torch: float
    acc_reference: float
    pixel_diff: float  # mean |torch - reference|, 8-bit levels
    change_torch: tuple[float, float]  # mean, std of (corrupted - clean)
    change_reference: tuple[float, float]

    @property
    def delta(self) -> float:
        return self.acc_torch - self.acc_reference


def compare(model: Probe, images: torch.Tensor, labels: torch.Tensor, name: str, severity: int,
            draws: int) -> Row:
    """Both sides over `draws` independent draws each."""
    ours = [torch_draw(images, name, severity, d) for d in range(draws)]
    theirs = [reference_draw(images, name, severity, d) for d in range(draws)]
    clean = images.float()

    def change(batches: list[torch.Tensor]) -> tuple[float, float]:
        d = torch.stack([b.float() - clean for b in batches])
        return float(d.mean()), float(d.std())

    return Row(
        name, severity,
        float(np.mean([accuracy(model, b, labels) for b in ours])),
        float(np.mean([accuracy(model, b, labels) for b in theirs])),
        float(np.mean([(a.float() - b.float()).abs().mean() for a, b in zip(ours, theirs,
                                                                             strict=True)])),
        change(ours), change(theirs),
    )


def table(rows: list[Row], clean: float, header: str) -> str:
    lines = [header, "", f"Clean accuracy: {100 * clean:.1f} %.", "",
             "| corruption | severity | torch | generator | difference | mean abs pixel diff "
             "| change torch (mean, std) | change generator (mean, std) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.severity} | {100 * r.acc_torch:.1f} | {100 * r.acc_reference:.1f} "
            f"| {100 * r.delta:+.1f} | {r.pixel_diff:.2f} | {r.change_torch[0]:+.1f}, "
            f"{r.change_torch[1]:.1f} | {r.change_reference[0]:+.1f}, {r.change_reference[1]:.1f} |")
    worst = max(rows, key=lambda r: abs(r.delta))
    lines += ["", f"Largest accuracy difference: {100 * worst.delta:+.1f} points "
                  f"({worst.name}, severity {worst.severity}); mean absolute difference "
                  f"{100 * np.mean([abs(r.delta) for r in rows]):.2f} points."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--corruptions", default="all", help="comma-separated names, or all")
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))

    images, labels = fidelity_subset(args.data_root, args.per_class)
    model = pretrained_resnet20(args.data_root)
    names = [c.name for c in reproduced()] if args.corruptions == "all" else args.corruptions.split(",")
    start = time.perf_counter()
    rows = [compare(model, images, labels, name, severity, args.draws)
            for name in tqdm(names, desc="corruptions") for severity in range(1, 6)]
    header = (f"{len(images)} CIFAR-10 test images ({args.per_class} per class), pretrained "
              f"ResNet-20, accuracy in % averaged over {args.draws} draws per side; pixel "
              f"statistics in 8-bit levels ({time.perf_counter() - start:.0f} s).")
    text = table(rows, accuracy(model, images, labels), header)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
