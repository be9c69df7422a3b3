"""The 19 common corruptions of CIFAR-10-C (DESIGN section 4), batched in torch.

Each corruption is a function of a batch (N, 3, H, W) float in [0, 1], one severity's parameters
and a `SampleRandom` (per-sample random streams), returning the same shape on the same device;
the registry clips to [0, 1]. Parameters are the benchmark generator's (`make_cifar_c.py`) for
32x32 images. Where this departs from that generator, docs/corruptions.md says how and why.
Adding a corruption is one function and one `@register` line.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from compute import edges
from compute import imageops as ops
from compute.errors import UserError
from compute.randomness import SampleRandom, sample_seeds

FAMILIES = ("noise", "blur", "weather", "digital", "extra")
Fn = Callable[[torch.Tensor, object, SampleRandom], torch.Tensor]


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str
    params: tuple  # one parameter (or tuple of parameters) per severity 1..5
    fn: Fn
    benchmark: bool  # one of the 15 that mean corruption accuracy and mCE average over
    random: bool  # draws random numbers (False: the same image every time)

    def __call__(self, x: torch.Tensor, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
        """Corrupt a batch in [0, 1]; sample_ids (N,) fix each sample's randomness."""
        rng = SampleRandom(sample_seeds(self.name, severity, sample_ids), x.device)
        return self.fn(x, self.params[severity - 1], rng).clamp(0.0, 1.0)


CORRUPTIONS: dict[str, Corruption] = {}


def register(name: str, family: str, params: Sequence, benchmark: bool = True,
             random: bool = True) -> Callable:
    assert family in FAMILIES and len(params) == 5, (name, family)

    def wrap(fn: Fn) -> Fn:
        CORRUPTIONS[name] = Corruption(name, family, tuple(params), fn, benchmark, random)
        return fn

    return wrap


def suite() -> list[Corruption]:
    """All corruptions in the benchmark's order: the 15 it averages over, then the 4 extras."""
    values = list(CORRUPTIONS.values())
    return [c for c in values if c.benchmark] + [c for c in values if not c.benchmark]


def get_corruption(name: str) -> Corruption:
    if name not in CORRUPTIONS:
        known = ", ".join(c.name for c in suite())
        raise UserError(f"unknown corruption '{name}' (known: {known}, or 'all')")
    return CORRUPTIONS[name]


def select(names: Sequence[str] | str) -> list[Corruption]:
    """Corruptions by name, family name, 'benchmark' (the 15) or 'all' (the 19), in suite order."""
    if isinstance(names, str):
        names = [names]
    chosen: list[Corruption] = []
    for name in names:
        if name == "all":
            group = suite()
        elif name == "benchmark":
            group = [c for c in suite() if c.benchmark]
        elif name in FAMILIES:
            group = [c for c in suite() if c.family == name]
        else:
            group = [get_corruption(name)]
        chosen += [c for c in group if c not in chosen]
    return chosen


# --- noise ------------------------------------------------------------------------------------


@register("gaussian_noise", "noise", [0.04, 0.06, 0.08, 0.09, 0.10])
def gaussian_noise(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return x + rng.normal(*x.shape[1:], std=sigma)


@functools.lru_cache(maxsize=8)
def _poisson_cdf(c: float) -> torch.Tensor:
    """P(X <= k - 1) for X ~ Poisson(c * l / 255), one row per 8-bit level l and k = 0..K:
    (256, K + 1) float64, column 0 being P(X <= -1) = 0.

    Always computed on the CPU (then moved), so every device compares against the same numbers.
    """
    kmax = math.ceil(c + 12 * math.sqrt(c) + 20)  # 12 standard deviations: the rest is below 1e-30
    lam = torch.arange(256, dtype=torch.float64)[:, None] * (c / 255)
    k = torch.arange(kmax, dtype=torch.float64)[None, :]
    pmf = torch.exp(torch.xlogy(k, lam) - lam - torch.lgamma(k + 1))
    cdf = pmf.cumsum(dim=1).clamp(max=1.0)
    cdf[:, -1] = 1.0
    return torch.cat([torch.zeros(256, 1, dtype=torch.float64), cdf], dim=1)


UNIFORM_BITS = 24  # shot noise's uniforms: u = (b + 0.5) / 2^24 for an integer b < 2^24
GUIDE_BITS = 12  # the guide table's buckets: the top 12 bits of b


@functools.lru_cache(maxsize=8)
def _poisson_guide(c: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Integer tables that invert the CDF of `_poisson_cdf(c)` without floating point.

    edges[l, k] is the smallest b whose u = (b + 0.5) / 2^24 exceeds P(X <= k), so the draw for
    b is the number of edges <= b; flattened with level l offset by l * 2^24 it is one sorted
    array. guide[l, j] is that draw for every b whose top bits are j, or -1 where an edge falls
    inside bucket j (about 1 % of pixels; they binary-search the edges).
    """
    cdf = _poisson_cdf(c)[:, 1:]
    # Exact in float64: scaling by 2^24 and subtracting 0.5 do not round at these magnitudes.
    edges = (torch.floor(cdf * 2**UNIFORM_BITS - 0.5) + 1).long()
    low = torch.arange(1 << GUIDE_BITS, dtype=torch.int64) << (UNIFORM_BITS - GUIDE_BITS)
    high = low + (1 << (UNIFORM_BITS - GUIDE_BITS)) - 1
    first = torch.searchsorted(edges, low.expand(256, -1).contiguous(), right=True)
    last = torch.searchsorted(edges, high.expand(256, -1).contiguous(), right=True)
    guide = torch.where(first == last, first, -1).to(torch.int16).flatten()
    flat_edges = (edges + (torch.arange(256)[:, None] << UNIFORM_BITS)).flatten()
    return guide, flat_edges, edges.shape[1]


def _poisson_by_inversion(levels: torch.Tensor, c: float, b: torch.Tensor) -> torch.Tensor:
    """Exact Poisson(c * levels / 255) draws by inverting the CDF at u = (b + 0.5) / 2^24, b the
    integers (int32) < 2^24: the k with P(X <= k - 1) < u <= P(X <= k), found by a guide-table
    lookup and, for the ~1 % of pixels whose bucket holds an edge, a binary search."""
    guide, flat_edges, width = _poisson_guide(float(c))
    guide, flat_edges = guide.to(levels.device), flat_edges.to(levels.device)
    lev, b = levels.to(torch.int32).flatten(), b.flatten()
    k = guide.index_select(0, (lev << GUIDE_BITS) + (b >> (UNIFORM_BITS - GUIDE_BITS)))
    todo = (k < 0).nonzero().squeeze(1)
    rows = lev[todo].long()
    found = torch.searchsorted(flat_edges, (rows << UNIFORM_BITS) + b[todo], right=True)
    k.index_copy_(0, todo, (found - rows * width).to(k.dtype))
    return k.view(levels.shape)


@register("shot_noise", "noise", [500, 250, 100, 75, 50])
def shot_noise(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    levels = (x * 255).round()
    if torch.equal(levels / 255, x):
        # An 8-bit image (what the builds feed) has only 256 rates: invert their CDFs, batched,
        # with counter-based uniforms (independent of batch size, order and device).
        b = rng.uniform_bits(*x.shape[1:], bits=UNIFORM_BITS)
        return _poisson_by_inversion(levels, c, b).to(x.dtype) / c
    # Any other input: one CPU generator per sample and torch.poisson (exact, but serial).
    rates = (x * c).cpu()
    counts = [torch.poisson(r, generator=g) for r, g in zip(rates, rng.generators(), strict=True)]
    return torch.stack(counts).to(x.device) / c


@register("impulse_noise", "noise", [0.01, 0.02, 0.03, 0.05, 0.07])
def impulse_noise(x: torch.Tensor, amount: float, rng: SampleRandom) -> torch.Tensor:
    # skimage's salt-and-pepper: each value flips with probability `amount`, half to 1, half to 0.
    # One uniform decides both: u < amount flips, and u < amount / 2 makes it salt.
    u = rng.uniform(*x.shape[1:])
    return torch.where(u < amount, (u < amount / 2).to(x.dtype), x)


@register("speckle_noise", "extra", [0.06, 0.10, 0.12, 0.16, 0.20], benchmark=False)
def speckle_noise(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return x + x * rng.normal(*x.shape[1:], std=sigma)


# --- blur -------------------------------------------------------------------------------------


def disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """The generator's anti-aliased disk: a 17x17 binary disk, normalised, then a 3x3 Gaussian."""
    coords = torch.arange(-8, 9, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).double()
    disk /= disk.sum()
    g = torch.exp(-(torch.arange(-1, 2, dtype=torch.float64) ** 2) / (2 * alias_blur**2))
    g /= g.sum()
    return ops.separable(disk[None, None], g, "mirror")[0, 0]


@register("defocus_blur", "blur", [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
          random=False)
def defocus_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    kernel = disk_kernel(*c)
    support = int(max(abs(i) for i in torch.nonzero(kernel.abs() > 1e-12).flatten() - 8))
    kernel = kernel[8 - support : 9 + support, 8 - support : 9 + support]
    return ops.correlate(x, kernel.float(), "mirror")


@register("glass_blur", "blur", [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)])
def glass_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    sigma, delta, iterations = c
    h, w = x.shape[-2:]
    x = ops.to_uint8_levels(ops.gaussian_filter(x, sigma))
    # One (dx, dy) per position, in the generator's order: rows bottom to top, columns right to
    # left, each in randint(-delta, delta), i.e. -1 or 0 for CIFAR's delta of 1.
    shifts = rng.integers(-delta, delta, iterations, h - 2 * delta, w - 2 * delta, 2)
    for it in range(iterations):
        x = glass_shuffle(x, shifts[:, it], delta)
    return ops.gaussian_filter(x, sigma)


def glass_shuffle(x: torch.Tensor, shifts: torch.Tensor, delta: int) -> torch.Tensor:
    """One pass of the generator's "swap" loop, as its code behaves on numpy views.

    `x[h, w], x[h', w'] = x[h', w'], x[h, w]` assigns a view of x[h, w] after x[h, w] has been
    overwritten, so it copies: x[h, w] takes its neighbour's pixel and the neighbour keeps its
    own (the published CIFAR-10-C was made so). With shifts in [-delta, delta) = {-1, 0} the
    neighbour lies above or left of (h, w), not yet visited in the bottom-to-top, right-to-left
    order, so the whole pass is one gather from the unchanged image.
    shifts: (N, H - 2 delta, W - 2 delta, 2) as (dx, dy), rows and columns in visiting order.
    """
    if delta != 1:  # positive shifts would read pixels the pass has already overwritten
        raise ValueError(f"glass blur's one-gather pass needs a maximum shift of 1, got {delta}")
    n, ch, h, w = x.shape
    rows = torch.arange(h - delta, delta, -1, device=x.device)[None, :, None]
    cols = torch.arange(w - delta, delta, -1, device=x.device)[None, None, :]
    source = torch.arange(h * w, device=x.device).repeat(n, 1)
    target = (rows * w + cols).expand(n, -1, -1)
    moved = (rows + shifts[..., 1]) * w + (cols + shifts[..., 0])
    source.scatter_(1, target.reshape(n, -1), moved.reshape(n, -1))
    index = source[:, None, :].expand(n, ch, h * w)
    return x.reshape(n, ch, h * w).gather(2, index).view(n, ch, h, w)


@register("motion_blur", "blur", [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)])
def motion_blur(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    angles = rng.uniform(1, low=-45.0, high=45.0).flatten()
    # ImageMagick hands the blurred image back as an 8-bit PNG: rounded to the nearest level.
    return torch.round(ops.motion_blur(x, c[0], c[1], angles) * 255) / 255


@register("zoom_blur", "blur", [1.06, 1.11, 1.16, 1.21, 1.26], random=False)
def zoom_blur(x: torch.Tensor, top: float, rng: SampleRandom) -> torch.Tensor:
    factors = np.arange(1, top, 0.01)  # exactly the generator's zoom factors, 1.00 upwards
    # One zoom at a time: a batched product over all of them writes a zooms-times larger
    # intermediate and is slower (memory-bound) on a CPU.
    out = x.clone()
    for z in factors:
        out += ops.clipped_zoom(x, float(z))
    return out / (len(factors) + 1)


@register("gaussian_blur", "extra", [0.4, 0.6, 0.7, 0.8, 1.0], benchmark=False, random=False)
def gaussian_blur(x: torch.Tensor, sigma: float, rng: SampleRandom) -> torch.Tensor:
    return ops.gaussian_filter(x, sigma)


# --- weather ----------------------------------------------------------------------------------


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
])
def snow(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    loc, scale, zoom, threshold, radius, sigma, blend = c
    h, w = x.shape[-2:]
    flakes = ops.clipped_zoom(rng.normal(1, h, w, mean=loc, std=scale), zoom)
    flakes = ops.to_uint8_levels(torch.where(flakes < threshold, 0.0, flakes))
    angles = rng.uniform(1, low=-135.0, high=-45.0).flatten()
    flakes = torch.round(ops.motion_blur(flakes, radius, sigma, angles) * 255) / 255
    x = blend * x + (1 - blend) * torch.maximum(x, ops.rgb_to_gray(x) * 1.5 + 0.5)
    return x + flakes + flakes.flip(-1, -2)


@register("frost", "weather", [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)])
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


@register("fog", "weather", [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)])
def fog(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    h, w = x.shape[-2:]
    size = _power_of_two(max(h, w))
    max_val = x.amax(dim=(1, 2, 3), keepdim=True)
    x = x + c[0] * plasma_fractal(rng, size, c[1])[:, None, :h, :w]
    return x * max_val / (max_val + c[0])


@register("brightness", "weather", [0.05, 0.1, 0.15, 0.2, 0.3], random=False)
def brightness(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    # HSV value + c with hue and saturation kept: every channel scales by V' / V (a black pixel,
    # saturation 0, becomes grey V'). The same as scikit-image's round trip, without it.
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + c).clamp(0, 1)
    return torch.where(v > 0, x * (v_new / v.clamp_min(1e-12)), v_new)


@register("spatter", "extra", [
    (0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0), (0.65, 0.3, 1, 0.69, 0.5, 0),
    (0.65, 0.1, 0.7, 0.69, 0.6, 1), (0.65, 0.1, 0.5, 0.68, 0.6, 1),
], benchmark=False)
def spatter(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    loc, scale, sigma, threshold, intensity, mud = c
    h, w = x.shape[-2:]
    liquid = ops.gaussian_filter(rng.normal(1, h, w, mean=loc, std=scale), sigma)
    liquid = torch.where(liquid < threshold, 0.0, liquid)
    if mud:
        m = ops.gaussian_filter((liquid > threshold).to(x.dtype), intensity)
        m = torch.where(m < 0.8, 0.0, m)
        colour = torch.tensor([63, 42, 20], device=x.device)[None, :, None, None] / 255.0
        return x * (1 - m) + colour * m
    # Water: the generator lightens where the drops are, by an embossed map of the distance to
    # their Canny edges, all computed on the liquid layer cast to uint8.
    levels, ripple = water_ripple(liquid)
    m = levels * ripple
    m = m / m.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) * intensity
    colour = torch.tensor([175, 238, 238], device=x.device)[None, :, None, None] / 255.0
    return x + m * colour


def water_ripple(liquid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's OpenCV chain on the liquid layer (N, 1, H, W) >= 0, operation for
    operation: (the layer as uint8 levels, the ripple map), both float32 integers.

    uint8 cast -> Canny(50, 150) -> distanceTransform(L2, 5) of the non-edges -> truncate at 20
    -> 3x3 mean (float) -> uint8 -> equalizeHist -> emboss filter2D (uint8, saturating) -> 3x3
    mean (uint8, rounding).
    """
    # numpy's float -> uint8 cast truncates and, past 255, wraps around (x86): about one image
    # in six at severity 3 has drops above 1.0 whose centres turn dark.
    levels = torch.floor(liquid * 255).remainder(256)
    dist = edges.chamfer_distance(edges.canny(levels, 50, 150), 20.0)
    # cv2.blur sums float32 in double and rounds the mean to float32; astype(uint8) truncates.
    dist = torch.floor(ops.box_sum3(dist.double()).div(9).float())
    dist = ops.equalize_hist(dist)
    emboss = torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]])
    dist = ops.correlate(dist, emboss, "mirror").clamp(0, 255)  # integer sums, exact in float32
    return levels, torch.round(ops.box_sum3(dist) / 9)  # never halfway: 9 is odd


# --- digital ----------------------------------------------------------------------------------


@register("contrast", "digital", [0.75, 0.5, 0.4, 0.3, 0.15], random=False)
def contrast(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    # The generator's mean is over height and width, per channel.
    means = x.mean(dim=(2, 3), keepdim=True)
    return (x - means) * c + means


@register("elastic_transform", "digital", [
    (0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03),
])
def elastic_transform(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    n, _, h, w = x.shape
    alpha, sigma, affine = (v * min(h, w) for v in c)  # parameters are fractions of the side
    # A random affine map moving three points around the centre (OpenCV getAffineTransform +
    # warpAffine, reflect-101 borders), sampled through its inverse.
    centre, side = torch.tensor([w // 2, h // 2], dtype=torch.float64), min(h, w) // 3
    src = torch.stack([centre + side, centre + torch.tensor([side, -side]), centre - side])
    dst = src + rng.uniform(3, 2, low=-affine, high=affine).double().cpu()
    ones = torch.ones(3, 1, dtype=torch.float64)
    forward = torch.linalg.solve(torch.cat([src, ones], 1)[None], dst)  # (N, 3, 2)
    matrix = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    matrix[:, :2, :] = forward.transpose(1, 2)
    inverse = torch.linalg.inv(matrix).to(x.device, x.dtype)
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                            torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
    a = inverse[:, :2, :, None, None]  # (N, 2, 3, 1, 1): rows of the inverse map
    src_x = a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2]
    src_y = a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2]
    x = ops.sample_bilinear(x, src_y, src_x, "mirror")
    # A smooth random displacement field (scipy map_coordinates, order 1, mode 'reflect').
    field = rng.uniform(2, h, w, low=-1.0, high=1.0)
    field = ops.gaussian_filter(field, sigma, mode="reflect", truncate=3.0) * alpha
    return ops.sample_bilinear(x, ys + field[:, 1], xs + field[:, 0], "reflect")


@register("pixelate", "digital", [0.95, 0.9, 0.85, 0.75, 0.65], random=False)
def pixelate(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    h, w = x.shape[-2:]
    return ops.box_resize(ops.box_resize(x, int(h * c), int(w * c)), h, w)


@register("jpeg_compression", "digital", [80, 65, 58, 50, 40], random=False)
def jpeg_compression(x: torch.Tensor, quality: int, rng: SampleRandom) -> torch.Tensor:
    # torchvision's libjpeg round trip on the CPU, the same codec family as the generator's PIL.
    images = (x * 255).round().to(torch.uint8).cpu()
    return TF.jpeg(images, quality=quality).to(x.device).float() / 255.0


@register("saturate", "extra", [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)], benchmark=False,
          random=False)
def saturate(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    # HSV saturation S -> S' with hue and value kept: channel -> V - (V - channel) S' / S. A grey
    # pixel has hue 0 (red) in scikit-image, so it becomes (V, V (1 - S'), V (1 - S')).
    v = x.amax(dim=1, keepdim=True)
    delta = v - x.amin(dim=1, keepdim=True)
    sat = torch.where(v > 0, delta / v.clamp_min(1e-12), 0.0)
    sat_new = (sat * c[0] + c[1]).clamp(0, 1)
    coloured = v - (v - x) * (sat_new / sat.clamp_min(1e-12))
    grey = torch.cat([v, v * (1 - sat_new), v * (1 - sat_new)], dim=1)
    return torch.where(delta > 0, coloured, grey)


def quantize_like_benchmark(x: torch.Tensor) -> torch.Tensor:
    """What the model sees: 8-bit levels, truncated as the generator's stored files are."""
    return ops.to_uint8_levels(x)
