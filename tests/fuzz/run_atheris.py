"""Coverage-guided fuzzing of the readers with atheris (libFuzzer for Python; optional, not needed
by the test suite: pip install atheris). One target per run:
    PYTHONPATH=python python tests/fuzz/run_atheris.py TARGET [libFuzzer options] [corpus dir]
    TARGET: load | load_header | idx | word_vectors
e.g. ``... run_atheris.py load_header -atheris_runs=200000``. Any exception other than ValueError
is a finding: atheris prints the traceback and writes the input to crash-<sha1>; add it to
tests/fuzz/test_fuzz_readers.py as a regression test. The seeds are a valid checkpoint, IDX file
and word2vec file, so mutations start from well-formed inputs."""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
with atheris.instrument_imports(include=["lamina", "fuzz_targets"]):
    import fuzz_targets as ft

SEED = ft.seed_checkpoint()
HEADER, DATA = ft.split(SEED)
SEEDS = {
    "load": [SEED],
    "load_header": [__import__("json").dumps(HEADER).encode()],
    "idx": [ft.idx_blob(0x08, [2, 3, 2], bytes(range(12)))],
    "word_vectors": [b"2 3\nthe 0.1 0.2 0.3\nof -1 2.5e-3 4\n"],
}
TARGETS = {
    "load": ft.fuzz_load,
    "load_header": lambda b: ft.fuzz_load_header(b, DATA),
    "idx": ft.fuzz_idx,
    "word_vectors": ft.fuzz_word_vectors,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: run_atheris.py {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus dir]")
    name = sys.argv.pop(1)
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus:  # libFuzzer reads and extends the corpus folder; start it from the seed
        os.makedirs(corpus[0], exist_ok=True)
        for i, s in enumerate(SEEDS[name]):
            with open(os.path.join(corpus[0], f"seed-{i}"), "wb") as f:
                f.write(s)
    atheris.Setup(sys.argv, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
