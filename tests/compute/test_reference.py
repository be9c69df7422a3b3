"""The batched torch suite against the generator's code path (benchmarks/reference_corruptions.py),
on real images: the deterministic corruptions within one 8-bit level, the random ones alike in
how they change the images, and the OpenCV pieces of spatter and frost pixel for pixel."""

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from benchmarks.reference_corruptions import REFERENCE, corrupt, reproduced
from compute.corruptions import CORRUPTIONS, edges, quantize_like_benchmark
from compute.corruptions import imageops as ops
from compute.corruptions.extra import water_ripple
from compute.corruptions.weather import frost_photo_paths, frost_photos

DETERMINISTIC = [c.name for c in reproduced() if not c.random]
RANDOM = [c.name for c in reproduced() if c.random]
EXACT = {"pixelate", "jpeg_compression"}  # PIL on both sides: bit for bit


def torch_uint8(images, name, severity, offset=0):
    ids = torch.arange(len(images)) + offset
    out = quantize_like_benchmark(CORRUPTIONS[name](images, severity, ids))
    return (out * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def reference_uint8(images, name, severity, offset=0):
    as_uint8 = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return np.stack([corrupt(im, name, severity, seed=offset + i) for i, im in enumerate(as_uint8)])


def test_the_reference_re_runs_exactly_the_corruptions_that_name_it():
    """Each corruption registered with the generator as its reference has its function here, and
    nothing else does: a corruption of this project's own (reference=None) needs none."""
    assert set(REFERENCE) == {c.name for c in reproduced()}
    assert {c.name for c in CORRUPTIONS.values() if c.benchmark} <= set(REFERENCE)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_corruptions_are_within_one_level_of_the_generator(images, name):
    for severity in range(1, 6):
        diff = np.abs(torch_uint8(images, name, severity).astype(int)
                      - reference_uint8(images, name, severity).astype(int))
        # float32 here, float64 there: a value on a level boundary may truncate the other way.
        assert diff.max() <= (0 if name in EXACT else 1), (name, severity)


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_change_images_as_the_generator_does(images, name):
    """Per image and draw: the mean and the spread of (corrupted - clean) in 8-bit levels. Over
    2 draws x 64 images a side, the two sides agree within 4 standard errors of their difference
    (the draws are fixed, so this passes or fails the same way on every run) and 2 %."""
    clean = (images * 255).round().permute(0, 2, 3, 1).numpy().reshape(len(images), -1)

    def per_image(draws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        change = np.concatenate([d.reshape(len(images), -1) - clean for d in draws])
        return change.mean(1), change.std(1)

    for severity in range(1, 6):
        ours = per_image([torch_uint8(images, name, severity, 1000 * d) for d in range(2)])
        ref = per_image([reference_uint8(images, name, severity, 1000 * d) for d in range(2)])
        for what, a, b in zip(("mean", "spread"), ours, ref, strict=True):
            error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            assert abs(a.mean() - b.mean()) <= 4 * error + 0.02 * abs(b.mean()) + 0.3, (
                name, severity, what, a.mean(), b.mean(), error)


# --- spatter's OpenCV chain, pixel for pixel ---------------------------------------------------


def liquid_layers(n: int, severity: int, seed: int) -> np.ndarray:
    """Spatter's water layers as the generator makes them (float64, thresholded)."""
    loc, scale, sigma, threshold = CORRUPTIONS["spatter"].params[severity - 1][:4]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        layer = ndimage.gaussian_filter(rng.normal(loc, scale, (32, 32)), sigma, mode="nearest")
        layer[layer < threshold] = 0
        out.append(layer)
    return np.stack(out)


def opencv_ripple(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    levels = (layer * 255).astype(np.uint8)
    found = cv2.Canny(levels, 50, 150)
    dist = cv2.distanceTransform(255 - found, cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    return levels, found > 0, cv2.blur(dist, (3, 3)).astype(np.float32)


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_spatter_water_is_opencvs_chain_bit_for_bit(severity):
    layers = liquid_layers(400, severity, seed=severity)
    expected = [opencv_ripple(layer) for layer in layers]
    levels, ripple = water_ripple(torch.from_numpy(layers)[:, None])
    assert np.array_equal(levels[:, 0].numpy(), np.stack([e[0] for e in expected]))
    found = edges.canny(levels, 50, 150)[:, 0].numpy()
    assert np.array_equal(found, np.stack([e[1] for e in expected]))
    assert np.array_equal(ripple[:, 0].numpy(), np.stack([e[2] for e in expected]))
    if severity == 3:  # drops above 1.0 wrap around in the uint8 cast, as numpy's does
        assert (layers * 255 >= 256).any()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), h=st.integers(3, 40), w=st.integers(3, 40),
       blur=st.floats(0, 3))
def test_canny_is_opencvs_on_any_image(seed, h, w, blur):
    image = np.random.default_rng(seed).integers(0, 256, (h, w)).astype(np.float64)
    image = ndimage.gaussian_filter(image, blur).astype(np.uint8)
    ours = edges.canny(torch.from_numpy(image)[None, None], 50, 150)[0, 0].numpy()
    assert np.array_equal(ours, cv2.Canny(image, 50, 150) > 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), h=st.integers(3, 40), w=st.integers(3, 40),
       density=st.floats(0, 0.2))
def test_chamfer_distance_is_opencvs_to_the_last_float_bit(seed, h, w, density):
    found = np.random.default_rng(seed).random((h, w)) < density
    expected = cv2.distanceTransform((255 - 255 * found).astype(np.uint8), cv2.DIST_L2, 5)
    expected = np.minimum(expected, 20)  # the generator truncates at 20 (no edge: FLT_MAX -> 20)
    ours = edges.chamfer_distance(torch.from_numpy(found)[None, None], 20.0)[0, 0].numpy()
    # Equally short paths summed in another order may differ in the last float32 bit.
    assert np.allclose(ours, expected, rtol=0, atol=4e-6)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), levels=st.integers(1, 256), size=st.integers(1, 40))
def test_equalize_hist_is_opencvs(seed, levels, size):
    image = np.random.default_rng(seed).integers(0, levels, (size, size)).astype(np.uint8)
    ours = ops.equalize_hist(torch.from_numpy(image).float()[None, None])[0, 0].numpy()
    assert np.array_equal(ours, cv2.equalizeHist(image))


def test_spatter_marks_as_many_edges_as_the_generator():
    """The edge fraction that shapes the drops: OpenCV marks about 9 / 15 / 26 % at s1-s3."""
    for severity, expected in ((1, 0.093), (2, 0.150), (3, 0.258)):
        layers = liquid_layers(300, severity, seed=10 + severity)
        fraction = edges.canny(torch.floor(torch.from_numpy(layers)[:, None] * 255) % 256,
                               50, 150).float().mean().item()
        assert abs(fraction - expected) < 0.015, (severity, fraction)


# --- frost's photographs ------------------------------------------------------------------------


def test_frost_uses_the_generators_photographs_scaled_as_opencv_scales_them():
    photos, sizes = frost_photos(torch.device("cpu"))
    paths = frost_photo_paths()
    assert [p.name for p in paths] == [f"frost{i}.{'png' if i <= 3 else 'jpg'}" for i in range(1, 6)]
    for photo, (h, w), path in zip(photos, sizes.tolist(), paths, strict=True):
        expected = cv2.resize(cv2.imread(str(path)), (0, 0), fx=0.2, fy=0.2)[..., ::-1]
        assert np.array_equal(photo[:, :h, :w].permute(1, 2, 0).numpy(), expected), path.name


def test_frost_crops_look_like_the_generators():
    """Mean colour, contrast within a crop and spread between crops of the frost layer alone."""
    black = torch.zeros(400, 3, 32, 32)
    ours = torch.from_numpy(torch_uint8(black, "frost", 1)).float()  # 0.2 * crop, 0..255
    ref = torch.from_numpy(reference_uint8(black, "frost", 1)).float()
    assert torch.allclose(ours.mean((0, 1, 2)), ref.mean((0, 1, 2)), atol=2.0)  # colour
    assert abs(ours.std((1, 2)).mean() - ref.std((1, 2)).mean()) < 0.6  # within a crop
    assert abs(ours.mean((1, 2, 3)).std() - ref.mean((1, 2, 3)).std()) < 1.0  # between crops
