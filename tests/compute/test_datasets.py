"""Data sources: the digits split, ImageFolder trees, torchvision's CIFAR-10, and their errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from compute.datasets import list_datasets, load_data
from compute.errors import UserError


def test_the_registry_lists_every_source_and_refuses_others():
    assert list_datasets() == ["cifar10", "digits", "imagefolder"]
    known = r"unknown data source 'mnist' \(known: cifar10, digits, imagefolder\)"
    with pytest.raises(UserError, match=known):
        load_data("mnist")


def test_digits_are_a_fixed_stratified_split_of_real_images():
    data = load_data("digits")
    assert (len(data.train), len(data.test)) == (1347, 450)
    assert data.test.images.shape == (450, 3, 32, 32) and data.test.images.dtype == torch.uint8
    counts = torch.bincount(data.test.labels, minlength=10)
    totals = counts + torch.bincount(data.train.labels, minlength=10)
    assert ((counts - 0.25 * totals).abs() <= 1).all()  # stratified: a quarter of every class
    again = load_data("digits")
    assert torch.equal(again.test.images, data.test.images)
    assert set(data.train.sources).isdisjoint(data.test.sources)


def write_folder(root, sizes):
    for i, (cls, size) in enumerate(sizes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((size, size, 3), i * 40, np.uint8)).save(root / cls / f"{i}.png")


def test_imagefolder_reads_classes_in_name_order(tmp_path):
    write_folder(tmp_path / "data" / "test", [("cat", 32), ("ant", 32), ("cat", 32)])
    data = load_data("imagefolder", root=str(tmp_path / "data"), test="test")
    assert data.classes == ["ant", "cat"]
    assert data.test.labels.tolist() == [0, 1, 1]
    assert data.test.sources[0].endswith("ant/1.png")


@pytest.mark.parametrize("case,words", [
    ("missing", "does not exist"), ("mixed sizes", "differ in size"), ("empty", "holds no images"),
])
def test_imagefolder_errors(tmp_path, case, words):
    root = tmp_path / "data"
    if case == "mixed sizes":
        write_folder(root / "test", [("a", 32), ("b", 28)])
    elif case == "empty":
        (root / "test" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match=words):
        load_data("imagefolder", root=str(root), test="test")


def test_missing_torchvision_cifar10_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match="set download = true"):
        load_data("cifar10", root=str(tmp_path))


def test_unknown_source():
    with pytest.raises(UserError, match="unknown data source 'mnist'"):
        load_data("mnist")
