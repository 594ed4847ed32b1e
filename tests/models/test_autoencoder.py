"""Autoencoder, DenoisingAutoencoder, StackedDenoisingAutoencoder, ConvAutoencoder: corruption
statistics and modes, tied weights, training on digits (and MNIST, slow)."""
import time

import numpy as np
import pytest

import lamina
from lamina.data.datasets import Digits, mnist_split
from lamina.models.autoencoder import (Autoencoder, ConvAutoencoder, DenoisingAutoencoder,
                                       StackedDenoisingAutoencoder)


@pytest.fixture(scope="module")
def digits():
    tr, te = Digits(train=True, flatten=True), Digits(train=False, flatten=True)
    x_tr = lamina.from_numpy(np.ascontiguousarray(tr._images(np.arange(len(tr)))))
    x_te = lamina.from_numpy(np.ascontiguousarray(te._images(np.arange(len(te)))))
    return tr, te, x_tr, x_te


def test_autoencoder_shapes_and_errors():
    ae = Autoencoder(64, 20)
    x = lamina.rand(5, 1, 8, 8)
    assert ae(x).shape == (5, 1, 8, 8)
    assert ae.encode(x).shape == (5, 20)
    assert ae.decode(ae.encode(x)).shape == (5, 64)
    err = ae.reconstruction_error(x)
    r = ae(x).detach().numpy().reshape(5, -1)
    np.testing.assert_allclose(err, ((r - x.numpy().reshape(5, -1)) ** 2).mean(1), rtol=1e-5)
    with pytest.raises(ValueError, match="expected inputs with 64 features per sample, got shape \\[5, 63\\]"):
        ae(lamina.rand(5, 63))
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        Autoencoder(4, 2, loss="l2")
    with pytest.raises(ValueError, match="unknown corruption 'blur'"):
        DenoisingAutoencoder(4, 2, corruption="blur")
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        DenoisingAutoencoder(4, 2, corruption="masking", corruption_level=1.5)


def test_tied_weights_share_memory_and_get_gradients():
    ae = Autoencoder(12, 5, tied=True)
    names = [n for n, _ in ae.named_parameters()]
    assert sorted(names) == ["decoder_bias", "encoder.bias", "encoder.weight"]
    x = lamina.rand(4, 12)
    with lamina.no_grad():
        ae.encoder.weight[0, 0] = 0.5
    # the decoder sees the encoder's memory: changing the encoder weight changes decode()
    h = ae.encode(x).detach()
    before = ae.decode(h).detach().numpy().copy()
    with lamina.no_grad():
        ae.encoder.weight.mul_(2.0)
    after = ae.decode(h).detach().numpy()
    assert not np.allclose(before, after)
    # decode = sigmoid(h W + b) with W the encoder's weight
    w = ae.encoder.weight.detach().numpy()
    b = ae.decoder_bias.detach().numpy()
    np.testing.assert_allclose(after, 1 / (1 + np.exp(-(h.numpy() @ w + b))), rtol=1e-5, atol=1e-6)
    # gradients reach the shared weight through both encoder and decoder paths
    loss = ae.loss_fn(ae(x), x)
    loss.backward()
    g = ae.encoder.weight.grad.numpy()
    assert g.shape == (5, 12) and np.abs(g).sum() > 0
    assert np.abs(ae.decoder_bias.grad.numpy()).sum() > 0
    # compare with torch-free finite differences on one weight entry (float64 model)
    ae64 = Autoencoder(6, 3, tied=True).to(lamina.float64)
    x64 = lamina.rand(3, 6, dtype=lamina.float64)
    ae64.zero_grad()
    ae64.loss_fn(ae64(x64), x64).backward()
    w64 = ae64.encoder.weight
    eps = 1e-6
    with lamina.no_grad():
        w0 = float(w64[1, 2].item())
        w64[1, 2] = w0 + eps
        lp = float(ae64.loss_fn(ae64(x64), x64).item())
        w64[1, 2] = w0 - eps
        lm = float(ae64.loss_fn(ae64(x64), x64).item())
        w64[1, 2] = w0
    assert abs(w64.grad.numpy()[1, 2] - (lp - lm) / (2 * eps)) < 1e-6


@pytest.mark.parametrize("kind", ["masking", "gaussian", "salt_and_pepper"])
@pytest.mark.parametrize("level", [0.1, 0.4])
def test_corruption_statistics(kind, level):
    dae = DenoisingAutoencoder(1000, 4, corruption=kind, corruption_level=level)
    x = lamina.full((200, 1000), 0.5)
    c = dae.corrupt(x).numpy()
    assert c.shape == (200, 1000)
    if kind == "masking":
        assert set(np.unique(c)) <= {0.0, 0.5}
        assert abs((c == 0).mean() - level) < 0.005
    elif kind == "gaussian":
        noise = c - 0.5
        assert abs(noise.mean()) < 0.005 and abs(noise.std() - level) < 0.005 * max(level, 0.1) * 10
    else:
        assert set(np.unique(c)) <= {0.0, 0.5, 1.0}
        assert abs((c != 0.5).mean() - level) < 0.005
        assert abs((c == 1).mean() - level / 2) < 0.005 and abs((c == 0).mean() - level / 2) < 0.005
    # fresh each call
    assert not np.array_equal(c, dae.corrupt(x).numpy())


def test_corruption_only_in_training_mode():
    dae = DenoisingAutoencoder(64, 16, corruption="masking", corruption_level=0.5)
    x = lamina.rand(8, 64)
    dae.train()
    a, b = dae(x).detach().numpy(), dae(x).detach().numpy()
    assert not np.allclose(a, b)                       # a new corruption each pass
    clean = dae.decode(dae.encode(x)).detach().numpy()
    assert not np.allclose(a, clean)
    dae.eval()
    np.testing.assert_array_equal(dae(x).detach().numpy(), clean)
    np.testing.assert_array_equal(dae(x).detach().numpy(), dae(x).detach().numpy())


@pytest.mark.parametrize("kind", ["masking", "gaussian", "salt_and_pepper"])
def test_dae_loss_falls_on_digits(digits, kind):
    _, _, x_tr, x_te = digits
    dae = DenoisingAutoencoder(64, 48, corruption=kind, corruption_level=0.25 if kind != "gaussian" else 0.2)
    before = float(dae.reconstruction_error(x_te).mean())
    losses = dae.fit(x_tr, epochs=12, batch_size=32, lr=3e-3)["loss"]
    after = float(dae.reconstruction_error(x_te).mean())
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert losses[-1] < 0.6 * losses[0]
    assert after < 0.4 * before and after < 0.05
    assert not dae.training


def test_fit_accepts_datasets_loaders_and_optimizers(digits):
    tr, _, x_tr, _ = digits
    ae = Autoencoder(64, 16, loss="bce")
    l1 = ae.fit(tr, epochs=2, batch_size=64, lr=0.1, optimizer="sgd")["loss"]
    opt = lamina.optim.Adam(ae.parameters(), lr=1e-3)
    l2 = ae.fit(lamina.data.DataLoader(tr, batch_size=64, shuffle=True), epochs=2, optimizer=opt)["loss"]
    l3 = ae.fit(x_tr.numpy(), epochs=1, optimizer=lamina.optim.RMSprop, lr=1e-3)["loss"]
    assert l1[1] < l1[0] and l3[0] < l1[0] and len(l2) == 2
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        ae.fit(x_tr, epochs=1, optimizer="lbfgs")


def test_sdae_digits_pretrain_and_fine_tune(digits):
    tr, te, x_tr, _ = digits
    t0 = time.perf_counter()
    sdae = StackedDenoisingAutoencoder([64, 100, 50], n_classes=10, corruption_level=0.2)
    pre = [h["loss"] for h in sdae.pretrain(tr, epochs_per_layer=10, batch_size=32, lr=3e-3)]
    assert len(pre) == 2 and all(p[-1] < p[0] for p in pre)
    # level 2 was trained on the clean code of level 1
    codes1 = sdae.transform_level(x_tr, 1)
    assert codes1.shape == (len(tr), 100)
    err2 = sdae.daes[1].reconstruction_error(codes1).mean()
    assert err2 < DenoisingAutoencoder(100, 50).reconstruction_error(codes1).mean()
    assert sdae.transform(x_tr).shape == (len(tr), 50)
    hist = sdae.fine_tune(tr, te, epochs=20, batch_size=32, lr=3e-3)
    acc = hist["val_accuracy"][-1]
    assert acc >= 0.95, acc
    # the classifier shares the encoders: forward == classifier, transform reflects fine-tuning
    sdae.eval()
    x = x_tr[:5]
    np.testing.assert_allclose(sdae(x).detach().numpy(), sdae.to_classifier()(x).detach().numpy())
    assert sdae.to_classifier()[1] is sdae.daes[0].encoder
    ev = lamina.train.evaluate(sdae, lamina.nn.CrossEntropyLoss(), te)
    assert abs(ev["accuracy"] - acc) < 1e-9
    print(f"digits SDAE in {time.perf_counter() - t0:.1f} s")  # measured by bench/, not asserted


@pytest.mark.slow
def test_sdae_mnist(data_dir):
    # 784-500-250 ReLU SDAE, masking 0.2, 3 pretraining epochs per level; fine-tuning with dropout
    # 0.2, random shifts of up to 2 pixels and a cosine learning rate (about 20 s on 2 idle threads)
    from lamina.data import transforms as T

    lamina.set_num_threads(2)
    shift = T.Compose([T.RandomCrop(28, padding=2), T.Flatten()])
    tr, te = mnist_split(data_dir / "mnist", n_train=8000, transform=shift, test_transform=T.Flatten())
    x_tr = lamina.from_numpy(np.ascontiguousarray(tr._images(np.arange(len(tr))))).reshape(-1, 784)
    t0 = time.perf_counter()
    sdae = StackedDenoisingAutoencoder([784, 500, 250], n_classes=10, activation="relu", corruption_level=0.2,
                                       dropout=0.2)
    pre = [h["loss"] for h in sdae.pretrain(x_tr, epochs_per_layer=3, batch_size=64, lr=1e-3)]
    assert all(p[-1] < p[0] for p in pre)
    epochs = 15
    hist = sdae.fine_tune(tr, te, epochs=epochs, batch_size=64, lr=2e-3,
                          scheduler=lambda opt: lamina.optim.lr_scheduler.CosineAnnealingLR(opt, epochs))
    acc = hist["val_accuracy"][-1]
    elapsed = time.perf_counter() - t0
    print(f"SDAE MNIST 8000/2000: test accuracy {acc:.4f} in {elapsed:.1f} s")
    assert acc >= 0.97, acc


@pytest.mark.parametrize("hw", [(28, 28), (8, 8), (13, 11)])
def test_conv_autoencoder_shapes(hw):
    cae = ConvAutoencoder(1, channels=(4, 8))
    x = lamina.rand(3, 1, *hw)
    h = cae.encode(x)
    assert h.shape == (3, 8, -(-(-(-hw[0] // 2)) // 2), -(-(-(-hw[1] // 2)) // 2))
    y = cae(x)
    assert y.shape == (3, 1) + hw
    yn = y.detach().numpy()
    assert yn.min() > 0 and yn.max() < 1
    with pytest.raises(ValueError, match="expected input \\(N, C, H, W\\), got shape \\[3, 64\\]"):
        cae(lamina.rand(3, 64))


def test_conv_autoencoder_loss_falls(digits):
    _, _, x_tr, x_te = digits
    x_tr, x_te = x_tr[:600].reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8)
    cae = ConvAutoencoder(1, channels=(8, 16))
    before = cae.reconstruction_error(x_te).mean()
    losses = cae.fit(x_tr, epochs=6, batch_size=32, lr=5e-3)["loss"]
    after = cae.reconstruction_error(x_te).mean()
    assert losses[-1] < 0.6 * losses[0] and after < 0.5 * before
    x28 = lamina.rand(4, 1, 28, 28)
    l28 = ConvAutoencoder().fit(x28, epochs=5, batch_size=4, lr=1e-2)["loss"]
    assert l28[-1] < l28[0]
