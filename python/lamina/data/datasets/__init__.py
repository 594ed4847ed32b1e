"""Datasets lamina can read without network access: the bundled UCI handwritten ``Digits`` and
``MNIST`` from IDX files the user provides."""
from .digits import Digits, load_digits, stratified_split
from .mnist import MNIST, load_mnist_arrays, mnist_split, read_idx, write_idx

__all__ = ["Digits", "load_digits", "stratified_split", "MNIST", "load_mnist_arrays", "mnist_split",
           "read_idx", "write_idx"]
