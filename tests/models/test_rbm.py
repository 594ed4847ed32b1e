"""RBM: the C++ contrastive-divergence statistics against a NumPy reference fed the same random
numbers, the update rule, free energy against brute force, seeding, and training on the digits."""
import itertools

import numpy as np
import pytest

import lamina
from lamina import _C
from lamina.data.datasets import Digits
from lamina.models.rbm import RBM


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _reference_cd(v0, W, vb, hb, k, chain, gaussian, noise):
    """NumPy CD-k / PCD statistics with the kernel's documented counter layout."""
    B, V = v0.shape
    H = W.shape[0]
    ph0 = _sig(v0 @ W.T + hb)
    pv0 = ph0 @ W + vb
    if not gaussian:
        pv0 = _sig(pv0)
    recon = np.mean((v0 - pv0) ** 2)
    v = (chain if chain is not None else v0).copy()
    Bc = v.shape[0]
    ph = _sig(v @ W.T + hb)
    pos = 0
    for _ in range(k):
        u_h = noise[pos:pos + Bc * H].reshape(Bc, H)
        pos += Bc * H
        h = (u_h < ph).astype(np.float64)
        m = h @ W + vb
        z = noise[pos:pos + Bc * V].reshape(Bc, V)
        pos += Bc * V
        v = m + z if gaussian else (z < _sig(m)).astype(np.float64)
        ph = _sig(v @ W.T + hb)
    dW = ph0.T @ v0 / B - ph.T @ v / Bc
    dvb = v0.mean(0) - v.mean(0)
    dhb = ph0.mean(0) - ph.mean(0)
    return dW, dvb, dhb, v, recon, ph0.mean(0)


def _tiny(rng, B=4, V=7, H=5, gaussian=False):
    v0 = rng.normal(size=(B, V)) if gaussian else (rng.random((B, V)) < 0.5).astype(np.float64)
    W = rng.normal(scale=0.8, size=(H, V))
    return v0, W, rng.normal(scale=0.3, size=V), rng.normal(scale=0.3, size=H)


@pytest.mark.parametrize("k,persistent,gaussian", [(1, False, False), (3, False, False), (2, True, False),
                                                    (1, False, True), (2, True, True)])
def test_cd_step_matches_numpy_reference(k, persistent, gaussian):
    rng = np.random.default_rng(k + 10 * persistent + 100 * gaussian)
    v0, W, vb, hb = _tiny(rng, gaussian=gaussian)
    chain = None
    if persistent:  # a chain with a different number of rows than the batch
        chain = rng.normal(size=(6, 7)) if gaussian else (rng.random((6, 7)) < 0.5).astype(np.float64)
    t = lambda a: lamina.from_numpy(np.ascontiguousarray(a))._c  # noqa: E731
    dW, dvb, dhb, vk, recon, hmean, seed, off = _C.rbm_cd_step(
        t(v0), t(W), t(vb), t(hb), k, None if chain is None else t(chain), gaussian)
    Bc = 6 if persistent else 4
    noise = lamina.Tensor._wrap(_C.rbm_noise(k * Bc * (5 + 7), seed, off, False, lamina.float64._c)).numpy()
    if gaussian:  # hidden draws use uniforms, visible draws normals: rebuild each block from its counters
        noise = noise.copy()
        normal = lamina.Tensor._wrap(_C.rbm_noise(k * Bc * 12, seed, off, True, lamina.float64._c)).numpy()
        for s in range(k):
            a = s * Bc * 12 + Bc * 5
            noise[a:a + Bc * 7] = normal[a:a + Bc * 7]
    ref = _reference_cd(v0, W, vb, hb, k, chain, gaussian, noise)
    got = [lamina.Tensor._wrap(x).numpy() for x in (dW, dvb, dhb, vk)] + [recon,
                                                                          lamina.Tensor._wrap(hmean).numpy()]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    assert got[3].shape == (Bc, 7)
    if not gaussian:
        assert set(np.unique(got[3])) <= {0.0, 1.0}


def test_cd_step_float32_close_to_float64():
    rng = np.random.default_rng(3)
    v0, W, vb, hb = _tiny(rng, B=8, V=16, H=6)
    outs = []
    for dt in (np.float64, np.float32):
        lamina.manual_seed(5)
        t = lambda a: lamina.from_numpy(np.ascontiguousarray(a, dtype=dt))._c  # noqa: E731
        r = _C.rbm_cd_step(t(v0), t(W), t(vb), t(hb), 1, None, False)
        outs.append(lamina.Tensor._wrap(r[0]).numpy().astype(np.float64))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_update_rule_momentum_decay_sparsity():
    lamina.manual_seed(1)
    rbm = RBM(7, 5, lr=0.05, momentum=0.5, weight_decay=0.01, sparsity_target=0.1, sparsity_cost=0.3,
              dtype=lamina.float64)
    rng = np.random.default_rng(0)
    v = (rng.random((4, 7)) < 0.5).astype(np.float64)
    inc = None
    for _ in range(2):
        W0, vb0, hb0 = (p.detach().numpy().copy() for p in (rbm.weight, rbm.vbias, rbm.hbias))
        st = rbm.contrastive_divergence(v)
        noise = lamina.Tensor._wrap(_C.rbm_noise(4 * 12, st["seed"], st["offset"], False, lamina.float64._c)).numpy()
        dW, dvb, dhb, _, _, q = _reference_cd(v, W0, vb0, hb0, 1, None, False, noise)
        d = 0.3 * (q - 0.1)
        g = [dW - 0.01 * W0 - np.outer(d, v.mean(0)), dvb, dhb - d]
        inc = [0.05 * x for x in g] if inc is None else [0.5 * i + 0.05 * x for i, x in zip(inc, g)]
        for p, p0, i in zip((rbm.weight, rbm.vbias, rbm.hbias), (W0, vb0, hb0), inc):
            np.testing.assert_allclose(p.detach().numpy(), p0 + i, rtol=1e-10, atol=1e-12)


def test_sample_bernoulli_seeded_and_fair():
    p = lamina.full((200, 300), 0.3)
    lamina.manual_seed(11)
    a = lamina.Tensor._wrap(_C.rbm_sample_bernoulli(p._c)).numpy()
    lamina.manual_seed(11)
    b = lamina.Tensor._wrap(_C.rbm_sample_bernoulli(p._c)).numpy()
    c = lamina.Tensor._wrap(_C.rbm_sample_bernoulli(p._c)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {0.0, 1.0}
    assert abs(a.mean() - 0.3) < 0.01
    # Non-contiguous input and the extremes.
    q = lamina.from_numpy(np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)).t()
    np.testing.assert_array_equal(lamina.Tensor._wrap(_C.rbm_sample_bernoulli(q._c)).numpy(), [[0, 0], [1, 1]])
    z = lamina.Tensor._wrap(_C.rbm_noise(20000, 3, 0, True, lamina.float32._c)).numpy()
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_matches_brute_force(visible):
    rbm = RBM(4, 3, visible=visible, dtype=lamina.float64)
    rng = np.random.default_rng(2)
    with lamina.no_grad():
        for p, s in ((rbm.weight, 1.0), (rbm.vbias, 0.5), (rbm.hbias, 0.5)):
            p.copy_(lamina.from_numpy(rng.normal(scale=s, size=p.shape)))
    W, b, c = (p.detach().numpy() for p in (rbm.weight, rbm.vbias, rbm.hbias))
    v = rng.normal(size=(5, 4)) if visible == "gaussian" else (rng.random((5, 4)) < 0.5).astype(np.float64)
    ref = []
    for x in v:
        es = []
        for h in itertools.product([0.0, 1.0], repeat=3):
            h = np.array(h)
            vis = 0.5 * np.sum((x - b) ** 2) if visible == "gaussian" else -x @ b
            es.append(vis - h @ c - h @ W @ x)
        es = np.array(es)
        ref.append(-np.log(np.sum(np.exp(-es))))
    np.testing.assert_allclose(rbm.free_energy(v).detach().numpy(), ref, rtol=1e-10)


def test_conditionals_and_helpers():
    rbm = RBM(6, 4)
    v = lamina.from_numpy((np.random.default_rng(0).random((3, 6)) < 0.5).astype(np.float32))
    p, h = rbm.sample_h(v)
    assert p.shape == (3, 4) and h.shape == (3, 4)
    assert set(np.unique(h.numpy())) <= {0.0, 1.0}
    m, v2 = rbm.sample_v(h)
    assert m.shape == (3, 6) and set(np.unique(v2.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(rbm(v).detach().numpy(), rbm.transform(v).numpy())
    np.testing.assert_allclose(p.numpy(), rbm.transform(v).numpy())
    assert rbm.gibbs(v, 3).shape == (3, 6)
    W, b, c = (t.detach().numpy() for t in (rbm.weight, rbm.vbias, rbm.hbias))
    vn = v.numpy()
    r = _sig(_sig(vn @ W.T + c) @ W + b)
    assert rbm.reconstruction_error(v) == pytest.approx(np.mean((vn - r) ** 2), rel=1e-5)
    g = RBM(6, 4, visible="gaussian")
    mg, vg = g.sample_v(h)
    assert not np.allclose(mg.numpy(), vg.numpy())


def test_errors():
    with pytest.raises(ValueError, match="visible must be"):
        RBM(4, 3, visible="poisson")
    with pytest.raises(ValueError, match="at least 1"):
        RBM(4, 3, k=0)
    rbm = RBM(4, 3)
    with pytest.raises(ValueError, match="5 features per sample, expected n_visible=4"):
        rbm.transform(np.zeros((2, 5), np.float32))
    t = lambda *s: lamina.zeros(*s)._c  # noqa: E731
    with pytest.raises(ValueError, match=r"weight \[3, 5\] does not match data with 4"):
        _C.rbm_cd_step(t(2, 4), t(3, 5), t(4), t(3), 1, None, False)
    with pytest.raises(ValueError, match="hidden bias has 2 elements, expected 3"):
        _C.rbm_cd_step(t(2, 4), t(3, 4), t(4), t(2), 1, None, False)
    with pytest.raises(ValueError, match=r"persistent chain has to be \[chains, 4\]"):
        _C.rbm_cd_step(t(2, 4), t(3, 4), t(4), t(3), 1, t(2, 5), False)
    with pytest.raises(ValueError, match="k \\(Gibbs steps\\) has to be at least 1, got 0"):
        _C.rbm_cd_step(t(2, 4), t(3, 4), t(4), t(3), 0, None, False)
    with pytest.raises(TypeError, match="must share a dtype"):
        _C.rbm_cd_step(t(2, 4), lamina.zeros(3, 4, dtype=lamina.float64)._c, t(4), t(3), 1, None, False)


def _digits():
    ds = Digits(train=True)
    return (ds.data.reshape(len(ds), -1) / np.float32(ds.scale)).astype(np.float32)


@pytest.mark.parametrize("persistent", [False, True])
def test_reconstruction_error_falls_on_digits(persistent):
    x = _digits()
    rbm = RBM(64, 64, k=1, persistent=persistent, lr=0.1, momentum=0.5)
    hist = rbm.fit(x, epochs=10, batch_size=20)
    r, pll = hist["recon_error"], hist["progress"]
    assert len(r) == 10 and r[-1] < 0.6 * r[0], r
    assert np.mean(pll[-3:]) > pll[0] + 2, pll  # the pseudo-log-likelihood (noisy) rises
    assert rbm.reconstruction_error(x) < r[0]


def test_fit_seeded_reproducible():
    x = _digits()[:300]
    ws = []
    for _ in range(2):
        lamina.manual_seed(42)
        rbm = RBM(64, 16, persistent=True, k=2)
        rbm.fit(x, epochs=2, batch_size=50, monitor=False)
        ws.append(rbm.weight.detach().numpy().copy())
    np.testing.assert_array_equal(ws[0], ws[1])


def test_gaussian_visibles_on_standardised_digits():
    x = _digits()
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    rbm = RBM(64, 100, visible="gaussian")  # lr defaults to 0.01 for Gaussian visibles
    assert rbm.lr == 0.01
    before = rbm.reconstruction_error(x)
    hist = rbm.fit(x, epochs=12, batch_size=20)
    assert np.all(np.isfinite(hist["recon_error"]))
    assert hist["progress"][-1] < 0.6 * before, (before, hist)
    assert hist["recon_error"][-1] < hist["recon_error"][0]


def test_cd_step_independent_of_thread_count():
    rng = np.random.default_rng(4)
    v0, W, vb, hb = _tiny(rng, B=64, V=200, H=120)
    t = lambda a: lamina.from_numpy(np.ascontiguousarray(a, dtype=np.float32))._c  # noqa: E731
    n0 = lamina.get_num_threads()
    outs = []
    try:
        for n in (1, 2):
            lamina.set_num_threads(n)
            lamina.manual_seed(9)
            r = _C.rbm_cd_step(t(v0), t(W), t(vb), t(hb), 2, t(v0[:40]), False)
            outs.append(lamina.Tensor._wrap(r[3]).numpy().copy())
    finally:
        lamina.set_num_threads(n0)
    np.testing.assert_array_equal(outs[0], outs[1])
