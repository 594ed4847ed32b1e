"""Data loading with PyTorch's semantics: datasets, samplers, ``DataLoader``, transforms and the
datasets lamina can read offline (``lamina.data.datasets``).

    from lamina.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
"""
from . import datasets, transforms
from .text import BPTTBatches, CharVocab
from ._worker import WorkerInfo, get_worker_info
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split,
)
from .sampler import (
    BatchSampler, DistributedSampler, Generator, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
)
from .word_vectors import WordVectors, load_word_vectors

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo", "Dataset", "IterableDataset",
           "ChainDataset", "ConcatDataset", "Subset", "TensorDataset", "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler", "DistributedSampler", "Generator",
           "datasets", "transforms", "CharVocab", "BPTTBatches"]
