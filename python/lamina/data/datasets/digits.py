"""The UCI optical handwritten digits (1,797 8x8 images of 0..9, pixel counts 0..16), bundled with
lamina as digits.csv.gz (CC BY 4.0, E. Alpaydin and C. Kaynak; see DIGITS_LICENSE.md).
"""
from __future__ import annotations

import gzip
import math
import os
from typing import Callable

import numpy as np

from ._base import ImageClassificationArrays

_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.csv.gz")
_CACHE: dict = {}


def load_digits(flatten: bool = False) -> tuple:
    """The whole data set as numpy: ``(images, labels)``.

    images: uint8 (1797, 8, 8) (or (1797, 64) with ``flatten``), values 0..16 (counts of set pixels
    in 4x4 blocks of the original 32x32 bitmaps); labels: int64 (1797,), digits 0..9.
    """
    if "arrays" not in _CACHE:
        if not os.path.exists(_FILE):
            raise FileNotFoundError(f"the bundled digits data is missing: {_FILE} (reinstall lamina)")
        with gzip.open(_FILE, "rt") as f:
            raw = np.loadtxt(f, delimiter=",", dtype=np.int64)
        if raw.shape != (1797, 65):
            raise ValueError(f"{_FILE}: expected 1797 rows of 65 values, found shape {raw.shape}")
        images = raw[:, :64].astype(np.uint8).reshape(-1, 8, 8)
        labels = raw[:, 64].astype(np.int64)
        images.flags.writeable = False
        labels.flags.writeable = False
        _CACHE["arrays"] = (images, labels)
    images, labels = _CACHE["arrays"]
    return (images.reshape(len(images), 64) if flatten else images), labels


def stratified_split(labels: np.ndarray, test_size, seed: int = 0) -> tuple:
    """(train_idx, test_idx), sorted int64 arrays: each class split in proportion, with a fixed
    seeded shuffle. ``test_size`` is a fraction in (0, 1) or a count."""
    n = len(labels)
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1) as a fraction, got {test_size}")
        n_test = int(math.ceil(test_size * n))
    else:
        n_test = int(test_size)
        if not 0 < n_test < n:
            raise ValueError(f"test_size must be between 1 and {n - 1} as a count, got {test_size}")
    classes, counts = np.unique(labels, return_counts=True)
    # Largest remainder: per-class shares that add up to exactly n_test.
    exact = counts * (n_test / n)
    take = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[:n_test - int(take.sum())]] += 1
    rng = np.random.Generator(np.random.Philox(seed))
    test = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(labels == c)
        test.append(idx[rng.permutation(len(idx))[:k]])
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    mask = np.ones(n, dtype=bool)
    mask[test_idx] = False
    return np.flatnonzero(mask).astype(np.int64), test_idx


class Digits(ImageClassificationArrays):
    """The bundled UCI handwritten digits as a dataset of ``(image, label)``.

    image: float32 tensor (1, 8, 8) scaled to [0, 1] (pixel / 16), or (64,) with ``flatten``;
    label: int 0..9. ``train=True`` / ``False`` picks one side of a fixed stratified split
    (``test_size`` a fraction or count, default 0.2 -> 1,437 train / 360 test, shuffled with
    ``seed``); ``train=None`` gives all 1,797 samples. No network access is ever needed.
    """

    def __init__(self, train: bool | None = True, test_size=0.2, seed: int = 0,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 flatten: bool = False) -> None:
        images, labels = load_digits()
        if train is None:
            idx = np.arange(len(labels))
        else:
            tr, te = stratified_split(labels, test_size, seed)
            idx = tr if train else te
        self.indices = idx
        super().__init__(images[idx], labels[idx], 16.0, transform, target_transform, flatten)
