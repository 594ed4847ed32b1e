"""lamina.htm.Classifier / Predictor: softmax regression against a NumPy reference, and k-step
forecasting from the temporal memory's active cells."""
import numpy as np
import pytest
from lamina import htm


def test_classifier_matches_numpy_softmax_regression():
    rng = np.random.default_rng(0)
    clf = htm.Classifier(alpha=0.3)
    w = np.zeros((50, 4))
    for _ in range(40):
        idx = np.sort(rng.choice(50, 6, replace=False))
        label = int(rng.integers(4))
        if _ == 0:
            label = 3  # the first example already sizes the classes
        z = w[idx].sum(0)
        p = np.exp(z - z.max())
        p /= p.sum()
        t = np.eye(4)[label]
        w[idx] += 0.3 * (t - p)
        clf.learn(idx, label)
    q = np.sort(rng.choice(50, 6, replace=False))
    z = w[q].sum(0)
    ref = np.exp(z - z.max())
    np.testing.assert_allclose(clf.infer(q), ref / ref.sum(), rtol=1e-4, atol=1e-6)
    mask = np.zeros(60, dtype=bool)
    mask[q] = True
    np.testing.assert_allclose(clf.infer(mask), clf.infer(q))


def test_predictor_forecasts_a_sequence_with_the_temporal_memory():
    rng = np.random.default_rng(1)
    cats = [0, 1, 2, 3, 1, 4]  # category 1 is followed by 2 or by 4 depending on context
    pats = {c: np.sort(rng.choice(256, 12, replace=False)) for c in set(cats)}
    tm = htm.TemporalMemory(256, cells_per_column=8, activation_threshold=8, min_threshold=6,
                            max_new_synapse_count=12)
    pr = htm.Predictor(steps=(1, 2), alpha=0.2)
    rec = 0
    for _ in range(30):
        for c in cats:
            tm.compute(pats[c], learn=True)
            pr.learn(rec, tm.active_cell_indices(), c)
            rec += 1
    hits1 = hits2 = 0
    for i, c in enumerate(cats * 2):
        tm.compute(pats[c], learn=False)
        pdf = pr.infer(tm.active_cell_indices())
        nxt, nxt2 = (cats * 3)[i + 1], (cats * 3)[i + 2]
        hits1 += int(np.argmax(pdf[1]) == nxt)
        hits2 += int(np.argmax(pdf[2]) == nxt2)
    assert hits1 == 12 and hits2 == 12


def test_predictor_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        htm.Predictor(steps=())
    with pytest.raises(ValueError, match="alpha"):
        htm.Classifier(alpha=0)
    with pytest.raises(ValueError, match="classification"):
        htm.Classifier().learn([1, 2], -1)
