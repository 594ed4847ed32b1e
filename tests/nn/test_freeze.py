"""lamina.nn.utils.freeze / unfreeze: which parameters stay trainable (names and prefixes), that an
optimizer then leaves frozen ones untouched while training the rest, BatchNorm running statistics
with and without bn_eval (PyTorch's requires_grad-only behaviour vs Keras's trainable=False), and
the errors."""
import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.nn.utils import freeze, unfreeze


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.Flatten())
        self.fc = nn.Linear(4 * 8 * 8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc(self.features(x))))


def trainable(m):
    return sorted(n for n, p in m.named_parameters() if p.requires_grad)


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = lamina.tensor(rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 2 + 1)
    y = lamina.tensor(rng.integers(0, 3, n))
    return x, y


def test_freeze_everything_and_unfreeze():
    m = Net()
    assert freeze(m) is m
    assert trainable(m) == []
    x, _ = batch()
    x.requires_grad_(True)
    m(x).sum().backward()  # gradients still flow through frozen layers to the input
    assert x.grad is not None and float(np.abs(x.grad.numpy()).sum()) > 0
    assert all(p.grad is None for p in m.parameters())
    assert unfreeze(m) is m
    assert trainable(m) == sorted(n for n, _ in m.named_parameters())


def test_except_prefixes_are_dotted_names_not_string_prefixes():
    m = Net()
    freeze(m, except_="fc")  # fc.* stays trainable, fc2.* (same leading letters) does not
    assert trainable(m) == ["fc.bias", "fc.weight"]
    unfreeze(m)
    freeze(m, except_=["fc2", "features.1"])  # a submodule by index path
    assert trainable(m) == ["fc2.bias", "fc2.weight", "features.1.bias", "features.1.weight"]
    unfreeze(m)
    freeze(m, except_=("fc.bias",))  # a single parameter
    assert trainable(m) == ["fc.bias"]


def test_unknown_except_name_raises():
    m = Net()
    with pytest.raises(ValueError, match=r"'classifier' matches no parameter of Net; its parameters are under "
                                         r"\['fc', 'fc2', 'features'\]"):
        freeze(m, except_="classifier")
    assert len(trainable(m)) == 8  # nothing was frozen by the failed call
    with pytest.raises(TypeError, match="except_ takes"):
        freeze(m, except_=[3])
    with pytest.raises(TypeError, match="expected an nn.Module"):
        freeze([p for p in m.parameters()])
    with pytest.raises(TypeError, match="expected an nn.Module"):
        unfreeze(None)


def test_optimizer_trains_only_the_unfrozen_part():
    m = Net()
    freeze(m, except_=["fc", "fc2"])
    before = {n: p.detach().numpy().copy() for n, p in m.named_parameters()}
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)  # frozen parameters may be passed
    x, y = batch(32)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    for n, p in m.named_parameters():
        changed = not np.array_equal(before[n], p.detach().numpy())
        assert changed == n.startswith("fc"), n


def test_frozen_batchnorm_default_keeps_pytorch_semantics():
    """requires_grad only: in training mode a frozen BatchNorm uses batch statistics and updates
    its running statistics, exactly like torch after requires_grad_(False)."""
    torch = pytest.importorskip("torch")
    m = Net()
    freeze(m)
    m.train()
    bn = m.features[1]
    tbn = torch.nn.BatchNorm2d(4)
    tbn.requires_grad_(False)
    x, _ = batch()
    h = m.features[0](x)
    out = bn(h)
    tout = tbn(torch.tensor(h.detach().numpy()))
    np.testing.assert_allclose(out.detach().numpy(), tout.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    assert bn.training


def test_bn_eval_holds_frozen_batchnorm_in_inference_mode_until_unfreeze():
    m = Net()
    x, _ = batch()
    m.train()
    for _ in range(3):  # give the running statistics values that differ from batch statistics
        m(batch(16, seed=7)[0] * 3)
    m.eval()
    ref = m(x).detach().numpy()
    bn = m.features[1]
    stats = (bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(), int(bn.num_batches_tracked.item()))

    freeze(m, except_=["fc", "fc2"], bn_eval=True)
    m.train()  # what a training loop does every epoch
    out = m(x)
    assert not bn.training and m.fc.training  # the hook put only the frozen BatchNorm back in eval
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-6, atol=1e-6)  # running stats used
    np.testing.assert_array_equal(bn.running_mean.numpy(), stats[0])
    np.testing.assert_array_equal(bn.running_var.numpy(), stats[1])
    assert int(bn.num_batches_tracked.item()) == stats[2]
    freeze(m, except_=["fc", "fc2"], bn_eval=True)  # freezing again does not stack hooks
    assert len(bn._forward_pre_hooks) == 1

    unfreeze(m)
    assert len(bn._forward_pre_hooks) == 0 and bn.training  # follows the model's mode again
    m(x)
    assert not np.array_equal(bn.running_mean.numpy(), stats[0])
    assert int(bn.num_batches_tracked.item()) == stats[2] + 1


def test_bn_eval_leaves_trainable_batchnorm_alone():
    m = Net()
    freeze(m, except_="features.1", bn_eval=True)
    m.train()
    bn = m.features[1]
    mean0 = bn.running_mean.numpy().copy()
    m(batch()[0])
    assert bn.training and len(bn._forward_pre_hooks) == 0
    assert not np.array_equal(bn.running_mean.numpy(), mean0)


def test_unfreeze_part_of_a_model():
    m = Net()
    freeze(m, bn_eval=True)
    unfreeze(m.features)
    assert trainable(m) == ["features.0.bias", "features.0.weight", "features.1.bias", "features.1.weight"]
    assert len(m.features[1]._forward_pre_hooks) == 0
