"""Data sources, by name: each returns uint8 images (N, 3, H, W), labels and where each came from."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from compute.errors import UserError


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    sources: list[str]  # file path or dataset index of each image

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class DataSplits:
    name: str
    classes: list[str]
    train: ImageSet | None  # None when the config only evaluates given checkpoints
    test: ImageSet
    skipped: list[str] = field(default_factory=list)  # unreadable images left out


DATASETS: dict[str, Callable[..., DataSplits]] = {}


def register(name: str) -> Callable:
    def wrap(fn: Callable[..., DataSplits]) -> Callable[..., DataSplits]:
        DATASETS[name] = fn
        return fn

    return wrap


def list_datasets() -> list[str]:
    """The registered data sources' names."""
    return sorted(DATASETS)


def load_data(source: str, **options: object) -> DataSplits:
    if source not in DATASETS:
        known = ", ".join(list_datasets())
        raise UserError(f"unknown data source '{source}' (known: {known})")
    return DATASETS[source](**options)


@register("digits")
def digits(test_fraction: float = 0.25, seed: int = 0, size: int = 32) -> DataSplits:
    """scikit-learn's bundled 1,797 handwritten digits, upsampled from 8x8 to size x size RGB.

    Upsampling keeps one set of architectures and corruption parameters for digits and CIFAR-10.
    The split is stratified and fixed by `seed`.
    """
    # A stratified split needs a sample of every class on both sides: 10 of the 1,797 digits.
    held_out = math.ceil(test_fraction * 1797) if 0 < test_fraction < 1 else 0
    if not 10 <= held_out <= 1787:
        raise UserError(f"'test_fraction' in [data] must hold out between 10 and 1,787 of the "
                        f"1,797 digits (0.006 to 0.994), got {test_fraction}")
    if size < 8:
        raise UserError(f"'size' in [data] must be at least 8 (the digits' own 8x8), got {size}")
    if not 0 <= seed < 2**32:  # what scikit-learn's split takes as a random_state
        raise UserError(f"'seed' in [data] must be between 0 and 4,294,967,295, got {seed}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float()[:, None] / 16.0
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(bunch.target).long()
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        index, test_size=test_fraction, random_state=seed, stratify=bunch.target
    )

    def subset(idx: np.ndarray) -> ImageSet:
        idx = np.sort(idx)
        sources = [f"sklearn.datasets.load_digits[{i}]" for i in idx]
        return ImageSet(images[idx], labels[idx], sources)

    classes = [str(d) for d in range(10)]
    return DataSplits("digits", classes, subset(train_idx), subset(test_idx))


def _read_folder(root: Path, classes: list[str] | None = None,
                 skip_unreadable: bool = False) -> tuple[list[str], ImageSet, list[str]]:
    """An ImageFolder tree (root/<class>/<image>): classes sorted by name, as torchvision does.
    Also returns the images skipped as unreadable (only with `skip_unreadable`; otherwise the
    first unreadable image is an error naming it)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist (set [data] root or --data-root)")
    found, class_to_idx = find_classes(str(root))
    if classes is not None and found != classes:
        raise UserError(f"{root} has classes {found}, expected {classes} as in the other split")
    try:
        items = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as exc:  # torchvision's word for a class folder without images
        raise UserError(f"image folder {root} holds no images for a class ({exc})") from None
    if not items:
        raise UserError(f"image folder {root} holds no images")
    arrays, kept, skipped = [], [], []
    # As a context manager, so that an error clears the bar and leaves one line on the terminal.
    with tqdm(items, desc=f"reading {root.name}", unit="img", leave=False) as bar:
        for path, label in bar:
            try:
                with Image.open(path) as img:
                    arrays.append(np.asarray(img.convert("RGB")))
                kept.append((path, label))
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                if not skip_unreadable:
                    reason = ("not an image PIL can decode" if isinstance(exc, UnidentifiedImageError)
                              else str(exc))
                    raise UserError(f"cannot read image {path} ({reason}); replace or remove it, or "
                                    "set skip_unreadable = true in [data] to leave such images "
                                    "out") from None
                skipped.append(str(path))
    items = kept
    if not items:
        raise UserError(f"image folder {root} holds no readable images")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise UserError(f"images in {root} differ in size ({sorted(shapes)[:3]}...); resize them")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for _, label in items], dtype=torch.long)
    sources = [str(Path(path).relative_to(root.parent)) for path, _ in items]
    return found, ImageSet(images, labels, sources), skipped


@register("imagefolder")
def imagefolder(root: str, test: str = "test", train: str | None = None,
                name: str | None = None, skip_unreadable: bool = False) -> DataSplits:
    """ImageFolder trees under `root`: `test` is evaluated, `train` (optional) trains models.
    `name` names the data set in the store (default: the test folder's first part, e.g.
    "cifar10" for test = "cifar10/test", or the root's name); `skip_unreadable` leaves out
    images that cannot be decoded (listed in the store's meta) instead of stopping."""
    base = Path(root)
    classes, test_set, skipped = _read_folder(base / test, skip_unreadable=skip_unreadable)
    train_set = None
    if train:
        _, train_set, more = _read_folder(base / train, classes, skip_unreadable)
        skipped += more
    parts = Path(test).parts
    label = name or (parts[0] if len(parts) > 1 else base.resolve().name)
    return DataSplits(label, classes, train_set, test_set, skipped)


@register("cifar10")
def cifar10(root: str, download: bool = False) -> DataSplits:
    """torchvision's CIFAR-10 (the python pickles), in the official order: the order the
    CIFAR-10-C files follow. `download = true` fetches it where the network allows."""
    from torchvision.datasets import CIFAR10

    def split(train: bool) -> ImageSet:
        try:
            data = CIFAR10(root, train=train, download=download)
        except RuntimeError as exc:
            raise UserError(f"CIFAR-10 is not in {root} ({exc}); set download = true in [data] "
                            "to fetch it, or use an imagefolder copy") from None
        images = torch.from_numpy(data.data).permute(0, 3, 1, 2).contiguous()
        name = "train" if train else "test"
        sources = [f"torchvision CIFAR10 {name}[{i}]" for i in range(len(images))]
        return ImageSet(images, torch.tensor(data.targets, dtype=torch.long), sources)

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
    test = split(train=False)
    return DataSplits("cifar10", classes, split(train=True), test)


def png_bytes(image: torch.Tensor) -> bytes:
    """One (3, H, W) uint8 image as PNG, the thumbnail format the app shows without torch."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).cpu().numpy()).save(buffer, format="PNG")
    return buffer.getvalue()
