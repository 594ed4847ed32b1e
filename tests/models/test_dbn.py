"""DBN: greedy pretraining, conversion to a classifier, fine-tuning on the digits and (slow) MNIST."""
import time

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.data.datasets import Digits, mnist_split
from lamina.models.dbn import DBN
from lamina.train import evaluate


def _arrays(ds):
    x = (ds.data.reshape(len(ds), -1) / np.float32(ds.scale)).astype(np.float32)
    return x, ds.targets


def _acc(model, x, y):
    return evaluate(model, None, (x, y), batch_size=500)["accuracy"]


def test_pretrain_transform_and_classifier_init():
    x, _ = _arrays(Digits(train=True))
    dbn = DBN([64, 32, 16], n_classes=10)
    hists = dbn.pretrain(x[:400], epochs_per_layer=[2, 1], batch_size=50, monitor=True)
    assert [len(h["recon_error"]) for h in hists] == [2, 1]
    f = dbn.transform(x[:5])
    assert f.shape == (5, 16)
    # transform = the up-pass through both RBMs.
    h1 = dbn.rbms[0].transform(x[:5])
    np.testing.assert_allclose(f.numpy(), dbn.rbms[1].transform(h1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(dbn(x[:5]).detach().numpy(), f.numpy(), rtol=1e-6)
    clf = dbn.to_classifier()
    lins = [m for m in clf if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in lins] == [(32, 64), (16, 32), (10, 16)]
    np.testing.assert_array_equal(lins[0].weight.detach().numpy(), dbn.rbms[0].weight.detach().numpy())
    np.testing.assert_array_equal(lins[1].bias.detach().numpy(), dbn.rbms[1].hbias.detach().numpy())
    # The classifier's hidden activations are the DBN features.
    with lamina.no_grad():
        hid = lamina.from_numpy(x[:5])
        for m in list(clf)[:-1]:  # everything but the output layer
            hid = m(hid)
    np.testing.assert_allclose(hid.numpy(), f.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2 epoch counts for 1 layers"):
        DBN([64, 8]).pretrain(x[:10], epochs_per_layer=[1, 1])


def test_dbn_digits_fine_tuned_accuracy():
    xtr, ytr = _arrays(Digits(train=True))
    xte, yte = _arrays(Digits(train=False))
    dbn = DBN([64, 100, 100], n_classes=10, lr=0.1)
    dbn.pretrain(xtr, epochs_per_layer=10, batch_size=20)
    dbn.fine_tune((xtr, ytr), epochs=60, lr=0.1, momentum=0.9, batch_size=20)
    acc = _acc(dbn, xte, yte)
    print(f"digits DBN 64-100-100-10 test accuracy {acc:.4f}")
    assert acc >= 0.95


@pytest.mark.slow
def test_dbn_mnist_and_pretraining_vs_random(data_dir):
    tr, te = mnist_split(data_dir / "mnist", n_train=8000, seed=0)
    xtr, ytr = _arrays(tr)
    xte, yte = _arrays(te)
    sizes = [784, 500, 500]
    t0 = time.perf_counter()
    lamina.manual_seed(0)
    dbn = DBN(sizes, n_classes=10, lr=0.05)
    dbn.pretrain(xtr, epochs_per_layer=10, batch_size=20)
    t_pre = time.perf_counter() - t0
    dbn.fine_tune((xtr, ytr), epochs=40, lr=0.1, momentum=0.9, batch_size=50, dropout=0.5)
    t_total = time.perf_counter() - t0
    acc = _acc(dbn, xte, yte)
    # The same network from random init, trained for the same wall time.
    lamina.manual_seed(0)
    rand = DBN(sizes, n_classes=10)
    clf = rand.to_classifier(dropout=0.5)
    for m in clf:
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    opt = lamina.optim.SGD(clf.parameters(), lr=0.1, momentum=0.9)
    t1, epochs = time.perf_counter(), 0
    while time.perf_counter() - t1 < t_total:
        lamina.train.fit(clf, nn.CrossEntropyLoss(), opt, (xtr, ytr), epochs=1, batch_size=50, progress=False)
        epochs += 1
    acc_rand = _acc(clf, xte, yte)
    print(f"MNIST DBN 784-500-500-10: pretrain {t_pre:.1f}s, total {t_total:.1f}s, test accuracy {acc:.4f}; "
          f"random init, same time ({epochs} epochs): {acc_rand:.4f}")
    assert acc >= 0.97
    assert acc >= acc_rand - 0.005
