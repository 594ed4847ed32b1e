"""Ctrl-C (a real SIGINT to this process) during fit, rl.train and DBN pretraining: training stops
after the current step with TrainingInterrupted, nothing half-written, and fit(resume_from=...)
continues exactly; a second Ctrl-C interrupts at once and the step is rolled back."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import lamina
from lamina import nn, optim, rl
from lamina.data import DataLoader, TensorDataset
from lamina.models import DBN
from lamina.train import Callback, ModelCheckpoint, TrainingInterrupted, fit

if not hasattr(signal, "SIGINT") or os.name == "nt":
    pytest.skip("POSIX signals", allow_module_level=True)


@pytest.fixture(autouse=True)
def _default_sigint():
    """Python's own SIGINT handler for each test: a run started in the background by a shell
    (``cmd &``) inherits SIGINT ignored, and training then rightly leaves it alone."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _params(model) -> list:
    return [p.detach().numpy().copy() for p in model.parameters()]


def _setup():
    lamina.manual_seed(7)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    loader = DataLoader(TensorDataset(lamina.tensor(x), lamina.tensor(y)), batch_size=16, shuffle=True)
    return model, opt, sched, loader


class _Record(Callback):
    """Parameters after every completed step; sends Ctrl-C inside the forward of step ``at``."""

    def __init__(self, at: tuple, times: int = 1) -> None:
        self.at, self.times, self.snaps, self.steps = at, times, [], 0
        self.epoch = None

    def on_epoch_begin(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, i, logs=None):
        self.steps += 1
        self.snaps.append(_params(self.ctx.model))


def test_fit_ctrl_c_stops_after_step_and_resume_is_exact(tmp_path):
    model, opt, sched, loader = _setup()
    full = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=4, scheduler=sched, progress=False)
    full_params = _params(model)

    model, opt, sched, loader = _setup()
    rec = _Record(at=(2, 3))
    ce = nn.CrossEntropyLoss()

    def loss_fn(out, y):  # Ctrl-C arrives in the middle of step 3 of epoch 2 (0-based)
        if (rec.epoch, rec.steps % len(loader)) == rec.at:
            _ctrl_c()
        return ce(out, y)

    ck = str(tmp_path / "state-{epoch}.lam")
    with pytest.raises(TrainingInterrupted, match=r"after step 4 of 6 in epoch 2 \(epoch 1 was the last complete") as ei:
        fit(model, loss_fn, opt, loader, epochs=4, scheduler=sched, progress=False,
            callbacks=[ModelCheckpoint(ck, monitor="loss"), rec])
    assert isinstance(ei.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler put back
    assert rec.steps == 2 * 6 + 4  # the step that saw Ctrl-C completed, no further one started
    for a, b in zip(_params(model), rec.snaps[-1]):
        np.testing.assert_array_equal(a, b)
    assert ei.value.history.epoch == [0, 1]
    # Only whole epochs were checkpointed, and no temporary file is left.
    assert sorted(os.listdir(tmp_path)) == ["state-1.lam", "state-2.lam"]

    model, opt, sched, loader = _setup()
    resumed = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=4, scheduler=sched, progress=False,
                  resume_from=str(tmp_path / "state-2.lam"))
    np.testing.assert_allclose(resumed["loss"], full["loss"], rtol=1e-6)
    for a, b in zip(_params(model), full_params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_second_ctrl_c_interrupts_at_once_and_rolls_the_step_back():
    model, opt, sched, loader = _setup()
    rec = _Record(at=(0, 2))
    ce = nn.CrossEntropyLoss()
    before = {}

    def loss_fn(out, y):
        if (rec.epoch, rec.steps) == rec.at:
            before["params"] = rec.snaps[-1]
            before["bufs"] = [b.numpy().copy() for b in model.buffers()]
            _ctrl_c()
            _ctrl_c()  # the second raises KeyboardInterrupt here, after BatchNorm updated its stats
        return ce(out, y)

    bufs_before_step = []

    class Buf(Callback):
        def on_batch_begin(self, i):
            bufs_before_step[:] = [b.numpy().copy() for b in model.buffers()]

    with pytest.raises(KeyboardInterrupt, match="interrupted again") as ei:
        fit(model, loss_fn, opt, loader, epochs=2, progress=False, callbacks=[rec, Buf()])
    assert not isinstance(ei.value, TrainingInterrupted)
    assert rec.steps == 2
    for a, b in zip(_params(model), before["params"]):
        np.testing.assert_array_equal(a, b)
    # BatchNorm's running statistics moved in the failed forward and were put back.
    assert any(not np.array_equal(a, b) for a, b in zip(before["bufs"], bufs_before_step))
    for a, b in zip([b.numpy() for b in model.buffers()], bufs_before_step):
        np.testing.assert_array_equal(a, b)
    assert all(float(opt.state[p]["step"]) == 2.0 for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


class _CtrlCEnv:
    """A Corridor that sends Ctrl-C from inside env.step number ``at``."""

    def __init__(self, at: int) -> None:
        self.env, self.at, self.n = rl.Corridor(6), at, 0
        self.action_space = self.env.action_space

    def reset(self, seed=None):
        return self.env.reset(seed=seed)

    def step(self, a):
        self.n += 1
        if self.n == self.at:
            _ctrl_c()
        return self.env.step(a)


def test_rl_train_ctrl_c_stops_after_step():
    agent = rl.DQNAgent(rl.mlp(6, 2, (8,)), 2, learning_starts=10, batch_size=8, seed=0)
    env = _CtrlCEnv(at=57)
    with pytest.raises(TrainingInterrupted, match=r"rl.train: interrupted by Ctrl-C .* after environment step 57") as ei:
        rl.train(agent, env, steps=1000, seed=0, progress=False)
    assert agent.steps == 57 and env.n == 57
    hist = ei.value.history
    assert sum(hist["length"]) < 57 and agent.episodes == len(hist["length"])  # partial episode not recorded
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_dbn_pretraining_ctrl_c_stops_all_layers():
    rng = np.random.default_rng(0)
    x = (rng.random((64, 12)) > 0.5).astype(np.float32)
    dbn = DBN([12, 8, 4])
    second = _params(dbn.rbms[1])

    class CtrlC(Callback):
        n = 0

        def on_batch_begin(self, i):
            CtrlC.n += 1
            if CtrlC.n == 3:
                _ctrl_c()

    with pytest.raises(TrainingInterrupted, match="fit: interrupted"):
        dbn.pretrain(x, epochs_per_layer=2, batch_size=16, callbacks=[CtrlC()])
    assert CtrlC.n == 3
    for a, b in zip(_params(dbn.rbms[1]), second):  # the second layer never started
        np.testing.assert_array_equal(a, b)


def test_fit_ctrl_c_during_epoch_end_stops_before_the_next_epoch(tmp_path):
    model, opt, sched, loader = _setup()

    class CtrlCAtEpochEnd(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                _ctrl_c()

    rec = _Record(at=(None, None))
    with pytest.raises(TrainingInterrupted, match="at the end of epoch 1 \\(complete") as ei:
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=4, progress=False, callbacks=[CtrlCAtEpochEnd(), rec])
    assert rec.steps == 2 * 6 and ei.value.history.epoch == [0, 1]
