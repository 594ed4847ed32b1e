"""fit(): learning, History, callbacks (EarlyStopping restores best weights on an overfitting
run, ModelCheckpoint, CSVLogger, LearningRateScheduler), and exact resume from a checkpoint."""
import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, TensorDataset
from lamina.train import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, evaluate,
                          fit, predict)


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return lamina.tensor(x), lamina.tensor(y)


def test_fit_learns_and_records_history():
    x, y = blobs()
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = fit(model, nn.CrossEntropyLoss(), opt, (x, y), val_data=(x, y), epochs=15, batch_size=16,
               progress=False)
    assert len(hist.epoch) == 15
    assert hist["loss"][-1] < hist["loss"][0] * 0.5
    assert hist["val_accuracy"][-1] >= 0.95
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "samples_per_s"}
    res = evaluate(model, nn.CrossEntropyLoss(), (x, y))
    assert res["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    out = predict(model, x, batch_size=37)
    assert out.shape == (200, 2)


# Batch gradient descent, SGD and mini-batch SGD: one loop, only batch_size differs.
@pytest.mark.parametrize("batch_size,lr,epochs", [(200, 0.5, 40), (1, 0.05, 3), (20, 0.2, 10)])
def test_batch_gd_sgd_and_minibatch_all_learn(batch_size, lr, epochs):
    x, y = blobs()
    lamina.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 2))
    opt = optim.SGD(model.parameters(), lr=lr)
    hist = fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=epochs, batch_size=batch_size, progress=False)
    assert hist["accuracy"][-1] > 0.9


def test_early_stopping_stops_on_overfitting_and_restores_best():
    rng = np.random.default_rng(0)
    # Few noisy training points, a big model: validation loss starts rising quickly.
    xt = lamina.tensor(rng.standard_normal((20, 10)).astype(np.float32))
    yt = lamina.tensor(rng.integers(0, 2, 20))
    xv = lamina.tensor(rng.standard_normal((200, 10)).astype(np.float32))
    yv = lamina.tensor(rng.integers(0, 2, 200))
    model = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    es = EarlyStopping(monitor="val_loss", patience=3)
    hist = fit(model, nn.CrossEntropyLoss(), opt, (xt, yt), val_data=(xv, yv), epochs=200, batch_size=20,
               callbacks=[es], progress=False)
    assert es.stopped_epoch is not None and len(hist.epoch) < 200
    assert len(hist.epoch) == es.best_epoch + 1 + 3  # Keras: patience 3 stops after the 3rd epoch without improvement
    best = min(hist["val_loss"])
    assert hist["val_loss"][-1] > best
    restored = evaluate(model, nn.CrossEntropyLoss(), (xv, yv))["loss"]
    assert restored == pytest.approx(best, rel=1e-5)


def test_early_stopping_unknown_metric_is_explained():
    x, y = blobs(20)
    model = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="val_loss.*pass val_data"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
            callbacks=[EarlyStopping()], progress=False)


def test_callbacks_csv_lr_schedule_and_hooks(tmp_path):
    x, y = blobs(64)
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    calls = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append((epoch, round(logs["lr"], 6)))

    csv_path = tmp_path / "log.csv"
    fit(model, nn.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=16, progress=False,
        callbacks=[LearningRateScheduler(lambda e, lr: 0.1 / (e + 1)), CSVLogger(csv_path), Spy()])
    assert calls == [(0, 0.1), (1, 0.05), (2, round(0.1 / 3, 6))]
    rows = csv_path.read_text().strip().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 4


def _run(tmp_path, epochs, resume=None, ckpt=None):
    lamina.manual_seed(123)
    x, y = blobs(96, seed=3)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    cbs = [ModelCheckpoint(ckpt, save_best_only=False, monitor="loss")] if ckpt else []
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    return fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=epochs, scheduler=sched, callbacks=cbs,
               progress=False, resume_from=resume)


def test_kill_and_resume_reproduces_losses(tmp_path):
    full = _run(tmp_path, 6)
    ck = str(tmp_path / "state-{epoch}.lam")
    _run(tmp_path, 3, ckpt=ck)  # "killed" after epoch 3
    resumed = _run(tmp_path, 6, resume=str(tmp_path / "state-3.lam"))
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-6)
    assert resumed.epoch == list(range(6))
