"""Shared pytest setup: a fixed seed before every test, and the shared data folder."""
import os
import pathlib

import pytest

# The contention governor lowers the thread count while other processes keep the CPUs busy (as they
# do on a shared CI machine): tests pick their thread counts and check what the threads do, so it is
# off here (inherited by the tests' subprocesses); tests/test_thread_governor.py turns it on.
os.environ.setdefault("LAMINA_THREAD_GOVERNOR", "0")

import lamina

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    lamina.manual_seed(0)
    yield


@pytest.fixture
def data_dir():
    """../shared/data, or skip the test when it is absent."""
    d = pathlib.Path(os.environ.get("LAMINA_DATA", DATA))
    if not d.is_dir():
        pytest.skip(f"shared data not found at {d}")
    return d
