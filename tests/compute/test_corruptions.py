"""The corruption suite: shapes and ranges, per-sample determinism, and severity ordering, on real
images (the shared CIFAR-10 test images when present, the bundled digits otherwise)."""

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compute.corruptions import CORRUPTIONS, FAMILIES, quantize_like_benchmark, select, suite
from compute.corruptions.blur import glass_shuffle
from compute.corruptions.noise import _poisson_by_inversion, _poisson_cdf
from compute.corruptions.registry import register
from compute.errors import UserError

SEVERITIES = (1, 2, 3, 4, 5)

# Where the benchmark's own parameters do not make the mean absolute change grow with severity:
# the pairs (a, b) of severities whose order they do fix, change[b] > change[a]
# (docs/corruptions.md has the numbers).
NOT_MONOTONE = {
    # The global affine jitter shrinks (0.08 -> 0.03 of the side) while the local warp grows;
    # the jitter dominates the pixel change, so the change *falls* with severity (a CNN shrugs
    # off the shift, not the warp: accuracy still falls).
    "elastic_transform": [(3, 1), (5, 3)],
    # Severities 1-2 desaturate, 3-5 oversaturate.
    "saturate": [(1, 2), (3, 4), (4, 5)],
    # More blur smooths the swapped pixels back: the second iteration is what adds change.
    "glass_blur": [(2, 4), (3, 5)],
    # Severities 3 and 4 share sigma 2 and differ only in taps weighing under 1%: the random
    # angles decide which of the two changes more.
    "motion_blur": [(1, 2), (2, 3), (2, 4), (4, 5)],
    # Severities 1-3 are water drops, 4-5 mud: each kind grows, but mud changes less than the
    # heaviest water.
    "spatter": [(1, 2), (2, 3), (4, 5)],
    # Severities 3 and 4 add the same frost (0.4) to an image scaled 0.9 and 0.85: the crops
    # drawn decide which of the two moves further from the clean image.
    "frost": [(1, 2), (2, 3), (2, 4), (3, 5), (4, 5)],
}


def test_the_docs_table_is_the_registry():
    """docs/corruptions.md's table is written from the registry, not by hand (a stale one fails
    here with the command that rewrites it)."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, str(root / "scripts" / "corruption_table.py"),
                             "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_registering_a_name_twice_or_a_new_corruption_into_the_benchmark_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register("fog", "weather", [1, 2, 3, 4, 5], benchmark=False, reference=None)(lambda *a: a)
    with pytest.raises(ValueError, match="benchmark=False"):
        register("mine", "extra", [1, 2, 3, 4, 5], reference=None)(lambda *a: a)
    assert "mine" not in CORRUPTIONS


def test_the_suite_holds_the_benchmark():
    """The benchmark's 15 (what mCE averages over) are exactly CIFAR-10-C's, in its order; its 4
    held-out extras are there; a corruption added beside them is an extra, not the benchmark."""
    names = [c.name for c in suite()]
    assert len(set(names)) == len(names)
    assert [c.name for c in suite() if c.benchmark] == [
        "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
        "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
        "elastic_transform", "pixelate", "jpeg_compression"]
    assert {"speckle_noise", "gaussian_blur", "spatter", "saturate"} <= {
        c.name for c in suite() if not c.benchmark}
    assert {c.family for c in suite()} == set(FAMILIES)
    assert [c.name for c in select(["blur", "contrast", "defocus_blur"])] == [
        "defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "contrast"]
    assert select("all") == suite()
    with pytest.raises(UserError, match="unknown corruption 'fgo'"):
        select(["fgo"])


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_shape_range_and_change_at_every_severity(images, name):
    corruption = CORRUPTIONS[name]
    ids = torch.arange(len(images))
    for severity in SEVERITIES:
        out = corruption(images, severity, ids)
        assert out.shape == images.shape and out.dtype == images.dtype
        assert out.device == images.device
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        seen = quantize_like_benchmark(out)
        if name == "saturate" and is_grey(images) and corruption.params[severity - 1][1] == 0:
            # Scaling a saturation of 0 leaves grey images grey (the digits fallback is grey).
            assert torch.equal(seen, images)
        else:
            assert (seen - images).abs().mean() > 1e-4, f"{name}-{severity} left the images unchanged"


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_samples_image_does_not_depend_on_its_batch(images, name):
    corruption = CORRUPTIONS[name]
    ids = torch.arange(100, 100 + len(images))  # sample ids, not positions in the batch
    severity = 3
    whole = quantize_like_benchmark(corruption(images, severity, ids))
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    shuffled = quantize_like_benchmark(corruption(images[perm], severity, ids[perm]))
    assert torch.equal(shuffled, whole[perm])
    for i in (0, 17, 63):  # batch size 1
        alone = quantize_like_benchmark(corruption(images[i : i + 1], severity, ids[i : i + 1]))
        assert torch.equal(alone[0], whole[i])
    # A different sample id is a different draw (for the random corruptions).
    moved = quantize_like_benchmark(corruption(images, severity, ids + 1))
    assert torch.equal(moved, whole) != corruption.random


def is_grey(images: torch.Tensor) -> bool:
    return bool((images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all())


def mean_absolute_change(out: torch.Tensor, clean: torch.Tensor) -> float:
    return (out - clean).abs().mean().item()


def decorrelation(out: torch.Tensor, clean: torch.Tensor) -> float:
    """1 - Pearson correlation with the clean image, averaged over images: blind to a rescaling."""
    a = out.flatten(1) - out.flatten(1).mean(1, keepdim=True)
    b = clean.flatten(1) - clean.flatten(1).mean(1, keepdim=True)
    return (1 - (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).mean().item()


# Frost scales the image down (1 -> 0.75) as it adds more texture (0.2 -> 0.45), so the mean
# change partly cancels; what the severities order is the texture-to-image ratio, which the
# correlation with the clean image measures.
MEASURES = {"frost": decorrelation}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_change_grows_with_severity(images, name):
    corruption = CORRUPTIONS[name]
    ids = torch.arange(len(images))
    measure = MEASURES.get(name, mean_absolute_change)
    change = {s: measure(quantize_like_benchmark(corruption(images, s, ids)), images)
              for s in SEVERITIES}
    pairs = NOT_MONOTONE.get(name, list(itertools.pairwise(SEVERITIES)))
    if name == "saturate" and is_grey(images):
        pairs = [(3, 4), (4, 5)]  # only the added saturation (0.1, 0.2) moves a grey image
    for low, high in pairs:
        assert change[high] > change[low], (name, change)


@pytest.mark.parametrize("c", [500, 250, 100, 75, 50])
def test_shot_noise_inverts_the_poisson_cdf_exactly(c):
    """Every draw k satisfies P(X <= k - 1) < u <= P(X <= k) for its own rate, u = (b + 0.5) / 2^24
    (exact in float64), including the extreme b, and the draws have the Poisson mean and variance."""
    gen = torch.Generator().manual_seed(c)
    levels = torch.randint(0, 256, (200_000,), generator=gen).float()
    b = torch.randint(0, 2**24, (200_000,), generator=gen, dtype=torch.int32)
    b[:512] = torch.tensor([0, 1, 2**24 - 2, 2**24 - 1], dtype=torch.int32).repeat(128)
    k = _poisson_by_inversion(levels, c, b).long()
    table = _poisson_cdf(float(c))
    u = (b.double() + 0.5) / 2**24
    below, at = table[levels.long(), k], table[levels.long(), k + 1]
    assert ((u > below) & (u <= at)).all()
    assert (k[levels == 0] == 0).all()
    k, lam = k[512:], levels[512:].double() * c / 255  # the uniformly drawn part
    assert abs(float((k - lam).mean())) < 0.1
    assert float(((k - lam) ** 2).mean() / lam.mean()) == pytest.approx(1.0, abs=0.02)


def test_shot_noise_off_the_8_bit_grid_still_works():
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = CORRUPTIONS["shot_noise"](x, 3, torch.arange(4))
    assert y.shape == x.shape and not torch.equal(x, y) and (y >= 0).all() and (y <= 1).all()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 4), h=st.integers(3, 12), w=st.integers(3, 12), seed=st.integers(0, 2**31))
def test_glass_blur_copies_as_the_generators_swap_statement_does(n, h, w, seed):
    """One batched gather is the generator's loop over positions, its tuple "swap" run on numpy
    views (which copies), on any image size."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, h, w), generator=gen, dtype=torch.uint8)
    shifts = torch.randint(-1, 1, (n, h - 2, w - 2, 2), generator=gen)
    expected = x.permute(0, 2, 3, 1).numpy().copy()
    for i, image in enumerate(expected):
        for r, hh in enumerate(range(h - 1, 1, -1)):
            for c, ww in enumerate(range(w - 1, 1, -1)):
                dx, dy = shifts[i, r, c].tolist()
                image[hh, ww], image[hh + dy, ww + dx] = image[hh + dy, ww + dx], image[hh, ww]
    assert np.array_equal(glass_shuffle(x, shifts, 1).permute(0, 2, 3, 1).numpy(), expected)
