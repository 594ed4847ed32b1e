"""EarlyStopping follows Keras's patience rule exactly (issue 19): a hand-computed sequence, random
sequences against a transcription of Keras 3's documented algorithm, the messages it prints, and the
History fields that say which epoch's weights fit returned (restored_epoch, final_metrics)."""

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.train import Callback, EarlyStopping, evaluate, fit


class Script(Callback):
    """Overwrites the monitored log with a scripted value each epoch (runs before EarlyStopping)
    and records the model's weights at the end of every epoch."""

    def __init__(self, values, key="val_loss"):
        self.values, self.key, self.weights = list(values), key, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.ctx.history.history[self.key][-1] = self.values[epoch]   # History keeps the scripted value
        self.weights.append({k: v.numpy().copy() for k, v in self.model.state_dict().items()})


def keras_stop_epoch(values, patience, min_delta=0.0, mode="min", baseline=None, start_from_epoch=0):
    """Keras 3's EarlyStopping.on_epoch_end, transcribed: (0-based epoch it stops after or None,
    best epoch)."""
    sign = 1.0 if mode == "max" else -1.0
    delta = abs(min_delta) * sign

    def improves(cur, ref):   # Keras's ops.greater / ops.less run on float32 tensors
        a, b = np.float32(cur - delta), np.float32(ref)
        return a > b if mode == "max" else a < b

    best, best_epoch, wait = None, None, 0
    for epoch, cur in enumerate(values):
        if epoch < start_from_epoch:
            continue
        wait += 1
        if best is None or improves(cur, best):
            best, best_epoch = cur, epoch
            if baseline is None or improves(cur, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best_epoch
    return None, best_epoch


def run(values, epochs=None, key="val_loss", **es_kwargs):
    lamina.manual_seed(0)
    rng = np.random.default_rng(0)
    x = lamina.tensor(rng.standard_normal((16, 3)).astype(np.float32))
    y = lamina.tensor(rng.integers(0, 2, 16))
    model = nn.Linear(3, 2)
    script = Script(values, key)
    es = EarlyStopping(monitor=key, **es_kwargs)
    hist = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), val_data=(x, y),
               epochs=epochs or len(values), batch_size=8, callbacks=[script, es], progress=False)
    return hist, es, script, model


def test_hand_computed_patience_2():
    # 1-based: the best value at epoch 8, then two epochs without improvement: Keras stops after epoch 10.
    values = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.40, 0.41, 0.42, 0.43, 0.2, 0.1]
    hist, es, script, model = run(values, patience=2, verbose=False)
    assert len(hist.epoch) == 10 and es.stopped_epoch == 9 and hist.stopped_epoch == 9
    assert es.best_epoch == 7 and es.best == 0.40
    assert hist.restored_epoch == 7
    assert hist.final_metrics["val_loss"] == 0.40
    assert hist["val_loss"][-1] == 0.42            # the last epoch trained, as in Keras
    for k, v in model.state_dict().items():          # the model holds epoch 8's weights (1-based)
        np.testing.assert_array_equal(v.numpy(), script.weights[7][k])


def test_patience_0_stops_at_first_non_improvement_and_min_delta_counts():
    hist, es, _, _ = run([1.0, 0.5, 0.6, 0.1], patience=0, verbose=False)
    assert es.stopped_epoch == 2 and len(hist.epoch) == 3
    # improvements of 0.05 do not beat min_delta=0.1: they do not reset the wait.
    hist, es, _, _ = run([1.0, 0.95, 0.90, 0.85, 0.5], patience=2, min_delta=0.1, verbose=False)
    assert es.stopped_epoch == 2 and es.best_epoch == 0
    # but each one becomes the new best value only if it beats min_delta: here the best stays 1.0.
    assert es.best == 1.0


def random_case(seed):
    """A short monitored sequence on a 0.01 grid (so ties and changes of exactly min_delta occur)
    and random EarlyStopping settings."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 16))
    mode = ["min", "max"][seed % 2]
    values = [float(v) for v in np.round(rng.standard_normal(n).cumsum() * 0.1, 2)]
    patience = int(rng.integers(0, 4))
    min_delta = float(rng.choice([0.0, 0.05]))
    baseline = None if seed % 3 else float(values[0] + (-0.1 if mode == "min" else 0.1))
    start = int(rng.integers(0, 3)) if seed % 5 == 0 else 0
    return values, patience, min_delta, mode, baseline, start


# Seeds 46, 198 and 802 hit a change of exactly min_delta, which float64 arithmetic would count.
@pytest.mark.parametrize("seed", list(range(40)) + [46, 198, 802])
def test_random_sequences_match_keras_algorithm(seed):
    values, patience, min_delta, mode, baseline, start = random_case(seed)
    n = len(values)
    want_stop, want_best = keras_stop_epoch(values, patience, min_delta, mode, baseline, start)
    key = "val_loss" if mode == "min" else "val_accuracy"
    hist, es, _, _ = run(values, key=key, patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
                         start_from_epoch=start, verbose=False)
    assert es.stopped_epoch == want_stop, (values, patience, min_delta, mode, baseline, start)
    assert es.best_epoch == want_best
    assert len(hist.epoch) == (n if want_stop is None else want_stop + 1)
    assert hist.restored_epoch == want_best


def test_prints_why_and_what_it_restored(capsys):
    run([1.0, 0.5, 0.7, 0.8, 0.9], patience=2)
    out = capsys.readouterr().out
    assert "EarlyStopping: stopped after epoch 4: val_loss did not improve by more than min_delta=0 " \
           "for 2 epoch(s) (patience=2); best 0.5 at epoch 2" in out
    assert "restored the weights from the end of epoch 2 (val_loss 0.5)" in out
    run([1.0, 0.5, 0.7], patience=2, verbose=False)
    assert capsys.readouterr().out == ""


def test_real_training_final_metrics_are_the_returned_models():
    rng = np.random.default_rng(0)
    # few noisy training points and a big model: validation loss rises quickly.
    xt = lamina.tensor(rng.standard_normal((20, 10)).astype(np.float32))
    yt = lamina.tensor(rng.integers(0, 2, 20))
    xv = lamina.tensor(rng.standard_normal((200, 10)).astype(np.float32))
    yv = lamina.tensor(rng.integers(0, 2, 200))
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 2))
    es = EarlyStopping(monitor="val_loss", patience=2, verbose=False)
    hist = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), (xt, yt),
               val_data=(xv, yv), epochs=200, batch_size=20, callbacks=[es], progress=False)
    assert hist.stopped_epoch is not None and hist.restored_epoch == es.best_epoch < hist.epoch[-1]
    now = evaluate(model, nn.CrossEntropyLoss(), (xv, yv))
    assert now["loss"] == pytest.approx(hist.final_metrics["val_loss"], rel=1e-6)
    assert now["accuracy"] == pytest.approx(hist.final_metrics["val_accuracy"], rel=1e-6)
    assert hist.final_metrics["val_loss"] == min(hist["val_loss"])
    # without a restore final_metrics is the last epoch's
    h2 = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0), (xt, yt), val_data=(xv, yv),
             epochs=2, progress=False)
    assert h2.restored_epoch is None and h2.final_metrics["val_loss"] == h2["val_loss"][-1]


def test_history_fields_survive_state_dict():
    hist, _, _, _ = run([1.0, 0.5, 0.7, 0.8], patience=1, verbose=False)
    from lamina.train import History
    h = History()
    h.load_state_dict(hist.state_dict())
    assert (h.restored_epoch, h.stopped_epoch, h.epoch) == (1, 2, [0, 1, 2])
    assert h.final_metrics == hist.final_metrics


def test_negative_patience_is_an_error():
    with pytest.raises(ValueError, match="patience must be >= 0"):
        EarlyStopping(patience=-1)


def test_a_change_of_exactly_min_delta_is_not_an_improvement():
    # -0.20 is exactly min_delta below -0.15: Keras does not count it, so epoch 5 (1-based) is the
    # third without improvement and training stops there.
    hist, es, _, _ = run([-0.04, -0.15, -0.07, -0.04, -0.20, -0.20, -0.21], patience=3, min_delta=0.05,
                         verbose=False)
    assert (es.stopped_epoch, es.best_epoch) == (4, 1)


def test_against_keras_itself():
    """Runs only where Keras 3 is installed (not a lamina dependency): Keras's own callback and
    lamina's decide the same epoch on 1,000 random sequences."""
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    class FakeModel:   # all Keras's callback touches when restore_best_weights=False
        stop_training = False

    for seed in range(1000):
        values, patience, min_delta, mode, baseline, start = random_case(seed)
        cb = keras.callbacks.EarlyStopping(monitor="m", patience=patience, min_delta=min_delta, mode=mode,
                                           baseline=baseline, start_from_epoch=start, verbose=0)
        model = FakeModel()
        cb.set_model(model)
        cb.on_train_begin()
        keras_stop = None
        for e, v in enumerate(values):
            cb.on_epoch_end(e, {"m": v})
            if model.stop_training:
                keras_stop = e
                break
        es = EarlyStopping(monitor="m", patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
                           start_from_epoch=start, restore_best_weights=False, verbose=False)
        es.set_context(type("Ctx", (), {"stop_training": False, "history": None})())
        es.on_train_begin()
        lamina_stop = None
        for e, v in enumerate(values):
            es.on_epoch_end(e, {"m": v})
            if es.ctx.stop_training:
                lamina_stop = e
                break
        assert lamina_stop == keras_stop, (seed, values, patience, min_delta, mode, baseline, start)
