"""lamina.data.transforms: values, shapes, seeding and errors."""
import numpy as np
import pytest

import lamina
from lamina.data import Generator
from lamina.data import transforms as T


def test_to_tensor_uint8_gray_and_color():
    img = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    t = T.ToTensor()(img)
    assert t.shape == (1, 2, 2) and t.dtype is lamina.float32
    np.testing.assert_allclose(t.numpy(), [[[0, 1], [0.2, 0.4]]], rtol=1e-6)
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)  # H=2, W=3, C=3
    t = T.ToTensor()(rgb)
    assert t.shape == (3, 2, 3)
    np.testing.assert_allclose(t.numpy(), rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    f = T.ToTensor()(np.full((2, 2), 3.5, np.float32))  # floats keep their values
    np.testing.assert_array_equal(f.numpy(), np.full((1, 2, 2), 3.5))
    x = lamina.ones(1, 2, 2)
    assert T.ToTensor()(x) is x
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2, 2\)"):
        T.ToTensor()(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(TypeError, match="expected a numpy array"):
        T.ToTensor()([1, 2])


def test_normalize_per_channel_and_errors():
    x = lamina.from_numpy(np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)]).astype(np.float32))
    y = T.Normalize((0.5, 1.0), (0.5, 2.0))(x)
    np.testing.assert_allclose(y.numpy()[0], 1.0)
    np.testing.assert_allclose(y.numpy()[1], 1.0)
    np.testing.assert_allclose(x.numpy()[1], 3.0)  # not in place
    with pytest.raises(ValueError, match="mean has 3 values but the image of shape \\(2, 2, 2\\) has 2 channels"):
        T.Normalize((0, 0, 0), (1, 1, 1))(x)
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize(0.0, 0.0)
    with pytest.raises(TypeError, match="float image"):
        T.Normalize(0.0, 1.0)(lamina.zeros(1, 2, 2, dtype=lamina.int64))


def test_compose_and_lambda_and_flatten():
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,)), T.Lambda(lambda t: t * 2), T.Flatten()])
    out = tf(np.full((3, 3), 255, np.uint8))
    assert out.shape == (9,)
    np.testing.assert_allclose(out.numpy(), 2.0)
    assert "ToTensor" in repr(tf)


def test_random_crop_with_padding_seeded():
    x = lamina.from_numpy(np.arange(16, dtype=np.float32).reshape(1, 4, 4))
    crop = T.RandomCrop(4, padding=1)
    seen = set()
    for _ in range(40):
        c = crop(x).numpy()
        assert c.shape == (1, 4, 4)
        # the crop is a window of the zero-padded 6x6 image
        padded = np.pad(x.numpy(), ((0, 0), (1, 1), (1, 1)))
        hits = [(i, j) for i in range(3) for j in range(3) if np.array_equal(padded[:, i:i + 4, j:j + 4], c)]
        assert hits
        seen.add(hits[0])
    assert len(seen) > 3
    lamina.manual_seed(5)
    a = [crop(x).numpy() for _ in range(5)]
    lamina.manual_seed(5)
    b = [crop(x).numpy() for _ in range(5)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    g1 = T.RandomCrop(2, generator=Generator(1))
    g2 = T.RandomCrop(2, generator=Generator(1))
    assert all(np.array_equal(g1(x).numpy(), g2(x).numpy()) for _ in range(5))
    with pytest.raises(ValueError, match=r"crop size \(5, 5\) is larger than the \(padded\) image size \(4, 4\)"):
        T.RandomCrop(5)(x)
    assert T.RandomCrop(5, pad_if_needed=True)(x).shape == (1, 5, 5)
    # numpy in, numpy out; edge padding repeats border values
    e = T.RandomCrop(6, padding=1, padding_mode="edge")(np.arange(16.0).reshape(4, 4))
    assert isinstance(e, np.ndarray) and e[0, 0] == 0 and e[-1, -1] == 15


def test_flips():
    x = lamina.from_numpy(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1, :])
    assert T.RandomHorizontalFlip(p=0.0)(x) is x
    flips = sum(T.RandomHorizontalFlip(0.5)(x) is not x for _ in range(200))
    assert 60 < flips < 140
    with pytest.raises(ValueError, match="p should be in"):
        T.RandomHorizontalFlip(p=1.5)


def test_gaussian_noise_statistics_seeding_and_clip():
    x = lamina.zeros(1, 100, 100)
    n = T.AddGaussianNoise(std=0.3)(x).numpy()
    assert n.dtype == np.float32
    assert abs(n.mean()) < 0.02 and abs(n.std() - 0.3) < 0.02
    lamina.manual_seed(2)
    a = T.AddGaussianNoise(0.1)(x).numpy()
    b = T.AddGaussianNoise(0.1)(x).numpy()
    lamina.manual_seed(2)
    a2 = T.AddGaussianNoise(0.1)(x).numpy()
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)  # fresh noise each call
    c = T.AddGaussianNoise(1.0, clip=(0.0, 1.0), generator=Generator(0))(np.full((8, 8), 0.5))
    assert isinstance(c, np.ndarray) and c.dtype == np.float64 and c.min() >= 0 and c.max() <= 1
    with pytest.raises(TypeError, match="floating point"):
        T.AddGaussianNoise(0.1)(lamina.zeros(2, 2, dtype=lamina.int64))
    with pytest.raises(ValueError, match="non-negative"):
        T.AddGaussianNoise(-1.0)
