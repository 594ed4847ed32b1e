"""lamina.anomaly: reconstruction scores, threshold calibration, AnomalyDetector, ROC-AUC and
precision / recall (hand-computed examples), and an autoencoder on digits telling real digits
from corrupted and out-of-distribution inputs."""
import numpy as np
import pytest

import lamina
from lamina.anomaly import AnomalyDetector, calibrate_threshold, precision_recall, reconstruction_scores, roc_auc
from lamina.data.datasets import Digits
from lamina.models.autoencoder import Autoencoder, DenoisingAutoencoder


def test_roc_auc_hand_computed():
    # positives 0.8, 0.4; negatives 0.5, 0.1, 0.4: pairs (pos > neg) = 0.8>{0.5,0.1,0.4} -> 3,
    # 0.4 > 0.1 -> 1, 0.4 == 0.4 -> 1/2: AUC = 4.5 / 6
    assert roc_auc([0.8, 0.5, 0.1, 0.4, 0.4], [1, 0, 0, 1, 0]) == pytest.approx(4.5 / 6)
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0
    assert roc_auc([5, 5, 5, 5], [1, 0, 1, 0]) == 0.5
    # against the O(n^2) pair count on random data with many ties
    rng = np.random.Generator(np.random.Philox(1))
    s = rng.integers(0, 6, 200).astype(float)
    y = rng.random(200) < 0.3
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(s, y) == pytest.approx(pairs / (len(pos) * len(neg)), abs=1e-12)
    with pytest.raises(ValueError, match="needs both classes, got 0 positives and 3 negatives"):
        roc_auc([1, 2, 3], [0, 0, 0])
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        roc_auc([1, 2, 3], [0, 1])


def test_precision_recall_and_threshold():
    p, r = precision_recall([True, True, False, False, True], [1, 0, 1, 0, 1])
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert precision_recall([False, False], [1, 0]) == (0.0, 0.0)
    assert precision_recall([True, False], [1, 0]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="2 predictions but 3 labels"):
        precision_recall([True, False], [1, 0, 1])
    assert calibrate_threshold(np.arange(101.0), 95) == pytest.approx(95.0)
    assert calibrate_threshold([3.0], 50) == 3.0
    with pytest.raises(ValueError, match="percentile must be in \\[0, 100\\], got 120"):
        calibrate_threshold([1.0, 2.0], 120)
    with pytest.raises(ValueError, match="no scores"):
        calibrate_threshold([], 95)


def test_reconstruction_scores_module_and_callable():
    x = lamina.rand(7, 1, 4, 4)
    s = reconstruction_scores(lambda b: b * 0.5, x, batch_size=3)
    np.testing.assert_allclose(s, ((x.numpy().reshape(7, -1) * 0.5) ** 2).mean(1), rtol=1e-6)
    dae = DenoisingAutoencoder(16, 4, corruption_level=0.5)
    dae.train()
    np.testing.assert_allclose(reconstruction_scores(dae, x), dae.reconstruction_error(x), rtol=1e-6)
    assert dae.training  # mode restored
    with pytest.raises(ValueError, match="returned 8 values per sample for inputs with 16"):
        reconstruction_scores(lambda b: b.reshape(7, -1)[:, :8], x)
    with pytest.raises(RuntimeError, match="call fit"):
        AnomalyDetector(dae).predict(x)


def test_autoencoder_detects_corrupted_and_ood_digits():
    tr, te = Digits(train=True, flatten=True), Digits(train=False, flatten=True)
    x_tr = lamina.from_numpy(np.ascontiguousarray(tr._images(np.arange(len(tr)))))
    x_all = np.ascontiguousarray(te._images(np.arange(len(te))))
    x_val, x_test = lamina.from_numpy(x_all[:180].copy()), x_all[180:]
    ae = Autoencoder(64, 24)
    ae.fit(x_tr, epochs=30, batch_size=32, lr=3e-3)
    det = AnomalyDetector(ae, percentile=95).fit(x_val)
    n = len(x_test)
    rng = np.random.Generator(np.random.Philox(3))
    # heavy salt and pepper, pixels shuffled within each image, uniform noise (out of distribution)
    sp = x_test.copy()
    hit = rng.random(sp.shape) < 0.4
    sp[hit] = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
    shuffled = np.stack([row[rng.permutation(64)] for row in x_test])
    noise = rng.random((n, 64)).astype(np.float32)
    aucs = {}
    for name, bad in (("salt_and_pepper", sp), ("shuffled", shuffled), ("uniform", noise)):
        xs = lamina.from_numpy(np.concatenate([x_test, bad]).astype(np.float32))
        labels = np.r_[np.zeros(n), np.ones(n)]
        scores = det.score(xs)
        aucs[name] = roc_auc(scores, labels)
        pred = det.predict(xs)
        assert pred.dtype == bool and pred.shape == (2 * n,)
        prec, rec = precision_recall(pred, labels)
        assert prec > 0.8 and rec > 0.5, (name, prec, rec)
        # about 5% of the normal test digits are flagged
        assert pred[:n].mean() < 0.15
    assert min(aucs.values()) >= 0.9, aucs
