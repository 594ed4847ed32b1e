"""Trains the models behind ``lamina.models.pretrained`` and writes their weights files
(python/lamina/models/weights/<name>.lmn), printing the held-out metrics and SHA-256 to copy into
python/lamina/models/pretrained.py (registry) and the README table.

    python tools/train_pretrained.py all                      # every model (~4 minutes, 1 thread)
    python tools/train_pretrained.py lenet5_digits mlp_digits  # some of them
    python tools/train_pretrained.py char_lstm_shakespeare --data ../shared/data/tinyshakespeare/input.txt

Reproducible: fixed seeds (lamina.manual_seed, numpy generators), fixed numbers of epochs/steps,
one thread (--threads); digits: the bundled data's stratified split (test_size=0.2, seed=0), the
test side never seen in training; Tiny Shakespeare: first 90% train, last 10% validation (the
corpus is read here only; lamina itself never reads it).

Results of `all` (2026-11-30, one thread, AVX-512 host; a rerun on the same machine writes the same
files bit for bit, checked for the digits models and a 300-step LSTM): lenet5_digits test accuracy 0.9806, mlp_digits 0.9778, sdae_digits 0.9750 (reconstruction
MSE 0.01147), char_lstm_shakespeare validation loss 1.5503 nats/char (2.2367 bits), 10,000 steps.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import lamina
from lamina import nn, optim
from lamina.data import BPTTBatches, CharVocab
from lamina.data.datasets import Digits
from lamina.models import evaluate_lm
from lamina.models.pretrained import WEIGHTS_DIR, _write_weights, pretrained_info
from lamina.nn.utils import clip_grad_norm_, freeze
from lamina.train import fit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt")


def digits_arrays(flatten: bool):
    """(x_train, y_train, x_test, y_test) as lamina tensors, the Digits default split."""
    out = []
    for train in (True, False):
        ds = Digits(train=train, flatten=flatten)
        x, y = ds._batch(np.arange(len(ds)))
        out += [x, y]
    return out


def accuracy(model, x, y) -> float:
    model.eval()
    with lamina.no_grad():
        return float((model(x).argmax(1) == y).float().mean().item())


def train_classifier(name: str, epochs: int, lr: float, flatten: bool):
    lamina.manual_seed(0)
    model = pretrained_info(name).build()
    xtr, ytr, xte, yte = digits_arrays(flatten)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    fit(model, nn.CrossEntropyLoss(), opt, (xtr, ytr), epochs=epochs, batch_size=32, progress=False,
        scheduler=sched)
    return model, {"test_accuracy": round(accuracy(model, xte, yte), 4),
                   "train_accuracy": round(accuracy(model, xtr, ytr), 4)}


def train_lenet(args):
    return train_classifier("lenet5_digits", epochs=40, lr=1e-3, flatten=False)


def train_mlp(args):
    return train_classifier("mlp_digits", epochs=40, lr=2e-3, flatten=True)


def train_sdae(args):
    """Unsupervised greedy pretraining of the encoders, then only the output layer with labels."""
    lamina.manual_seed(0)
    model = pretrained_info("sdae_digits").build()
    xtr, ytr, xte, yte = digits_arrays(flatten=True)
    model.pretrain(xtr, epochs_per_layer=40, batch_size=32, lr=3e-3)
    freeze(model, except_="output")
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    fit(model, nn.CrossEntropyLoss(), opt, (xtr, ytr), epochs=60, batch_size=32, progress=False)
    model.eval()
    mse = float(model.daes[0].reconstruction_error(xte).mean())
    return model, {"test_accuracy": round(accuracy(model, xte, yte), 4),
                   "train_accuracy": round(accuracy(model, xtr, ytr), 4),
                   "test_reconstruction_mse": round(mse, 5)}


def shakespeare(path: str):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    return vocab, ids[:split], ids[split:]


def char_val_loss(model, val_ids) -> float:
    """Nats per character on the validation ids (32 streams, windows of 256, state carried)."""
    return evaluate_lm(model, BPTTBatches(val_ids, 32, 256))


def train_char_lstm(args):
    if not os.path.exists(args.data):
        raise SystemExit(f"train_pretrained: corpus not found at {args.data}; pass --data")
    lamina.manual_seed(0)
    vocab, train_ids, val_ids = shakespeare(args.data)
    info = pretrained_info("char_lstm_shakespeare")
    if len(vocab) != info.config["vocab_size"]:
        raise SystemExit(f"vocabulary of {len(vocab)} characters, the registry expects {info.config['vocab_size']}")
    model = info.build()
    steps, batch, seq = args.lstm_steps, 32, 64
    opt = optim.Adam(model.parameters(), lr=4e-3)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    batches = BPTTBatches(train_ids, batch, seq, random_offset=True, seed=0)
    model.train()
    step, state, t0 = 0, None, time.time()
    while step < steps:
        for x, y in batches:
            logits, state = model(x, state)
            state = model.detach_state(state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 200 == 0:
                print(f"  step {step}/{steps}: train loss {loss.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
            if step >= steps:
                break
        state = None
    val = char_val_loss(model, val_ids)
    return model, {"val_loss_nats": round(val, 4), "val_bits_per_char": round(val / math.log(2), 4),
                   "train_steps": steps}, vocab


TRAINERS = {"lenet5_digits": train_lenet, "mlp_digits": train_mlp, "sdae_digits": train_sdae,
            "char_lstm_shakespeare": train_char_lstm}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+", help=f"'all' or some of {sorted(TRAINERS)}")
    p.add_argument("--out", default=WEIGHTS_DIR, help="folder for the weights files")
    p.add_argument("--data", default=DEFAULT_DATA, help="Tiny Shakespeare input.txt (char_lstm_shakespeare)")
    p.add_argument("--lstm-steps", type=int, default=10000, help="training steps of the char LSTM")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    names = sorted(TRAINERS) if args.names == ["all"] else args.names
    for n in names:
        if n not in TRAINERS:
            raise SystemExit(f"unknown model {n!r}; choose from {sorted(TRAINERS)} or 'all'")
    lamina.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for n in names:
        t0 = time.time()
        print(f"{n}: training", flush=True)
        res = TRAINERS[n](args)
        model, metrics = res[0], res[1]
        vocab = res[2] if len(res) > 2 else None
        path = os.path.join(args.out, pretrained_info(n).file)
        digest = _write_weights(n, model, path, metrics, vocab=vocab)
        print(f"{n}: {metrics} in {time.time() - t0:.0f} s -> {path} ({os.path.getsize(path):,} bytes) "
              f"sha256 {digest}", flush=True)


if __name__ == "__main__":
    main()
