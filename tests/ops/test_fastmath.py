"""The vectorised float32 exp / tanh / sigmoid (cpp/core/fastmath.h) against float64 references,
over the whole range and near zero, where a naive tanh formula loses its relative precision."""
import numpy as np
import pytest

import lamina

X = np.concatenate([np.linspace(-90, 90, 200001), np.geomspace(1e-8, 1, 2001), -np.geomspace(1e-8, 1, 2001),
                    [0.0, -0.0, np.inf, -np.inf]]).astype(np.float32)


def _rel_err(got, want):
    want = want.astype(np.float64)
    scale = np.maximum(np.abs(want), np.finfo(np.float32).tiny)
    return np.abs(got.astype(np.float64) - want) / scale


@pytest.mark.parametrize("name,ref,tol", [
    ("exp", lambda x: np.exp(x), 4e-7),
    ("tanh", lambda x: np.tanh(x), 4e-7),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), 4e-7),
])
def test_fast_float32_math_is_accurate(name, ref, tol):
    x = X if name != "exp" else X[np.abs(X) < 87]
    got = getattr(lamina, name)(lamina.tensor(x)).numpy()
    with np.errstate(over="ignore"):
        want = ref(x.astype(np.float64))
    err = _rel_err(got, want)
    finite = np.isfinite(want) & (np.abs(want) > 1e-30)
    assert err[finite].max() < tol, f"{name}: max relative error {err[finite].max():.3g} at x={x[finite][err[finite].argmax()]}"


def test_fast_math_special_values():
    t = lamina.tensor(np.array([np.nan, np.inf, -np.inf, 0.0, 100.0, -100.0], np.float32))
    np.testing.assert_array_equal(lamina.tanh(t).numpy(), [np.nan, 1, -1, 0, 1, -1])
    # sigmoid(-100) and exp(-100) are float32 denormals (~3.8e-44), not 0: the vectorised math
    # keeps denormals (as PyTorch does); the old loops flushed them.
    tiny = np.float32(np.exp(-100.0))
    np.testing.assert_array_equal(lamina.sigmoid(t).numpy(), [np.nan, 1, 0, 0.5, 1, tiny])
    e = lamina.exp(t).numpy()
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == 0 and e[3] == 1 and e[4] == np.inf and e[5] == tiny
