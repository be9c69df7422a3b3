"""The official CIFAR-10-C layout, read instead of generating corruptions when a config points at it.

`<root>/<corruption>.npy` holds (5 n, H, W, 3) uint8 images, severities 1..5 stacked in blocks of n
in test-set order, and `<root>/labels.npy` the n labels repeated five times. Files are
memory-mapped: only the batches being evaluated are read.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from compute.errors import UserError


def _load(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"CIFAR-10-C file {path} is missing")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive under a .npy name
        raise UserError(f"{path} is not a readable .npy array (it is an archive of arrays)")
    return array


class OfficialCorruptions:
    """Corrupted images from the official files, checked against the clean test set."""

    def __init__(self, root: str | Path, names: Sequence[str], labels: torch.Tensor,
                 image_shape: tuple[int, int, int]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"CIFAR-10-C folder {self.root} does not exist ([conditions] cifar10c)")
        n = len(labels)
        c, h, w = image_shape
        stored = _load(self.root / "labels.npy")
        if stored.shape != (5 * n,) or not np.issubdtype(stored.dtype, np.integer):
            raise UserError(
                f"{self.root / 'labels.npy'} has shape {stored.shape} and dtype {stored.dtype}; "
                f"expected ({5 * n},) integers: 5 severities x {n} test samples"
            )
        expected = labels.numpy()
        for block in range(5):
            got = np.asarray(stored[block * n : (block + 1) * n])
            if not np.array_equal(got, expected):
                i = int(np.flatnonzero(got != expected)[0])
                raise UserError(
                    f"{self.root / 'labels.npy'} does not match the clean test labels (severity "
                    f"{block + 1}, sample {i}: file {got[i]}, data set {expected[i]}); the official "
                    "files are in CIFAR-10 test-set order, so the data source must be too"
                )
        self.arrays: dict[str, np.ndarray] = {}
        for name in names:
            path = self.root / f"{name}.npy"
            array = _load(path)
            if array.dtype != np.uint8:
                raise UserError(f"{path} has dtype {array.dtype}; CIFAR-10-C images are uint8")
            if array.shape != (5 * n, h, w, c):
                raise UserError(
                    f"{path} has shape {array.shape}; expected {(5 * n, h, w, c)} "
                    f"(5 severities x {n} test images of {h}x{w}x{c})"
                )
            self.arrays[name] = array
        self.n = n

    def images(self, name: str, severity: int, sample_ids: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) images of the given samples at one severity."""
        rows = (severity - 1) * self.n + sample_ids.numpy()
        return torch.from_numpy(np.ascontiguousarray(self.arrays[name][rows])).permute(0, 3, 1, 2)
