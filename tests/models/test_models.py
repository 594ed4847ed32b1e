"""MLP and LeNet-5: same losses as PyTorch for 10 SGD steps on a fixed batch, and real learning
on the bundled digits (>= 97%) and on MNIST from ../shared/data (>= 98%, skipped when absent)."""
import time

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.models import MLP, LeNet5


def _torch_lenet(torch, input_size):
    tnn = torch.nn
    p1 = 2 if input_size < 32 else 0
    s = (input_size - 5 + 2 * p1 + 1) // 2
    p2 = 2 if s < 10 else 0
    s = (s - 5 + 2 * p2 + 1) // 2
    return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=p1), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(6, 16, 5, padding=p2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                          tnn.Linear(16 * s * s, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                          tnn.Linear(84, 10))


def _copy_weights(torch, lam_model, torch_model):
    lp = [p for p in lam_model.parameters()]
    tp = [p for p in torch_model.parameters()]
    assert len(lp) == len(tp)
    with torch.no_grad():
        for a, b in zip(lp, tp):
            assert tuple(a.shape) == tuple(b.shape)
            b.copy_(torch.from_numpy(a.detach().numpy().copy()))


@pytest.mark.parametrize("kind,input_size", [("lenet", 28), ("lenet", 8), ("mlp", 28)])
def test_ten_sgd_steps_match_pytorch(kind, input_size):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lamina.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((16, 1, input_size, input_size)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    if kind == "lenet":
        lm, tm = LeNet5(input_size=input_size), _torch_lenet(torch, input_size)
    else:
        lm = MLP([input_size * input_size, 64, 32, 10])
        tm = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_size ** 2, 64), torch.nn.ReLU(),
                                 torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    _copy_weights(torch, lm, tm)
    lopt = optim.SGD(lm.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    lx, ly = lamina.tensor(x), lamina.tensor(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(10):
        lopt.zero_grad()
        ll = nn.functional.cross_entropy(lm(lx), ly)
        ll.backward()
        lopt.step()
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(tm(tx), ty)
        tl.backward()
        topt.step()
        assert ll.item() == pytest.approx(tl.item(), rel=1e-3)


def _train(model, train, test, epochs, lr, batch_size=32, adam=False):
    from lamina.data import DataLoader
    from lamina.train import fit

    if adam:
        opt = optim.Adam(model.parameters(), lr=lr)
    else:
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    t0 = time.perf_counter()
    hist = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(train, batch_size=batch_size, shuffle=True),
               val_data=DataLoader(test, batch_size=500), epochs=epochs, scheduler=sched, progress=False)
    return hist["val_accuracy"][-1], time.perf_counter() - t0


def test_mlp_and_lenet_learn_digits():
    from lamina.data.datasets import Digits

    lamina.manual_seed(0)
    train, test = Digits(train=True, seed=0), Digits(train=False, seed=0)
    acc_mlp, t_mlp = _train(MLP([64, 128, 10]), train, test, epochs=30, lr=0.05)
    acc_lenet, t_lenet = _train(LeNet5(input_size=8), train, test, epochs=30, lr=0.02, batch_size=16)
    print(f"digits: MLP {acc_mlp:.4f} in {t_mlp:.1f}s, LeNet-5 {acc_lenet:.4f} in {t_lenet:.1f}s")
    assert acc_mlp >= 0.97
    assert acc_lenet >= 0.97


@pytest.mark.slow
def test_lenet_learns_mnist(data_dir):
    from lamina.data import transforms
    from lamina.data.datasets import mnist_split

    lamina.manual_seed(0)
    norm = transforms.Normalize((0.1307,), (0.3081,))
    train, test = mnist_split(data_dir / "mnist", n_train=8000, seed=0, transform=norm)
    acc, secs = _train(LeNet5(input_size=28), train, test, epochs=12, lr=2e-3, batch_size=64, adam=True)
    print(f"MNIST 8k/2k: LeNet-5 {acc:.4f} in {secs:.1f}s")
    assert acc >= 0.98
