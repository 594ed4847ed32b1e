"""Character-level language model on Tiny Shakespeare (first 90% train, last 10% validation).

    python examples/char_lm.py                       # 2-layer LSTM, 10-minute budget
    python examples/char_lm.py --model transformer   # causal Transformer variant
    python examples/char_lm.py --minutes 1 --sample 300
    python examples/char_lm.py --quick                 # 5 seconds of training, a short sample

Trains with truncated backpropagation through time: the corpus is cut into `--batch` parallel
streams, read in windows of `--seq-len` characters, the recurrent state carried (detached) from
one window to the next. Adam, gradient-norm clipping (exploding gradients) and a cosine learning
rate over the time budget. Prints the validation loss in nats per character every `--eval-every`
seconds, then samples text from the trained model. The corpus is not part of lamina: pass --data.
Writes nothing unless --save is given.
"""
from __future__ import annotations

import math
import os
import sys
import time

import lamina
import lamina.nn.functional as F
from lamina.data import BPTTBatches, CharVocab
from lamina.models import CharRNN, CharTransformer, evaluate_lm, sample
from lamina.utils.scripts import nonnegative_int, positive_float, positive_int, probability, run, tool_parser
from tqdm import tqdm

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt")


def build(args, vocab_size):
    if args.model == "transformer":
        return CharTransformer(vocab_size, d_model=args.hidden, nhead=args.heads, num_layers=args.layers,
                               dim_feedforward=4 * args.hidden, dropout=args.dropout, max_len=args.seq_len)
    return CharRNN(vocab_size, embed_dim=args.embed, hidden_size=args.hidden, num_layers=args.layers,
                   dropout=args.dropout, cell=args.model)


def main(argv=None):
    p = tool_parser(__doc__, quick="the first 200,000 characters, 5 seconds of training, a 100-character sample")
    p.add_argument("--data", default=DEFAULT_DATA, help="a plain-text corpus")
    p.add_argument("--model", choices=["lstm", "gru", "rnn", "transformer"], default="lstm", help="the network")
    p.add_argument("--minutes", type=positive_float, default=10.0, help="training time budget")
    p.add_argument("--hidden", type=positive_int, default=None, help="hidden size (default: LSTM 256, transformer d_model 192)")
    p.add_argument("--layers", type=positive_int, default=2, help="recurrent or Transformer layers")
    p.add_argument("--embed", type=positive_int, default=64, help="embedding size (recurrent models)")
    p.add_argument("--heads", type=positive_int, default=4, help="attention heads (transformer)")
    p.add_argument("--dropout", type=probability, default=0.1, help="dropout")
    p.add_argument("--batch", type=positive_int, default=64, help="parallel streams per batch")
    p.add_argument("--seq-len", type=positive_int, default=None, help="BPTT window (default: LSTM 100, transformer 64)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="peak Adam learning rate (default: LSTM 4e-3, transformer 3e-3)")
    p.add_argument("--clip", type=positive_float, default=1.0, help="max gradient norm")
    p.add_argument("--eval-every", type=positive_float, default=60.0, help="seconds between validation passes")
    p.add_argument("--sample", type=nonnegative_int, default=500, help="characters to sample at the end")
    p.add_argument("--threads", type=nonnegative_int, default=None, help="compute threads (default: lamina's)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, batches and sampling")
    p.add_argument("--save", default=None, help="write the trained model to this file (lamina.save)")
    args = p.parse_args(argv)
    if args.quick:
        args.minutes, args.sample, args.eval_every = 5 / 60, min(args.sample, 100), 1e9
    tf = args.model == "transformer"
    args.hidden = args.hidden or (192 if tf else 256)
    args.seq_len = args.seq_len or (64 if tf else 100)
    args.lr = args.lr or (3e-3 if tf else 4e-3)
    if not os.path.exists(args.data):
        raise FileNotFoundError(f"corpus not found at {args.data}; pass --data PATH to a text file")
    if args.threads:
        lamina.set_num_threads(args.threads)
    lamina.manual_seed(args.seed)

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    if args.quick:
        text = text[:200_000]   # a short validation pass too
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train = BPTTBatches(ids[:split], args.batch, args.seq_len, random_offset=True, seed=args.seed)
    val = BPTTBatches(ids[split:], 32, 256 if not tf else args.seq_len)
    model = build(args, len(vocab))
    nparams = sum(q.numel() for q in model.parameters())
    print(f"{len(text):,} characters, vocabulary {len(vocab)}; train {split:,}, validation {len(ids) - split:,}")
    print(f"{args.model}: {nparams:,} parameters, batch {args.batch} x {args.seq_len} chars, "
          f"{lamina.get_num_threads()} threads, budget {args.minutes:g} min")
    opt = lamina.optim.Adam(model.parameters(), lr=args.lr)

    budget = args.minutes * 60.0
    t0 = time.perf_counter()
    next_eval = args.eval_every
    step, epoch, chars, done = 0, 0, 0, False
    best = float("inf")
    bar = tqdm(total=int(budget), unit="s", bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s {postfix}")
    smooth = None
    while not done:
        epoch += 1
        state = None
        for x, y in train:
            elapsed = time.perf_counter() - t0
            if elapsed >= budget:
                done = True
                break
            # cosine decay to 5% of the peak over the budget, after a short warm-up
            frac = elapsed / budget
            warm = min(1.0, (step + 1) / 100)
            for g in opt.param_groups:
                g["lr"] = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            state = model.detach_state(state)
            logits, state = model(x, state)
            n = y.numel()
            loss = F.cross_entropy(logits.reshape(n, -1), y.reshape(n))
            opt.zero_grad()
            loss.backward()
            lamina.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            step += 1
            chars += n
            lv = loss.item()
            smooth = lv if smooth is None else 0.98 * smooth + 0.02 * lv
            bar.n = min(int(elapsed), int(budget))
            bar.set_postfix_str(f"epoch {epoch} step {step} train {smooth:.3f} nats/char "
                                f"{chars / max(elapsed, 1e-9):,.0f} char/s" + (f" val {best:.3f}" if best < 1e9 else ""))
            if elapsed >= next_eval:
                v = evaluate_lm(model, val)
                best = min(best, v)
                tqdm.write(f"[{elapsed / 60:5.2f} min] step {step}: train {smooth:.3f}, validation {v:.3f} nats/char")
                next_eval = elapsed + args.eval_every
    bar.close()
    train_time = time.perf_counter() - t0
    v = evaluate_lm(model, val)
    print(f"final validation loss {v:.3f} nats/char ({v / math.log(2):.3f} bits/char) after {step} steps, "
          f"{chars:,} characters, {train_time / 60:.2f} min of training")
    if args.save:
        lamina.save({"model": model.state_dict(), "vocab": "".join(vocab.itos)}, args.save)
        print(f"saved to {args.save}")
    if args.sample:
        print("--- sample (temperature 0.8) ---")
        print(sample(model, vocab, "ROMEO:\n", args.sample, temperature=0.8, seed=args.seed,
                     context=args.seq_len))
    return v


if __name__ == "__main__":
    sys.exit(run(main))
