"""Helpers that make the examples and the ``lamina`` command behave like command-line tools:
a parser whose help shows every default, argparse types that reject bad values with one line,
an output folder that is announced, and ``run``, which turns an exception into one line on
stderr and a non-zero exit status (the traceback only with ``--debug``)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Callable

__all__ = [
    "HelpFormatter",
    "existing_dir",
    "existing_file",
    "nonnegative_int",
    "out_dir",
    "positive_float",
    "positive_int",
    "probability",
    "run",
    "tool_parser",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the description's line breaks (a module docstring
    with usage lines reads as written). Flags and options whose default is None (the help
    then says what happens) show no "(default: ...)"."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool) or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


def tool_parser(description: str, prog: str | None = None, out: str | None = None,
                quick: str | None = None) -> argparse.ArgumentParser:
    """An ``argparse.ArgumentParser`` with ``HelpFormatter`` and the options every tool shares:
    ``--debug`` (show tracebacks), ``--out`` when ``out`` is a default folder, and ``--quick``
    (with ``quick`` as its help text) when given."""
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)
    if out is not None:
        p.add_argument("--out", default=out, help="folder for everything this run writes")
    if quick is not None:
        p.add_argument("--quick", action="store_true", help=quick)
    p.add_argument("--debug", action="store_true", help="show the full traceback when something fails")
    return p


def _number(kind: type, text: str, ok: Callable, what: str):
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(int, text, lambda v: v >= 1, "an integer >= 1")


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(int, text, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(float, text, lambda v: 0 < v < float("inf"), "a number > 0")


def probability(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    return _number(float, text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def existing_dir(text: str) -> str:
    """argparse type: a folder that exists."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return text


def existing_file(text: str) -> str:
    """argparse type: a file that exists."""
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def out_dir(path: str, prog: str = "") -> str:
    """Creates ``path`` (and parents) and prints where the run writes; returns ``path``."""
    os.makedirs(path, exist_ok=True)
    print(f"{prog + ': ' if prog else ''}writing into {os.path.abspath(path)}", flush=True)
    return path


def run(main: Callable[[Sequence[str]], object], argv: Sequence[str] | None = None,
        prog: str | None = None) -> int:
    """Calls ``main(argv)`` and returns an exit status: 0 (or ``main``'s int result) on success;
    for an exception, one line ``prog: error: <Type>: <message>`` on stderr and 1, or the full
    traceback when ``--debug`` is among the arguments; 130 after Ctrl-C. Use as
    ``sys.exit(run(main))``. argparse's own errors (usage line, status 2) pass through."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0] or "lamina")
    try:
        rc = main(argv)
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if "--debug" in argv:
            raise
        msg = " ".join(str(e).split()) or "(no message)"
        print(f"{prog}: error: {type(e).__name__}: {msg} (--debug shows the traceback)", file=sys.stderr)
        return 1
    return rc if isinstance(rc, int) and not isinstance(rc, bool) else 0
