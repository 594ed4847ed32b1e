"""Sample transforms in the style of torchvision: ``Compose``, ``ToTensor``, ``Normalize``,
``RandomCrop``, ``RandomHorizontalFlip``, ``RandomVerticalFlip``, ``AddGaussianNoise``, ``Flatten``,
``Lambda``.

After ``ToTensor`` images are (..., C, H, W); the other transforms accept a lamina tensor or a
numpy array in that layout and return the same kind. They work in numpy on one sample (cheap at
these sizes). Random ones draw from their ``generator`` (a ``lamina.data.Generator``) or else from
lamina's global generator, so ``lamina.manual_seed`` makes augmentation reproducible.
"""
from __future__ import annotations

import numbers
from typing import Callable, Sequence

import numpy as np

from ..ops.creation import from_numpy, rand, randint, randn
from ..tensor import Tensor
from .sampler import Generator


# ---- random draws: a lamina.data.Generator when given, else lamina's global generator ----
def _uniform(generator: Generator | None) -> float:
    if generator is not None:
        return float(generator._np.random())

    return float(rand(1, dtype="float64").numpy()[0])


def _integer(high: int, generator: Generator | None) -> int:
    """An integer in [0, high]."""
    if high <= 0:
        return 0
    if generator is not None:
        return int(generator._np.integers(0, high + 1))

    return int(randint(0, high + 1, (1,)).numpy()[0])


def _normal(shape, dtype, generator: Generator | None) -> np.ndarray:
    if generator is not None:
        return generator._np.standard_normal(shape).astype(dtype, copy=False)

    return randn(*shape, dtype="float64" if dtype == np.float64 else "float32").numpy()


def _unwrap(x, name: str):
    """(numpy view of x, rewrap function)."""
    if isinstance(x, Tensor):
        dev = x.device
        arr = x.detach().numpy() if dev == "cpu" else x.detach().cpu().numpy()

        def rewrap(a: np.ndarray) -> Tensor:
            t = from_numpy(np.ascontiguousarray(a))
            return t if dev == "cpu" else t.to(dev)

        return arr, rewrap
    if isinstance(x, np.ndarray):
        return x, lambda a: a
    raise TypeError(f"{name}: expected a lamina tensor or numpy array, got {type(x).__name__}")


def _check_hw(arr: np.ndarray, name: str) -> None:
    if arr.ndim < 2:
        raise ValueError(f"{name}: expected an image of shape (..., H, W), got shape {arr.shape}")


class Compose:
    """Applies transforms one after another."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda:
    """Wraps a function as a transform."""

    def __init__(self, fn: Callable) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda: argument should be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self) -> str:
        return "Lambda()"


class ToTensor:
    """numpy image (H x W or H x W x C, or a PIL image) -> lamina tensor C x H x W.

    uint8 images are scaled to float32 in [0, 1]; bool becomes float32; float arrays keep their
    values and dtype (float16 -> float32); other integers become int64 unscaled (as torchvision).
    A lamina tensor passes through unchanged, so ``ToTensor()`` can stay in pipelines written for
    torchvision when a dataset already yields tensors.
    """

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            return pic
        if not isinstance(pic, np.ndarray):
            if hasattr(pic, "mode") and hasattr(pic, "size"):  # PIL image
                pic = np.asarray(pic)
            else:
                raise TypeError(f"ToTensor: expected a numpy array, PIL image or lamina tensor, got "
                                f"{type(pic).__name__}")
        if pic.ndim == 2:
            arr = pic[None]
        elif pic.ndim == 3:
            arr = pic.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C), got shape {pic.shape}")
        k = pic.dtype.kind
        if pic.dtype == np.uint8:
            arr = arr.astype(np.float32) / np.float32(255)
        elif k == "b" or pic.dtype == np.float16:
            arr = arr.astype(np.float32)
        elif k in "iu":
            arr = arr.astype(np.int64)
        elif k != "f":
            raise TypeError(f"ToTensor: unsupported image dtype {pic.dtype}")

        return from_numpy(np.ascontiguousarray(arr))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a (..., C, H, W) float image."""

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be numbers or 1-D sequences")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to float, leading to "
                             f"division by zero (std={self.std.tolist()})")
        self.inplace = inplace

    def __call__(self, x):
        arr, rewrap = _unwrap(x, "Normalize")
        if arr.dtype.kind != "f":
            raise TypeError(f"Normalize: input should be a float image, got dtype {arr.dtype}")
        if arr.ndim < 3:
            raise ValueError(f"Normalize: expected an image of shape (..., C, H, W), got shape {arr.shape}")
        c = arr.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if len(v) not in (1, c):
                raise ValueError(f"Normalize: {name} has {len(v)} values but the image of shape {arr.shape} "
                                 f"has {c} channels")
        mean = self.mean.astype(arr.dtype)[:, None, None]
        std = self.std.astype(arr.dtype)[:, None, None]
        if self.inplace and arr.flags.writeable:
            arr -= mean
            arr /= std
            return x
        return rewrap((arr - mean) / std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _pair(size, name: str) -> tuple:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return (int(size[0]), int(size[-1]))
    raise ValueError(f"{name}: size should be an int or a sequence of one or two ints, got {size!r}")


class RandomCrop:
    """A random ``size`` crop of the last two dimensions, after optional ``padding``.

    ``padding``: an int (all sides), (left/right, top/bottom) or (left, top, right, bottom);
    ``padding_mode``: 'constant' (with ``fill``), 'edge', 'reflect' or 'symmetric'.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", generator: Generator | None = None) -> None:
        self.size = _pair(size, "RandomCrop")
        if padding is None:
            self.padding = (0, 0, 0, 0)
        elif isinstance(padding, numbers.Integral):
            self.padding = (int(padding),) * 4
        elif len(padding) == 2:
            self.padding = (padding[0], padding[1], padding[0], padding[1])
        elif len(padding) == 4:
            self.padding = tuple(int(p) for p in padding)
        else:
            raise ValueError(f"RandomCrop: padding must be an int or a 2- or 4-element sequence, got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode should be constant, edge, reflect or symmetric, "
                             f"got {padding_mode!r}")
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    def _pad(self, arr: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        if not (left or top or right or bottom):
            return arr
        widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
        if self.padding_mode == "constant":
            return np.pad(arr, widths, mode="constant", constant_values=self.fill)
        return np.pad(arr, widths, mode=self.padding_mode)

    def __call__(self, x):
        arr, rewrap = _unwrap(x, "RandomCrop")
        _check_hw(arr, "RandomCrop")
        arr = self._pad(arr, *self.padding)
        th, tw = self.size
        h, w = arr.shape[-2:]
        if self.pad_if_needed and (h < th or w < tw):
            dh, dw = max(th - h, 0), max(tw - w, 0)
            arr = self._pad(arr, dw, dh, dw, dh)
            h, w = arr.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the (padded) "
                             f"image size {(h, w)}")
        top = _integer(h - th, self.generator)
        left = _integer(w - tw, self.generator)
        return rewrap(arr[..., top:top + th, left:left + tw])

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirrors the last dimension (W) with probability ``p``."""

    _axis = -1

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p should be in [0, 1], got {p}")
        self.p = float(p)
        self.generator = generator

    def __call__(self, x):
        arr, rewrap = _unwrap(x, type(self).__name__)
        _check_hw(arr, type(self).__name__)
        if _uniform(self.generator) < self.p:
            return rewrap(np.flip(arr, axis=self._axis))
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirrors the second-to-last dimension (H) with probability ``p``."""

    _axis = -2


class AddGaussianNoise:
    """x + N(mean, std^2) noise, for denoising autoencoders; ``clip=(lo, hi)`` bounds the result.

    The noise is fresh on every call (a new corruption of the same sample each epoch).
    """

    def __init__(self, std: float = 0.1, mean: float = 0.0, clip: tuple | None = None,
                 generator: Generator | None = None) -> None:
        if std < 0:
            raise ValueError(f"AddGaussianNoise: std must be non-negative, got {std}")
        self.std = float(std)
        self.mean = float(mean)
        self.clip = clip
        self.generator = generator

    def __call__(self, x):
        arr, rewrap = _unwrap(x, "AddGaussianNoise")
        if arr.dtype.kind != "f":
            raise TypeError(f"AddGaussianNoise: input should be floating point, got dtype {arr.dtype}")
        noise = _normal(arr.shape, arr.dtype, self.generator)
        out = arr + (noise * arr.dtype.type(self.std) + arr.dtype.type(self.mean))
        if self.clip is not None:
            out = np.clip(out, self.clip[0], self.clip[1])
        return rewrap(out.astype(arr.dtype, copy=False))

    def __repr__(self) -> str:
        return f"AddGaussianNoise(std={self.std}, mean={self.mean}, clip={self.clip})"


class Flatten:
    """Reshapes a sample to 1-D (e.g. 1x28x28 -> 784 for an MLP)."""

    def __call__(self, x):
        if isinstance(x, Tensor):
            return x.reshape(-1)
        if isinstance(x, np.ndarray):
            return x.reshape(-1)
        raise TypeError(f"Flatten: expected a lamina tensor or numpy array, got {type(x).__name__}")

    def __repr__(self) -> str:
        return "Flatten()"
