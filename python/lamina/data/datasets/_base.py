"""The shared body of the bundled image-classification datasets: uint8 images in memory, samples
as float32 tensors scaled to [0, 1], and a one-gather batch path for ``DataLoader``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...ops.creation import from_numpy
from ..dataset import Dataset


class ImageClassificationArrays(Dataset):
    """Samples ``(image, label)``: image a float32 tensor (1, H, W) in [0, 1] (or (H*W,) with
    ``flatten``), label a Python int; ``transform`` / ``target_transform`` then apply to them.

    ``data`` holds the raw uint8 images (N, H, W) and ``targets`` the int64 labels, as numpy.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, scale: float,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 flatten: bool = False) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {len(images)} images but {len(labels)} labels")
        self.data = images
        self.targets = np.asarray(labels, dtype=np.int64)
        self.scale = float(scale)
        self.transform = transform
        self.target_transform = target_transform
        self.flatten = bool(flatten)
        self.classes = list(range(10))

    def __len__(self) -> int:
        return len(self.data)

    def _images(self, idx) -> np.ndarray:
        x = np.divide(self.data[idx], np.float32(self.scale), dtype=np.float32)
        if self.flatten:
            return x.reshape(x.shape[:-2] + (-1,))
        return x.reshape(x.shape[:-2] + (1,) + x.shape[-2:])

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(index).__name__}")
        x = from_numpy(np.ascontiguousarray(self._images(int(index))))
        y = int(self.targets[index])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def _batch(self, idx: np.ndarray):
        if self.transform is not None or self.target_transform is not None:
            return None

        return [from_numpy(np.ascontiguousarray(self._images(idx))),
                from_numpy(np.ascontiguousarray(self.targets[idx]))]

    def class_counts(self) -> np.ndarray:
        """How many samples of each class (length 10)."""
        return np.bincount(self.targets, minlength=len(self.classes))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={len(self)}, image={tuple(self.data.shape[1:])}, "
                f"transform={self.transform!r})")
