"""The RBM's float32 Bernoulli draws run Philox on a vector of counters at a time
(cpp/ops/rbm.cpp philox_word0_lanes): every draw must be exactly uniform(seed, offset + i) < p[i]
with the uniforms _C.rbm_noise replays (the scalar definition), for the vector body, the tail and
a block where the counter's low 32-bit word wraps past 2^32."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina import _C


def _sample(p: np.ndarray) -> np.ndarray:
    return lamina.Tensor._wrap(_C.rbm_sample_bernoulli(lamina.from_numpy(p)._c)).numpy()


def _uniforms(n: int, seed: int, offset: int) -> np.ndarray:
    return lamina.Tensor._wrap(_C.rbm_noise(n, seed, offset, False, lamina.float32._c)).numpy()


@pytest.mark.parametrize("offset", [0, 5, (1 << 32) - 37, (3 << 32) - 8])
def test_bernoulli_float32_matches_replayed_uniforms(offset):
    rng = np.random.default_rng(offset % 1000)
    p = rng.uniform(0, 1, 1003).astype(np.float32)  # vector blocks of 8 / 16 plus a tail of 11 / 3
    p[:5] = [0.0, 1.0, 0.5, 2.0 ** -24, 1 - 2.0 ** -24]
    old = lamina.get_rng_state()
    try:
        lamina.set_rng_state((123, offset))
        out = _sample(p)
    finally:
        lamina.set_rng_state(old)
    u = _uniforms(1003, 123, offset)
    np.testing.assert_array_equal(out, (u < p).astype(np.float32))
    assert out[0] == 0.0 and out[1] == 1.0


def test_cd_step_float32_draws_replay():
    # Through the CD step (its hidden and visible draws use the same kernel): fixing the uniforms
    # and the probabilities in numpy reproduces the chain's visible sample exactly.
    rng = np.random.default_rng(3)
    B, V, H = 5, 37, 21
    v0 = (rng.uniform(0, 1, (B, V)) > 0.5).astype(np.float32)
    W = (rng.standard_normal((H, V)) * 0.1).astype(np.float32)
    vb = np.zeros(V, np.float32)
    hb = np.zeros(H, np.float32)
    res = _C.rbm_cd_step(lamina.from_numpy(v0)._c, lamina.from_numpy(W)._c, lamina.from_numpy(vb)._c,
                         lamina.from_numpy(hb)._c, 1, None, False)
    vk = lamina.Tensor._wrap(res[3]).numpy()
    seed, offset = res[-2], res[-1]
    u = _uniforms(B * (H + V), seed, offset)
    ph = 1 / (1 + np.exp(-(v0.astype(np.float64) @ W.T.astype(np.float64))))
    h = (u[:B * H].reshape(B, H) < ph).astype(np.float64)
    pv = 1 / (1 + np.exp(-(h @ W.astype(np.float64))))
    want = (u[B * H:].reshape(B, V) < pv).astype(np.float32)
    # float32 sigmoids vs float64 here: only draws within ~1e-6 of their probability could differ
    close = np.abs(u[B * H:].reshape(B, V) - pv) < 1e-5
    np.testing.assert_array_equal(vk[~close], want[~close])
