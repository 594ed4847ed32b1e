"""lamina's own float32 GEMM (cpp/core/gemm_f32.cpp, routed by the size rule in blas.cpp) against
NumPy float64: awkward sizes around the register blocks (14x32 / 6x16), every transpose pair (views
handed to gemm with trans flags), padded leading dimensions, K = 0, beta = 1 (linear with bias),
beta = 0 over NaN-filled memory, bit-identical results across thread counts, and every ISA level
this host runs (the file re-runs itself under LAMINA_CPU_CAPABILITY=default / avx2).
"""
import os
import subprocess
import sys

import lamina
import numpy as np
import pytest
from helpers import at_thread_counts
from lamina.backends import cpu
from lamina.nn import functional as F

RNG = np.random.default_rng(13)
SIZES = [1, 7, 13, 15, 17, 31, 33, 63, 65, 100, 257]
# (M, N, K): every size in each role, plus mixes that cross the KC = 512 block (513, 1000), the
# NC = 512 column block (1000), the MC row block (257 > 168 at AVX-512), and both KC and NC blocks at
# once (70 x 1100 x 600: A packed once per K block and reused by the three column blocks)
MNK = (
    [(s, 65, 33) for s in SIZES]
    + [(33, s, 65) for s in SIZES]
    + [(65, 33, s) for s in SIZES]
    + [(1000, 17, 100), (15, 1000, 31), (63, 100, 1000), (257, 257, 257), (100, 65, 385), (28, 32, 24), (40, 70, 513), (70, 1100, 600)]
)
TRANS = [(False, False), (True, False), (False, True), (True, True)]


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def operand(x: np.ndarray, trans: bool, pad: int) -> lamina.Tensor:
    """x as a lamina view: stored transposed when `trans`, with `pad` extra columns of storage."""
    store = np.ascontiguousarray(x.T) if trans else x
    if pad:
        store = np.concatenate([store, np.full((store.shape[0], pad), np.nan, np.float32)], axis=1)
    t = lamina.from_numpy(np.ascontiguousarray(store))
    if pad:
        t = t[:, : store.shape[1] - pad]
    return t.T if trans else t


def tol(k: int) -> dict:
    return {"rtol": 2e-5, "atol": 2e-5 * max(k, 1) ** 0.5}


@pytest.mark.parametrize("ta,tb", TRANS, ids=["nn", "tn", "nt", "tt"])
def test_shapes_and_transposes(ta, tb):
    for m, n, k in MNK:
        a, b = rand(m, k), rand(k, n)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        out = operand(a, ta, 0) @ operand(b, tb, 0)
        np.testing.assert_allclose(out.numpy(), ref, **tol(k), err_msg=f"{m}x{n}x{k} ta={ta} tb={tb}")


@pytest.mark.parametrize("ta,tb", TRANS, ids=["nn", "tn", "nt", "tt"])
def test_padded_leading_dimensions(ta, tb):
    # NaN in the padding: a kernel reading past a row (wrong lda/ldb) poisons the result
    for m, n, k in [(65, 100, 63), (100, 33, 257), (31, 257, 17)]:
        a, b = rand(m, k), rand(k, n)
        out = lamina.matmul(operand(a, ta, 5), operand(b, tb, 3))
        np.testing.assert_allclose(out.numpy(), a.astype(np.float64) @ b, **tol(k))


def test_output_with_row_stride():
    # C with ldc > N: the matmul backward's batch rows and linear's reshaped output write views
    x, w, bias = rand(3, 40, 100), rand(70, 100), rand(70)
    out = F.linear(lamina.from_numpy(x), lamina.from_numpy(w), lamina.from_numpy(bias))
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    np.testing.assert_allclose(out.numpy(), ref, **tol(100))


def test_beta_one_accumulates_bias():
    # linear with bias: the bias is broadcast into C first, then GEMM adds onto it (beta = 1)
    for rows, fin, fout in [(64, 784, 256), (65, 385, 33), (100, 50, 500)]:
        x, w, b = rand(rows, fin), rand(fout, fin), rand(fout) * 10
        out = F.linear(lamina.from_numpy(x), lamina.from_numpy(w), lamina.from_numpy(b))
        np.testing.assert_allclose(out.numpy(), x.astype(np.float64) @ w.T + b, **tol(fin))


def test_linear_bias_as_row_add():
    # the CPU linear hands its bias to gemm as row_add (blas.h): added in the first write of C by
    # the x @ W^T order, filled into C first by the others (OpenBLAS below the size rule, the block
    # order above 256 rows, float64); K = 0 gives the bias alone. Output memory starts as NaN.
    for rows, fin, fout, dt in [(5, 10, 7, np.float32), (64, 600, 150, np.float32), (300, 600, 150, np.float32),
                                (200, 1024, 40, np.float32), (64, 600, 150, np.float64), (3, 0, 40, np.float32),
                                (65, 0, 33, np.float64)]:
        x, w, b = (rand(rows, fin).astype(dt), rand(fout, fin).astype(dt), rand(fout).astype(dt) * 10)
        junk = lamina.full((rows, fout), float("nan"))
        del junk
        out = F.linear(lamina.from_numpy(x), lamina.from_numpy(w), lamina.from_numpy(b)).numpy()
        ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
        np.testing.assert_allclose(out, ref, **tol(fin), err_msg=f"{rows}x{fin}->{fout} {dt.__name__}")


def test_beta_zero_overwrites_nan_memory():
    # the output comes from freed NaN/inf memory; beta = 0 must overwrite it (0 * NaN is NaN)
    a, b = rand(100, 257), rand(257, 65)
    for _ in range(3):
        junk = lamina.full((100, 65), float("nan"))
        del junk
        lamina.full((100, 65), float("inf"))
        out = lamina.from_numpy(a) @ lamina.from_numpy(b)
        assert np.isfinite(out.numpy()).all()
        np.testing.assert_allclose(out.numpy(), a.astype(np.float64) @ b, **tol(257))


def test_k0_and_empty():
    for m, n in [(65, 33), (1, 100), (257, 1)]:
        lamina.full((m, n), float("nan"))
        out = lamina.zeros(m, 0) @ lamina.zeros(0, n)
        assert out.shape == (m, n) and (out.numpy() == 0).all()
    assert (lamina.zeros(0, 40) @ lamina.zeros(40, 70)).shape == (0, 70)
    assert (lamina.zeros(70, 40) @ lamina.zeros(40, 0)).shape == (70, 0)


def test_linear_backward_gemms():
    # dX = dY @ W (nn) and dW = dY^T @ X (tn) through autograd
    x = lamina.from_numpy(rand(64, 300)).requires_grad_()
    w = lamina.from_numpy(rand(200, 300)).requires_grad_()
    dy = rand(64, 200)
    (F.linear(x, w) * lamina.from_numpy(dy)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), dy.astype(np.float64) @ w.detach().numpy(), **tol(200))
    np.testing.assert_allclose(w.grad.numpy(), dy.T.astype(np.float64) @ x.detach().numpy(), **tol(64))


def assert_same_bits(outs):
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_bit_identical_across_threads():
    # blas.cpp splits C over threads; the K order per element must not depend on the split
    # (K = 700: two KC blocks, the second added onto C). At AVX-512 the row-major A is read in place
    # at 1 and 2 threads (300 / 160 rows: gemm_f32.cpp, a_rows) and packed at 3 (112 rows: the
    # few-rows order); also with A's rows padded (lda 710) and with A stored transposed
    a, b = lamina.from_numpy(rand(300, 700)), lamina.from_numpy(rand(700, 200))
    assert_same_bits(at_thread_counts(lambda: (a @ b).numpy()))
    assert_same_bits(at_thread_counts(lambda: (a.T.contiguous().T @ b).numpy()))
    ap = lamina.from_numpy(rand(300, 710))[:, :700]
    outs = at_thread_counts(lambda: (ap @ b).numpy())
    assert_same_bits(outs)
    np.testing.assert_allclose(outs[0], ap.numpy().astype(np.float64) @ b.numpy(), **tol(700))


def test_a_packed_once_matches_per_block_across_threads():
    # N = 1100 > NC: at 1 and 2 threads each block has N > 512 and reuses one packed A per K block
    # for all its column blocks; at 3 threads (N blocks of <= 368) A is packed per block. K = 600
    # gives two K blocks. The bits must not change.
    a, b = lamina.from_numpy(rand(200, 600)), lamina.from_numpy(rand(600, 1100))
    outs = at_thread_counts(lambda: (a @ b).numpy())
    assert_same_bits(outs)
    np.testing.assert_allclose(outs[0], a.numpy().astype(np.float64) @ b.numpy(), **tol(600))


def test_b_in_place_matches_packed_across_threads():
    # M = 200 at 1 thread packs B per column block; at 2 threads (112 rows) it packs each B
    # micro-panel just before use (few_rows); at 3 threads each block has <= 80 rows and reads B in
    # place (gemm_f32.cpp, direct_b): the same products in the same order, so the same bits
    a, b = lamina.from_numpy(rand(200, 600)), lamina.from_numpy(rand(600, 100))
    outs = at_thread_counts(lambda: (a @ b).numpy())
    assert_same_bits(outs)
    np.testing.assert_allclose(outs[0], a.numpy().astype(np.float64) @ b.numpy(), **tol(600))


def test_few_rows_order_matches_block_order_across_threads():
    # x^T^T @ W^T, both stored transposed (tt): 200 rows at 1 thread take the block order (B packed
    # per 512-column block); at 2 and 3 threads each block has <= 128 rows and takes the few-rows
    # order (gemm_f32.cpp, few_rows: each B micro-panel packed just before use). K = 600 gives two
    # K blocks, N = 150 (< M, so threads split the rows) an edge panel. Same bits.
    x, w = rand(200, 600), rand(150, 600)
    xt, wt = lamina.from_numpy(np.ascontiguousarray(x.T)).T, lamina.from_numpy(w)
    outs = at_thread_counts(lambda: (xt @ wt.T).numpy())
    assert_same_bits(outs)
    np.testing.assert_allclose(outs[0], x.astype(np.float64) @ w.T, **tol(600))


@pytest.mark.parametrize("m,k", [(300, 600), (200, 1024)])
def test_b_rows_in_place_matches_block_order_across_threads(m, k):
    # x @ W^T (nt) with W stored [N, K], as in a linear forward: at 1 thread 300 rows (> 256), or
    # 200 rows with W's rows 4 KB apart (K = 1024, > 128 rows), take the block order; at 2 and 3
    # threads the blocks (<= 160 rows, <= 112 rows) take the B-in-place order (gemm_f32.cpp,
    # tile_bt: C^T = W @ x^T, W's rows read where they are stored, each tile transposed into C).
    # N = 150: an edge of 10 W rows (MR 14 / 6) and of C columns; the row blocks end off the 32 /
    # 16-column A^T panels. With a bias (beta = 1, linear) and without. Same bits.
    x, w, bias = rand(m, k), rand(150, k), rand(150)
    lx, lw, lb = lamina.from_numpy(x), lamina.from_numpy(w), lamina.from_numpy(bias)
    for b, ref_b in [(None, 0.0), (lb, bias)]:
        outs = at_thread_counts(lambda b=b: F.linear(lx, lw, b).numpy())
        assert_same_bits(outs)
        np.testing.assert_allclose(outs[0], x.astype(np.float64) @ w.T + ref_b, **tol(k))


BUILT = [c.lower() for c in cpu.built_capabilities()]
SUPPORTED = [c.lower() for c in cpu.get_supported_capabilities()]


@pytest.mark.skipif(bool(os.environ.get("LAMINA_CPU_CAPABILITY")), reason="already at a forced level")
@pytest.mark.parametrize("level", ["default", "avx2"])
def test_other_levels(level):
    if level not in BUILT or level not in SUPPORTED:
        pytest.skip(f"level {level!r} not built ({BUILT}) or not run by this CPU ({SUPPORTED})")
    if level == max(BUILT, key=["default", "avx2", "avx512"].index):
        pytest.skip(f"{level} is the best level: the in-process tests ran it")
    env = dict(os.environ, LAMINA_CPU_CAPABILITY=level)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
                       env=env, capture_output=True, text=True, timeout=300, check=False)  # rc asserted below
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout


@pytest.mark.skipif(not os.environ.get("LAMINA_CPU_CAPABILITY"), reason="only under a forced level")
def test_forced_level_is_active():
    assert cpu.get_cpu_capability().lower() == os.environ["LAMINA_CPU_CAPABILITY"].lower()
