"""Autoencoder pretraining and RBM / DBN training run through lamina.optim and lamina.train.fit:
History, callbacks (EarlyStopping, ModelCheckpoint + resume, CSVLogger, LearningRateScheduler,
the progress bar), optimizer instances / factories / names, fresh corruption per batch, and the
RBM's momentum update equal to torch.optim.SGD's."""
import numpy as np
import pytest

import lamina
from lamina.data.datasets import Digits
from lamina.models import DBN, RBM, Autoencoder, DenoisingAutoencoder, StackedDenoisingAutoencoder
from lamina.train import Callback, CSVLogger, EarlyStopping, History, LearningRateScheduler, ModelCheckpoint


@pytest.fixture(scope="module")
def x_digits():
    ds = Digits(train=True)
    return (ds.data.reshape(len(ds), -1) / np.float32(ds.scale)).astype(np.float32)


class Recorder(Callback):
    """Counts hooks and keeps a copy of the weights after each epoch."""

    def on_train_begin(self, logs=None):
        self.batches, self.epochs, self.weights, self.begun = 0, [], [], getattr(self, "begun", 0) + 1

    def on_batch_end(self, batch, logs=None):
        self.batches += 1
        assert np.isfinite(logs["loss"]) and logs["size"] > 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, dict(logs)))
        self.weights.append({k: v.numpy().copy() for k, v in self.model.state_dict().items()})


def _params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# ---- autoencoders ----

def test_autoencoder_fit_history_callbacks_and_val(x_digits):
    lamina.manual_seed(0)
    dae = DenoisingAutoencoder(64, 24, corruption_level=0.2)
    rec = Recorder()
    hist = dae.fit(x_digits[:1000], epochs=3, batch_size=50, lr=3e-3, val_data=x_digits[1000:1400],
                   callbacks=[rec])
    assert isinstance(hist, History) and hist.epoch == [0, 1, 2]
    assert len(hist["loss"]) == 3 and hist["loss"][-1] < hist["loss"][0]
    assert len(hist["val_loss"]) == 3 and hist["val_loss"][-1] < hist["val_loss"][0]
    assert rec.batches == 3 * 20 and [e for e, _ in rec.epochs] == [0, 1, 2]
    assert rec.epochs[-1][1]["loss"] == hist["loss"][-1]
    # val_loss is the clean (eval-mode) reconstruction loss of the final weights
    err = dae.reconstruction_error(x_digits[1000:1400]).mean()
    assert hist["val_loss"][-1] == pytest.approx(err, rel=1e-5)
    assert not dae.training


def test_autoencoder_early_stopping_restores_best(x_digits):
    lamina.manual_seed(1)
    ae = Autoencoder(64, 16)
    rec = Recorder()
    # min_delta so large that no epoch after the first counts as an improvement: stop after two,
    # restoring the first epoch's weights.
    es = EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    hist = ae.fit(x_digits[:600], epochs=10, batch_size=30, callbacks=[rec, es])
    assert len(hist["loss"]) == 2 and es.stopped_epoch == 1
    for k, v in _params(ae).items():
        np.testing.assert_array_equal(v, rec.weights[0][k])
        assert not np.array_equal(v, rec.weights[1][k])


def test_dae_checkpoint_resume_reproduces_run(x_digits, tmp_path):
    x = x_digits[:400]

    def run(**kw):
        lamina.manual_seed(3)
        dae = DenoisingAutoencoder(64, 20, corruption="salt_and_pepper", corruption_level=0.3)
        dae.fit(x, epochs=4, batch_size=40, lr=1e-2, optimizer="sgd", **kw)
        return dae

    full = run(callbacks=[ModelCheckpoint(str(tmp_path / "dae-{epoch}.lam"), monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"dae-{i}.lam" for i in range(1, 5)]
    lamina.manual_seed(99)  # the checkpoint restores the RNG, the optimizer (momentum) and the weights
    resumed = DenoisingAutoencoder(64, 20, corruption="salt_and_pepper", corruption_level=0.3)
    hist = resumed.fit(x, epochs=4, batch_size=40, lr=1e-2, optimizer="sgd", resume_from=str(tmp_path / "dae-2.lam"))
    assert hist.epoch == [0, 1, 2, 3]  # the checkpoint's history, then epochs 2 and 3
    for k, v in _params(resumed).items():
        np.testing.assert_allclose(v, _params(full)[k], rtol=1e-6, atol=1e-7)


def test_autoencoder_optimizer_instance_factory_name(x_digits):
    x = x_digits[:500]
    ae = Autoencoder(64, 16)
    opt = lamina.optim.SGD(ae.parameters(), lr=0.5, momentum=0.9)
    hist = ae.fit(x, epochs=3, batch_size=25, optimizer=opt)
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["lr"] == [0.5] * 3  # the instance's own lr, not fit's default
    assert all("momentum_buffer" in opt.state[p] for p in ae.parameters())
    made = []

    def factory(params, lr):
        made.append(lr)
        return lamina.optim.Adam(params, lr=lr)

    ae.fit(x, epochs=1, lr=2e-3, optimizer=factory)
    assert made == [2e-3]
    assert ae.fit(x, epochs=1, lr=0.1, optimizer="AdaGrad")["lr"] == [0.1]  # names of lamina.optim classes
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; choose from .*'adamw'"):
        ae.fit(x, epochs=1, optimizer="lbfgs")
    with pytest.raises(TypeError, match="an Optimizer instance holds one level's parameters"):
        StackedDenoisingAutoencoder([64, 16, 8], n_classes=0).pretrain(x, 1, optimizer=opt)


def test_fresh_corruption_per_batch(x_digits):
    lamina.manual_seed(4)
    dae = DenoisingAutoencoder(64, 16, corruption="masking", corruption_level=0.5)
    masks = []
    corrupt = dae.corrupt

    def recording(x):
        out = corrupt(x)
        masks.append(out.numpy() == 0)
        return out

    dae.corrupt = recording  # an instance attribute: only this object records
    x = np.ones((40, 64), np.float32)
    dae.fit(x, epochs=2, batch_size=20, shuffle=False)
    assert len(masks) == 4  # one corruption per training batch, none for anything else
    for i in range(4):
        assert abs(masks[i].mean() - 0.5) < 0.05
        for j in range(i):
            assert (masks[i] != masks[j]).mean() > 0.3


def test_sdae_pretrain_callbacks_and_progress(x_digits, capsys):
    lamina.manual_seed(5)
    sdae = StackedDenoisingAutoencoder([64, 32, 16], n_classes=10)
    rec = Recorder()
    hists = sdae.pretrain(x_digits[:300], epochs_per_layer=[2, 1], batch_size=50, callbacks=[rec], progress=True)
    assert [len(h["loss"]) for h in hists] == [2, 1]
    assert rec.begun == 2 and [e for e, _ in rec.epochs] == [0]  # the second level's fit
    err = capsys.readouterr().err
    assert err.count("Epoch 1/2") == 1 and err.count("Epoch 2/2") == 1 and err.count("Epoch 1/1") == 1


# ---- RBM and DBN ----

def test_rbm_fit_history_and_callbacks(x_digits, tmp_path):
    lamina.manual_seed(6)
    rbm = RBM(64, 32)
    rec = Recorder()
    csv = tmp_path / "rbm.csv"
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 if epoch < 2 else 0.05)
    hist = rbm.fit(x_digits[:1000], epochs=3, batch_size=20, val_data=x_digits[1000:1200],
                   callbacks=[rec, CSVLogger(str(csv)), sched])
    assert isinstance(hist, History)
    assert hist["recon_error"] == hist["loss"] and len(hist["loss"]) == 3
    assert hist["loss"][-1] < hist["loss"][0]
    assert set(hist.history) >= {"loss", "progress", "val_loss", "val_progress", "lr"}
    assert hist["lr"] == [0.1, 0.1, 0.05]
    assert rec.batches == 3 * 50
    assert hist["val_loss"][-1] == pytest.approx(rbm.reconstruction_error(x_digits[1000:1200]), rel=1e-5)
    lines = csv.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["epoch", "loss", "lr"] and len(lines) == 4


def test_rbm_early_stopping_on_progress(x_digits):
    lamina.manual_seed(7)
    rbm = RBM(64, 16)
    rec = Recorder()
    es = EarlyStopping(monitor="progress", mode="max", patience=0, min_delta=1e9)
    hist = rbm.fit(x_digits[:400], epochs=10, batch_size=20, callbacks=[rec, es])
    assert len(hist["progress"]) == 2
    np.testing.assert_array_equal(rbm.weight.detach().numpy(), rec.weights[0]["weight"])


def test_rbm_checkpoint_resume_reproduces_run(x_digits, tmp_path):
    x = x_digits[:300]

    def fresh():
        return RBM(64, 16, lr=0.1, momentum=0.5, weight_decay=1e-3)

    lamina.manual_seed(8)
    full = fresh()
    full.fit(x, epochs=4, batch_size=30, monitor=False,
             callbacks=[ModelCheckpoint(str(tmp_path / "rbm-{epoch}.lam"), monitor="loss")])
    lamina.manual_seed(123)
    resumed = fresh()
    hist = resumed.fit(x, epochs=4, batch_size=30, monitor=False, resume_from=str(tmp_path / "rbm-3.lam"))
    assert hist.epoch == [0, 1, 2, 3]
    for a, b in zip(resumed.parameters(), full.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_rbm_optimizer_instance_equals_default(x_digits):
    x = x_digits[:200]
    ws = []
    for use_instance in (False, True):
        lamina.manual_seed(9)
        rbm = RBM(64, 16, lr=0.1, momentum=0.5)
        opt = lamina.optim.SGD(rbm.parameters(), lr=0.1, momentum=0.5) if use_instance else None
        rbm.fit(x, epochs=2, batch_size=20, monitor=False, optimizer=opt)
        ws.append(rbm.weight.detach().numpy().copy())
        if use_instance:
            assert "momentum_buffer" in opt.state[rbm.weight]
    np.testing.assert_array_equal(ws[0], ws[1])
    # any lamina.optim optimizer follows the CD gradient: Adam through a factory learns too
    lamina.manual_seed(10)
    rbm = RBM(64, 32)
    hist = rbm.fit(x_digits[:600], epochs=4, batch_size=20, monitor=False, optimizer=lamina.optim.Adam, lr=3e-3)
    assert hist["loss"][-1] < 0.7 * hist["loss"][0], hist["loss"]
    with pytest.raises(TypeError, match="an Optimizer instance holds one RBM's parameters"):
        DBN([64, 16, 8]).pretrain(x, 1, optimizer=lamina.optim.SGD(rbm.parameters(), lr=0.1))


def test_rbm_momentum_matches_torch_sgd():
    # The RBM's update is torch.optim.SGD (momentum, weight decay on W only) with the gradient set
    # to minus the CD statistic (sparsity term included).
    torch = pytest.importorskip("torch")
    lamina.manual_seed(11)
    rbm = RBM(7, 5, lr=0.05, momentum=0.9, weight_decay=0.01, sparsity_target=0.1, sparsity_cost=0.3,
              dtype=lamina.float64)
    tp = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in (rbm.weight, rbm.vbias, rbm.hbias)]
    topt = torch.optim.SGD([{"params": tp[:1], "weight_decay": 0.01}, {"params": tp[1:], "weight_decay": 0.0}],
                           lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(4):
        v = (rng.random((6, 7)) < 0.5).astype(np.float64)
        st = rbm.contrastive_divergence(v)
        for p, g in zip(tp, (st["dW"], st["dvb"], st["dhb"])):
            p.grad = -torch.from_numpy(np.array(g))
        topt.step()
        for p, q in zip(tp, (rbm.weight, rbm.vbias, rbm.hbias)):
            np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_dbn_pretrain_callbacks(x_digits):
    lamina.manual_seed(12)
    dbn = DBN([64, 24, 12], n_classes=10)
    rec = Recorder()
    hists = dbn.pretrain(x_digits[:300], epochs_per_layer=[2, 3], batch_size=30, callbacks=[rec])
    assert [len(h["recon_error"]) for h in hists] == [2, 3]
    assert rec.begun == 2 and rec.batches == 3 * 10  # the last layer's fit
    assert "progress" not in hists[0].history  # DBN.pretrain's default monitor=False
