"""``lamina.models.pretrained(name)``: small models trained by lamina whose weights ship inside the
package (``lamina/models/weights/*.lmn``, lamina checkpoints of float32 tensors), each checked on
load against its architecture and its SHA-256; ``list_pretrained()`` names them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable

from .. import nn
from ..data.text import CharVocab
from ..serialization import load, save
from ..tensor import Tensor
from .autoencoder import StackedDenoisingAutoencoder
from .char_lm import CharRNN
from .lenet import LeNet5
from .mlp import MLP

__all__ = ["pretrained", "list_pretrained", "PretrainedInfo"]

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
FORMAT = "lamina-pretrained"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PretrainedInfo:
    """What is known about one pretrained model: how to build it, where its weights are, what it
    was trained on and the quality measured when the weights were made (``metrics``)."""

    name: str
    file: str                      # file name under WEIGHTS_DIR
    build: Callable[[], nn.Module]  # the untrained architecture
    data: str                      # training data, in words
    metrics: dict                  # recorded by tools/train_pretrained.py on held-out data
    sha256: str                    # of the bundled file
    head: str | None = None        # attribute path of the classifier head (for num_classes=...)
    description: str = ""
    config: dict = field(default_factory=dict)  # architecture arguments, also stored in the file


# The architectures are fixed here, not read from the file, so a file can only fill in weights.
# metrics / sha256 come from `python tools/train_pretrained.py all` (see README, "Pretrained
# models and fine-tuning"); retraining changes both and they must be copied here.
_REGISTRY: dict[str, PretrainedInfo] = {}


def _register(info: PretrainedInfo) -> None:
    _REGISTRY[info.name] = info


_register(PretrainedInfo(
    name="lenet5_digits", file="lenet5_digits.lmn",
    build=lambda: LeNet5(in_channels=1, num_classes=10, input_size=8),
    config=dict(in_channels=1, num_classes=10, input_size=8),
    data="bundled UCI digits (8x8), stratified split test_size=0.2 seed=0: 1,437 train / 360 test",
    metrics={"test_accuracy": 0.9806, "train_accuracy": 0.9951},
    sha256="460b01d09518765017892148ce0f1212d9099c5adbdcc0c02c0795f9da2d849b", head="classifier.5",
    description="LeNet-5 (conv5-pool-conv5-pool-fc120-fc84-fc10, ReLU, max pooling) for 8x8 digits; "
                "input (N, 1, 8, 8) in [0, 1] (pixel / 16, as lamina.data.datasets.Digits gives)"))

_register(PretrainedInfo(
    name="mlp_digits", file="mlp_digits.lmn",
    build=lambda: MLP([64, 128, 64, 10], activation="relu"),
    config=dict(sizes=[64, 128, 64, 10], activation="relu"),
    data="bundled UCI digits (8x8), stratified split test_size=0.2 seed=0: 1,437 train / 360 test",
    metrics={"test_accuracy": 0.9778, "train_accuracy": 0.9993},
    sha256="0f21840e4c64e618927b46bb17969a5523914a2618cc863b7c4d0d94972ede54", head="5",
    description="MLP 64-128-64-10 (ReLU); input anything that flattens to (N, 64), values in [0, 1]"))

_register(PretrainedInfo(
    name="sdae_digits", file="sdae_digits.lmn",
    build=lambda: StackedDenoisingAutoencoder([64, 128, 64], n_classes=10, activation="sigmoid",
                                              corruption="masking", corruption_level=0.2),
    config=dict(sizes=[64, 128, 64], n_classes=10, activation="sigmoid", corruption="masking",
                corruption_level=0.2),
    data="bundled UCI digits (8x8): encoders pretrained without labels on the 1,437 training images; "
         "output layer trained on the frozen features; 360 test images",
    metrics={"test_accuracy": 0.975, "train_accuracy": 0.9937, "test_reconstruction_mse": 0.01147},
    sha256="5e96ee21280fb90f96d7a62098fabb2bd0e68baf7aef4b9e7da25b84515c3cf0", head="output",
    description="stacked denoising autoencoder 64-128-64 (sigmoid, masking noise 0.2), greedy layer-wise "
                "pretraining; transform(x) gives the 64 features, forward(x) the logits of a linear "
                "classifier trained on them with the encoders frozen"))

_register(PretrainedInfo(
    name="char_lstm_shakespeare", file="char_lstm_shakespeare.lmn",
    build=lambda: CharRNN(65, embed_dim=32, hidden_size=160, num_layers=1, cell="lstm"),
    config=dict(vocab_size=65, embed_dim=32, hidden_size=160, num_layers=1, cell="lstm"),
    data="Tiny Shakespeare (public domain), first 90% of the characters; validation: the last 10%",
    metrics={"val_loss_nats": 1.5503, "val_bits_per_char": 2.2367, "train_steps": 10000},
    sha256="0b5e670dedee617b87b6a67bbd568e00e549f137e2d31abfa56ff46a955ed068",
    description="character-level LSTM (embedding 32, one LSTM layer of 160, linear head) over the 65 "
                "characters of Tiny Shakespeare; model.vocab (a lamina.data.CharVocab) maps text to ids; "
                "forward(ids [T, B], state) -> (logits [T, B, 65], state)"))


def list_pretrained() -> list[str]:
    """The names ``pretrained`` accepts, sorted."""
    return sorted(_REGISTRY)


def pretrained_info(name: str) -> PretrainedInfo:
    """The registry entry of ``name`` (data, recorded metrics, file); unknown names list the others."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"lamina.models.pretrained: unknown model {name!r}; available: "
                         f"{', '.join(list_pretrained())}") from None


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_state(info: PretrainedInfo, path: str, state, model: nn.Module) -> None:
    """Every tensor of the architecture present in the file with the same shape, nothing extra."""
    own = model.state_dict()
    if not isinstance(state, dict):
        raise ValueError(f"pretrained {info.name!r}: {path} holds no state_dict")  # noqa: TRY004 (a bad file)
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"pretrained {info.name!r}: {path}: state_dict entries {bad} are not tensors")
    problems = [f"missing {k} (expected shape {list(v.shape)})" for k, v in own.items() if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [f"{k}: file has shape {list(state[k].shape)}, the architecture expects {list(v.shape)}"
                 for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if problems:
        raise ValueError(f"pretrained {info.name!r}: {path} does not fit the architecture "
                         f"({type(model).__name__} {info.config}): " + "; ".join(problems))


def _load_into(info: PretrainedInfo, path: str) -> nn.Module:
    try:
        blob = load(path)
    except (ValueError, OSError) as e:
        raise ValueError(f"pretrained {info.name!r}: cannot read {path}: {e}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"pretrained {info.name!r}: {path} is a lamina checkpoint but not a pretrained "
                         f"model file (format {blob.get('format') if isinstance(blob, dict) else None!r}, "
                         f"expected {FORMAT!r})")
    if blob.get("name") != info.name:
        raise ValueError(f"pretrained {info.name!r}: {path} holds the weights of {blob.get('name')!r}")
    if blob.get("config") != info.config:
        raise ValueError(f"pretrained {info.name!r}: {path} was made for the architecture "
                         f"{blob.get('config')}, this lamina builds {info.config}")
    model = info.build()
    _check_state(info, path, blob.get("state_dict"), model)
    model.load_state_dict(blob["state_dict"])
    if "vocab" in blob:
        model.vocab = CharVocab.from_state_dict(blob["vocab"])
    model.pretrained_info = {"name": info.name, "data": info.data, "metrics": dict(blob.get("metrics", {})),
                             "file": path}
    return model


def pretrained(name: str, *, num_classes: int | None = None, path: str | os.PathLike | None = None,
               device=None) -> nn.Module:
    """A model with weights trained by lamina, in eval mode, e.g. ``pretrained("lenet5_digits")``.

    ==========================  ==========================================================
    ``lenet5_digits``           LeNet-5 on the bundled 8x8 digits
    ``mlp_digits``              MLP 64-128-64-10 on the bundled digits
    ``sdae_digits``             stacked denoising autoencoder 64-128-64 (+ linear head)
    ``char_lstm_shakespeare``   character LSTM on Tiny Shakespeare (``model.vocab``)
    ==========================  ==========================================================

    Recorded quality (held-out data; ``model.pretrained_info["metrics"]`` has the same numbers,
    README "Pretrained models and fine-tuning" the commands that made them): test accuracy on the
    360 held-out digits: lenet5_digits 0.9806, mlp_digits 0.9778, sdae_digits 0.9750 (linear head
    on the frozen SDAE features); char_lstm_shakespeare: validation loss 1.5503 nats = 2.2367 bits
    per character on the last 10% of Tiny Shakespeare.

    Args:
        name: one of ``list_pretrained()``; an unknown name raises ValueError listing them.
        num_classes: for the classifiers, replace the trained head by a freshly initialised
            Linear with this many outputs (fine-tuning on another task); the rest keeps its weights.
        path: load the weights from this file instead of the bundled one (e.g. one written by
            ``tools/train_pretrained.py --out``); its SHA-256 is then not checked, the shapes are.
        device: move the model there after loading.

    Loading verifies the bundled file's SHA-256, its format, that it belongs to ``name`` and that
    every tensor has the architecture's shape; a mismatch raises ValueError naming the tensor.
    """
    info = pretrained_info(name)
    if path is None:
        file = os.path.join(WEIGHTS_DIR, info.file)
        if not os.path.isfile(file):
            raise FileNotFoundError(f"pretrained {name!r}: the bundled weights {file} are missing "
                                    f"(reinstall lamina, or regenerate them with tools/train_pretrained.py)")
        digest = _sha256(file)
        if info.sha256 and digest != info.sha256:
            raise ValueError(f"pretrained {name!r}: {file} has SHA-256 {digest}, expected {info.sha256} "
                             f"(the file was changed or corrupted)")
    else:
        file = os.fspath(path)
        if not os.path.isfile(file):
            raise FileNotFoundError(f"pretrained {name!r}: no weights file at {file}")
    model = _load_into(info, file)
    if num_classes is not None:
        _replace_head(model, info, int(num_classes))
    if device is not None:
        model.to(device)
    return model.eval()


def _replace_head(model: nn.Module, info: PretrainedInfo, num_classes: int) -> None:
    if info.head is None:
        raise TypeError(f"pretrained {info.name!r}: num_classes applies to classifiers only")
    if num_classes < 1:
        raise ValueError(f"pretrained {info.name!r}: num_classes must be >= 1, got {num_classes}")
    *parents, last = info.head.split(".")
    owner = model
    for p in parents:
        owner = getattr(owner, p)
    old = owner[int(last)] if last.isdigit() else getattr(owner, last)
    new = nn.Linear(old.in_features, num_classes)
    if last.isdigit():
        owner._modules[last] = new
    else:
        setattr(owner, last, new)
    if isinstance(model, StackedDenoisingAutoencoder):
        object.__setattr__(model, "_classifier", None)  # rebuilt with the new output layer
    model.pretrained_info["replaced_head"] = f"{info.head}: Linear({old.in_features}, {num_classes})"


def _write_weights(name: str, model: nn.Module, path: str, metrics: dict, vocab=None) -> str:
    """Writes a pretrained-model file (used by tools/train_pretrained.py); returns its SHA-256."""
    info = pretrained_info(name)
    blob = {"format": FORMAT, "version": FORMAT_VERSION, "name": name, "config": info.config,
            "metrics": dict(metrics), "data": info.data,
            "state_dict": {k: (v.float() if v.dtype.is_floating_point else v)
                           for k, v in model.state_dict().items()}}
    if vocab is not None:
        blob["vocab"] = vocab.state_dict()
    save(blob, path)
    return _sha256(path)
