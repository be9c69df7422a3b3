"""Draw one real CIFAR-10 test image under every corruption at severities 1-5.

    python scripts/corruption_gallery.py [--data-root ../shared/data] [--image PATH] [--out PNG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compute.corruptions import quantize_like_benchmark, suite  # noqa: E402

SCALE, PAD, LABEL = 4, 4, 130


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--image", default="cifar10/test/horse/american_saddle_horse_s_000006.png",
                        help="path of the image under the data root")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "corruption-gallery.png"))
    args = parser.parse_args()
    path = Path(args.data_root) / args.image
    if not path.is_file():
        sys.exit(f"error: {path} does not exist (set --data-root or --image)")
    with Image.open(path) as img:
        x = torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)
    x = x[None].float() / 255.0
    side = x.shape[-1] * SCALE
    rows = suite()
    sheet = Image.new("RGB", (LABEL + 6 * (side + PAD), 24 + len(rows) * (side + PAD)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, title in enumerate(["clean", *(f"severity {s}" for s in range(1, 6))]):
        draw.text((LABEL + col * (side + PAD) + 4, 6), title, fill="black")
    for row, corruption in enumerate(rows):
        top = 24 + row * (side + PAD)
        draw.text((4, top + side // 2 - 6), f"{corruption.name}\n({corruption.family})", fill="black")
        images = [x] + [quantize_like_benchmark(corruption(x, s, torch.tensor([0]))) for s in range(1, 6)]
        for col, image in enumerate(images):
            pixels = (image[0].permute(1, 2, 0) * 255).round().byte().numpy()
            tile = Image.fromarray(pixels).resize((side, side), Image.NEAREST)
            sheet.paste(tile, (LABEL + col * (side + PAD), top))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
