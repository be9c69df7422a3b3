"""How fast the batched torch corruptions are, against a per-image numpy/scipy/PIL implementation
of the same corruptions and against the CIFAR ResNet-20 forward pass on the same batch.

    bash scripts/setup.sh requirements-dev.txt
    .venv/bin/python -m benchmarks.corruptions [--images 2000] [--batch 500] [--reference-images 200]
                                               [--severity 3 | --severity all]

Prints, per corruption, images per second for the torch suite, for the per-image reference and
for the forward pass, and the ratios; then the totals over the whole suite. With
`--severity all` each rate covers the five severities in turn (what a full build pays). Every figure comes
from one run on one machine, so the ratios compare like with like. Record the output in
docs/benchmarks.md with the command line that produced it.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from benchmarks.reference_corruptions import corrupt, reproduced
from compute.corruptions import quantize_like_benchmark
from compute.datasets import load_data
from compute.models import Probe, create_model

ROOT = Path(__file__).resolve().parent.parent


def rate(fn, count: int, repeats: int = 1) -> float:
    """Images per second of fn() processing `count` images, best of `repeats` (after a warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images per torch measurement")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--reference-images", type=int, default=200)
    parser.add_argument("--severity", default="3", choices=["1", "2", "3", "4", "5", "all"],
                        help="one severity, or all five in turn")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    severities = range(1, 6) if args.severity == "all" else [int(args.severity)]
    device = torch.device(args.device)

    if (Path(args.data_root) / "cifar10" / "test").is_dir():
        data = load_data("imagefolder", root=args.data_root, test="cifar10/test")
    else:
        data = load_data("digits")
    images = data.test.images[: args.images]
    batches = [images[i : i + args.batch].to(device).float() / 255
               for i in range(0, len(images), args.batch)]
    ids = [torch.arange(i, i + len(b)) for i, b in zip(range(0, len(images), args.batch), batches,
                                                        strict=True)]
    reference_inputs = images[: args.reference_images].permute(0, 2, 3, 1).numpy()
    model = Probe(create_model("resnet20", 10)).to(device).eval()

    def forward() -> None:
        with torch.inference_mode():
            for b in batches:
                model(b.contiguous(memory_format=torch.channels_last))  # as builds feed it
                if device.type == "cuda":
                    torch.cuda.synchronize()

    forward_rate = rate(forward, len(images), repeats=2)
    print(f"{data.name}, {len(images)} images, batch {args.batch}, severity {args.severity}, "
          f"device {device}, torch threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}")
    print(f"ResNet-20 forward pass: {forward_rate:,.0f} images/s\n")
    header = (f"{'corruption':18s} {'torch img/s':>12s} {'per-image img/s':>16s} "
              f"{'speed-up':>9s} {'vs forward':>11s}")
    print(header)
    print("-" * len(header))
    total_torch = total_reference = 0.0
    for corruption in reproduced():
        def run(c=corruption) -> None:
            with torch.inference_mode():
                for severity in severities:
                    for b, i in zip(batches, ids, strict=True):
                        quantize_like_benchmark(c(b, severity, i))
                        if device.type == "cuda":
                            torch.cuda.synchronize()

        def reference(name=corruption.name) -> None:
            for severity in severities:
                for k, image in enumerate(reference_inputs):
                    corrupt(image, name, severity, seed=k)

        ours = rate(run, len(images) * len(severities), repeats=2)
        theirs = rate(reference, len(reference_inputs) * len(severities))
        total_torch += len(images) * len(severities) / ours
        total_reference += len(reference_inputs) * len(severities) / theirs
        print(f"{corruption.name:18s} {ours:12,.0f} {theirs:16,.0f} {ours / theirs:8.1f}x "
              f"{ours / forward_rate:10.1f}x")
    suite_torch = len(images) * len(severities) * len(reproduced()) / total_torch
    suite_reference = len(reference_inputs) * len(severities) * len(reproduced()) / total_reference
    print("-" * len(header))
    print(f"{'whole suite':18s} {suite_torch:12,.0f} {suite_reference:16,.0f} "
          f"{suite_torch / suite_reference:8.1f}x {suite_torch / forward_rate:10.1f}x")
    print(f"\nwhole suite = images x {len(severities)} severities x 19 corruptions / total time "
          "(a harmonic mean of the rates)")


if __name__ == "__main__":
    main()
