"""Weather: snow, frost (the generator's photographs), fog (plasma fractal) and brightness."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import torch

from compute.corruptions import imageops as ops
from compute.corruptions.randomness import SampleRandom
from compute.corruptions.registry import CIFAR_C, register
from compute.errors import UserError


def _power_of_two(n: int) -> int:
    """The smallest power of two >= n: diamond-square needs one, and crops to the image."""
    return 1 << max(n - 1, 1).bit_length()


def plasma_fractal(rng: SampleRandom, size: int, decay: float) -> torch.Tensor:
    """The generator's diamond-square height map, one per sample: (N, size, size) in [0, 1]."""
    n = rng.seeds.shape[0]
    m = torch.zeros(n, size, size, device=rng.device)
    step, wibble = size, 100.0

    def wibbled_mean(total: torch.Tensor) -> torch.Tensor:
        noise = rng.uniform(*total.shape[1:], low=-wibble, high=wibble)
        return total / 4 + wibble * noise

    while step >= 2:
        half = step // 2
        corners = m[:, 0::step, 0::step]
        squares = corners + corners.roll(-1, dims=1)
        squares = squares + squares.roll(-1, dims=2)
        m[:, half::step, half::step] = wibbled_mean(squares)
        centres, corners = m[:, half::step, half::step], m[:, 0::step, 0::step]
        m[:, 0::step, half::step] = wibbled_mean(
            centres + centres.roll(1, dims=1) + corners + corners.roll(-1, dims=2))
        m[:, half::step, 0::step] = wibbled_mean(
            centres + centres.roll(1, dims=2) + corners + corners.roll(-1, dims=1))
        step //= 2
        wibble /= decay
    m = m - m.amin(dim=(1, 2), keepdim=True)
    return m / m.amax(dim=(1, 2), keepdim=True)


@register("snow", "weather", [
    (0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
], reference=CIFAR_C)
def snow(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    loc, scale, zoom, threshold, radius, sigma, blend = c
    h, w = x.shape[-2:]
    flakes = ops.clipped_zoom(rng.normal(1, h, w, mean=loc, std=scale), zoom)
    flakes = ops.to_uint8_levels(torch.where(flakes < threshold, 0.0, flakes))
    angles = rng.uniform(1, low=-135.0, high=-45.0).flatten()
    flakes = torch.round(ops.motion_blur(flakes, radius, sigma, angles) * 255) / 255
    x = blend * x + (1 - blend) * torch.maximum(x, ops.rgb_to_gray(x) * 1.5 + 0.5)
    return x + flakes + flakes.flip(-1, -2)


@register("frost", "weather", [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)], reference=CIFAR_C)
def frost(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    # The generator draws randint(5): frost1..frost5, never the sixth photograph.
    h, w = x.shape[-2:]
    photos, sizes = frost_photos(x.device)
    which = rng.integers(0, 5, 1).flatten()
    # A crop's corner in [0, side - 32) of the chosen photograph, as randint(0, side - 32) draws.
    spans = sizes[which] - torch.tensor([h, w], device=x.device)
    if (spans < 1).any():
        raise UserError(f"frost crops {h}x{w} pieces of photographs at most "
                        f"{int(sizes.min(0).values[0]) - 1}x{int(sizes.min(0).values[1]) - 1}: "
                        "the images are too large for it")
    corner = (rng.uniform(2) * spans).floor().long()
    rows = (corner[:, 0, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (corner[:, 1, None] + torch.arange(w, device=x.device))[:, None, None, :]
    channels = torch.arange(3, device=x.device)[None, :, None, None]
    crops = photos[which[:, None, None, None], channels, rows, cols]
    return c[0] * x + c[1] * crops.to(x.dtype) / 255.0


# The generator's frost photographs, as the PyPI package imagecorruptions-imaug 1.1.5 ships them
# (byte-identical to the files make_cifar_c.py reads); sha256 checked before use.
FROST_PACKAGE = "imagecorruptions-imaug"
FROST_PHOTOS = {
    "frost1.png": "ff9f907860bd7a835d459e32f9d588062b7f61ee267343cc7222b56753a14755",
    "frost2.png": "fe211a89b336999c207a852ce05818d4545d0b57c5beadd824b4cc9d9a9b6137",
    "frost3.png": "2d0d50b4a9bb213f38b024ef7768731bb83cc08d2f26b5766bbc167cdfa0e504",
    "frost4.jpg": "3f8b91ca1a9fa7167b09e773da53f5ae60d0a1fd88f02a783f6e328a72887f6e",
    "frost5.jpg": "5fc6a19df4a429ba68abdcc8f8a4278d4c9f81c9ccafd2c92ab0c8cf8992ebd2",
}


def frost_photo_paths() -> list[Path]:
    """The five photographs' files, found through the package's metadata: importing the package
    would import OpenCV, scikit-image and numba, none of which this needs."""
    hint = (f"frost needs the generator's frost photographs from the package {FROST_PACKAGE}: "
            f"pip install --no-deps {FROST_PACKAGE}==1.1.5 (bash scripts/setup.sh does)")
    try:
        files = importlib.metadata.distribution(FROST_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        raise UserError(hint) from None
    found = {f.name: Path(f.locate()) for f in files if f.name in FROST_PHOTOS}
    paths = []
    for name, digest in FROST_PHOTOS.items():
        path = found.get(name)
        if path is None or not path.is_file():
            raise UserError(f"{name} is missing from the installed {FROST_PACKAGE}; {hint}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise UserError(f"{path} is not the generator's {name} (sha256 differs); {hint}")
        paths.append(path)
    return paths


@functools.lru_cache(maxsize=4)
def frost_photos(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The photographs scaled by 0.2 as the generator's cv2.resize(fx=0.2, fy=0.2) does, stacked
    (5, 3, H, W) uint8 (zero-padded to the largest), with their (height, width) (5, 2).

    OpenCV's bilinear resize by exactly 1/5 samples source pixel 5 i + 2 with weight 1 (its
    pixel-centre mapping (i + 0.5) * 5 - 0.5 lands on whole pixels), so the scaled photograph
    is a strided slice; PIL decodes these files to the same RGB as cv2.imread (tests check both).
    """
    from PIL import Image

    scaled = []
    for path in frost_photo_paths():
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        h, w = (round(side * 0.2) for side in rgb.shape[:2])
        scaled.append(torch.from_numpy(rgb[2::5, 2::5][:h, :w].copy()).permute(2, 0, 1))
    sizes = torch.tensor([p.shape[1:] for p in scaled])
    stack = torch.zeros(len(scaled), 3, *sizes.max(0).values.tolist(), dtype=torch.uint8)
    for i, p in enumerate(scaled):
        stack[i, :, : p.shape[1], : p.shape[2]] = p
    return stack.to(device), sizes.to(device)


@register("fog", "weather", [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)], reference=CIFAR_C)
def fog(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    h, w = x.shape[-2:]
    size = _power_of_two(max(h, w))
    max_val = x.amax(dim=(1, 2, 3), keepdim=True)
    x = x + c[0] * plasma_fractal(rng, size, c[1])[:, None, :h, :w]
    return x * max_val / (max_val + c[0])


@register("brightness", "weather", [0.05, 0.1, 0.15, 0.2, 0.3], random=False, reference=CIFAR_C)
def brightness(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    # HSV value + c with hue and saturation kept: every channel scales by V' / V (a black pixel,
    # saturation 0, becomes grey V'). The same as scikit-image's round trip, without it.
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + c).clamp(0, 1)
    return torch.where(v > 0, x * (v_new / v.clamp_min(1e-12)), v_new)
