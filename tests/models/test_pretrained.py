"""lamina.models.pretrained: every bundled model loads and reaches the accuracy recorded for it on
the bundled digits' held-out split (the char LSTM its validation loss on Tiny Shakespeare from
../shared/data, skipped when absent), heads can be replaced, and bad files (wrong shapes, wrong
model, corrupted, changed, not a pretrained file) raise clear errors. Also: the weights stay small
and are files the wheel ships."""
import importlib
import math
import os
import pathlib

import numpy as np
import pytest

import lamina
from lamina.data import BPTTBatches
from lamina.data.datasets import Digits
from lamina.models import MLP, evaluate_lm, list_pretrained, pretrained
from lamina.models.pretrained import WEIGHTS_DIR, _write_weights, pretrained_info

# lamina.models.pretrained is the function (the submodule of the same name is shadowed by it)
pretrained_mod = importlib.import_module("lamina.models.pretrained")

DIGITS = ["lenet5_digits", "mlp_digits", "sdae_digits"]
N_TEST = 360  # Digits(train=False): stratified test_size=0.2, seed=0


def test_package_attribute_is_the_function():
    assert lamina.models.pretrained is pretrained and pretrained_mod.__name__ == "lamina.models.pretrained"


@pytest.fixture(scope="module")
def digits_test():
    ds = Digits(train=False)
    x, y = ds._batch(np.arange(len(ds)))
    assert len(ds) == N_TEST
    return x, y


def test_list_and_unknown_name():
    assert list_pretrained() == ["char_lstm_shakespeare", "lenet5_digits", "mlp_digits", "sdae_digits"]
    with pytest.raises(ValueError, match=r"unknown model 'resnet50'; available: char_lstm_shakespeare, "
                                         r"lenet5_digits, mlp_digits, sdae_digits"):
        pretrained("resnet50")


@pytest.mark.parametrize("name", DIGITS)
def test_digits_models_reach_recorded_accuracy(name, digits_test):
    x, y = digits_test
    model = pretrained(name)
    assert not model.training
    recorded = pretrained_info(name).metrics["test_accuracy"]
    assert model.pretrained_info["metrics"]["test_accuracy"] == recorded  # the file says the same
    with lamina.no_grad():
        acc = float((model(x).argmax(1) == y).float().mean().item())
    assert recorded >= 0.96, f"{name}: recorded accuracy {recorded} is below what these models reach"
    # one test image either way (kernels may round differently on another CPU level)
    assert abs(acc - recorded) <= 1.0 / N_TEST + 1e-9, f"{name}: test accuracy {acc}, recorded {recorded}"


def test_sdae_is_a_feature_extractor(digits_test):
    x, _ = digits_test
    model = pretrained("sdae_digits")
    feats = model.transform(x.reshape(N_TEST, 64))
    assert tuple(feats.shape) == (N_TEST, 64)
    f = feats.numpy()
    assert np.all((f > 0) & (f < 1)) and f.std() > 0.1  # sigmoid codes that vary
    mse = float(model.daes[0].reconstruction_error(x.reshape(N_TEST, 64)).mean())
    recorded = pretrained_info("sdae_digits").metrics["test_reconstruction_mse"]
    assert mse == pytest.approx(recorded, rel=1e-3, abs=1e-5)
    # a linear read-out of the features classifies well: they carry the digits' identity
    assert pretrained_info("sdae_digits").metrics["test_accuracy"] >= 0.95


@pytest.mark.parametrize("name,head", [("lenet5_digits", "classifier.5"), ("mlp_digits", "5"), ("sdae_digits", "output")])
def test_num_classes_replaces_only_the_head(name, head, digits_test):
    x, _ = digits_test
    ref = pretrained(name).state_dict()
    model = pretrained(name, num_classes=5)
    sd = model.state_dict()
    assert model(x[:7]).shape == (7, 5)
    for k, v in sd.items():
        if k.startswith(head + "."):
            assert v.shape[0] == 5
        else:
            np.testing.assert_array_equal(v.numpy(), ref[k].numpy(), err_msg=k)
    assert "replaced_head" in model.pretrained_info
    with pytest.raises(TypeError, match="classifiers only"):
        pretrained("char_lstm_shakespeare", num_classes=3)


def test_char_lstm_ships_its_vocabulary_and_knows_english():
    """No corpus needed: the model must prefer real text to the same characters shuffled."""
    model = pretrained("char_lstm_shakespeare")
    vocab = model.vocab
    assert len(vocab) == 65 and vocab.decode(vocab.encode("ROMEO:\nO, she")) == "ROMEO:\nO, she"
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    shuffled = "".join(np.random.default_rng(0).permutation(list(text)))

    def nats(s):
        ids = vocab.encode(s)
        return evaluate_lm(model, [(lamina.tensor(ids[:-1].reshape(-1, 1)), lamina.tensor(ids[1:].reshape(-1, 1)))])

    real, mixed = nats(text), nats(shuffled)
    assert real < 2.0 and mixed > real + 1.0, (real, mixed)
    out = lamina.models.sample(model, vocab, "ROMEO:", 40, seed=0)
    assert out.startswith("ROMEO:") and len(out) == 46


def test_char_lstm_validation_loss_on_tinyshakespeare(data_dir):
    path = data_dir / "tinyshakespeare" / "input.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    model = pretrained("char_lstm_shakespeare")
    text = path.read_text(encoding="utf-8")
    ids = model.vocab.encode(text)
    val = ids[int(0.9 * len(ids)):]
    loss = evaluate_lm(model, BPTTBatches(val, 32, 256))
    rec = pretrained_info("char_lstm_shakespeare").metrics
    assert loss == pytest.approx(rec["val_loss_nats"], abs=2e-3)
    assert rec["val_bits_per_char"] == pytest.approx(rec["val_loss_nats"] / math.log(2), abs=1e-3)


# ---- files ----

def test_weights_are_small_float32_and_verified():
    files = sorted(pathlib.Path(WEIGHTS_DIR).glob("*.lmn"))
    assert {f.name for f in files} == {pretrained_info(n).file for n in list_pretrained()}
    assert sum(f.stat().st_size for f in files) < 1_200_000
    for n in list_pretrained():
        info = pretrained_info(n)
        assert len(info.sha256) == 64, f"{n}: no SHA-256 recorded"
        blob = lamina.load(os.path.join(WEIGHTS_DIR, info.file))
        assert blob["name"] == n and blob["config"] == info.config and blob["metrics"] == info.metrics
        assert all(t.dtype in (lamina.float32, lamina.int64) for t in blob["state_dict"].values())


def test_shape_mismatch_names_the_tensor(tmp_path):
    wrong = MLP([64, 100, 64, 10])  # hidden layer of 100, the architecture has 128
    p = tmp_path / "mlp.lmn"
    _write_weights("mlp_digits", wrong, str(p), {"test_accuracy": 0.0})
    with pytest.raises(ValueError, match=r"does not fit the architecture .*1\.weight: file has shape \[100, 64\], "
                                         r"the architecture expects \[128, 64\]"):
        pretrained("mlp_digits", path=p)


def test_missing_and_unexpected_tensors(tmp_path):
    wrong = MLP([64, 128, 64, 32, 10])
    p = tmp_path / "mlp.lmn"
    _write_weights("mlp_digits", wrong, str(p), {})
    with pytest.raises(ValueError, match=r"unexpected 7\.weight"):
        pretrained("mlp_digits", path=p)


def test_weights_of_another_model_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"holds the weights of 'lenet5_digits'"):
        pretrained("mlp_digits", path=os.path.join(WEIGHTS_DIR, "lenet5_digits.lmn"))


def test_not_a_pretrained_file(tmp_path):
    p = tmp_path / "ckpt.lmn"
    lamina.save({"state_dict": MLP([64, 10]).state_dict()}, p)
    with pytest.raises(ValueError, match="not a pretrained model file"):
        pretrained("mlp_digits", path=p)
    q = tmp_path / "junk.lmn"
    q.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(ValueError, match="cannot read .*not a lamina checkpoint"):
        pretrained("mlp_digits", path=q)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        pretrained("mlp_digits", path=tmp_path / "absent.lmn")


def test_corrupted_or_changed_bundled_file(tmp_path, monkeypatch):
    d = tmp_path / "weights"
    d.mkdir()
    src = pathlib.Path(WEIGHTS_DIR) / "mlp_digits.lmn"
    raw = bytearray(src.read_bytes())
    raw[-5] ^= 0xFF  # one weight byte
    (d / "mlp_digits.lmn").write_bytes(bytes(raw))
    monkeypatch.setattr(pretrained_mod, "WEIGHTS_DIR", str(d))
    with pytest.raises(ValueError, match="SHA-256 .* expected"):
        pretrained("mlp_digits")
    with pytest.raises(ValueError, match="checksum mismatch"):  # the checkpoint's own CRC, given as a path
        pretrained("mlp_digits", path=d / "mlp_digits.lmn")
    # a valid file with other weights in the bundled place: its SHA-256 gives it away
    _write_weights("mlp_digits", pretrained_info("mlp_digits").build(), str(d / "mlp_digits.lmn"), {})
    with pytest.raises(ValueError, match="was changed or corrupted"):
        pretrained("mlp_digits")
    (d / "mlp_digits.lmn").unlink()
    with pytest.raises(FileNotFoundError, match="bundled weights .* are missing"):
        pretrained("mlp_digits")


def test_round_trip_through_write_weights(tmp_path, digits_test):
    x, _ = digits_test
    m = pretrained("lenet5_digits")
    p = tmp_path / "l.lmn"
    _write_weights("lenet5_digits", m, str(p), m.pretrained_info["metrics"])
    m2 = pretrained("lenet5_digits", path=p)
    with lamina.no_grad():
        np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())


def test_wheel_ships_the_weights():
    """scikit-build-core copies every file under wheel.packages (python/lamina) that git does not
    ignore; ask its own file walker (what `pip wheel .` uses) rather than building a wheel."""
    fp = pytest.importorskip("scikit_build_core.build._file_processor")
    if not hasattr(fp, "each_unignored_file"):
        pytest.skip("this scikit-build-core has no each_unignored_file")
    root = pathlib.Path(__file__).resolve().parents[2]
    cwd = os.getcwd()
    os.chdir(root)  # the walker must run from the project root
    try:
        files = {str(p) for p in fp.each_unignored_file(pathlib.Path("python/lamina"), mode="default")}
    finally:
        os.chdir(cwd)
    for n in list_pretrained():
        assert f"python/lamina/models/weights/{pretrained_info(n).file}" in files
    assert "python/lamina/data/datasets/digits.csv.gz" in files  # the data the digits models were trained on


@pytest.mark.parametrize("name", DIGITS + ["char_lstm_shakespeare"])
def test_pretrained_models_leave_through_onnx(name, digits_test, tmp_path):
    """lamina.onnx.export of each pretrained model runs in onnxruntime with the same outputs, so the
    digits models keep their recorded accuracy there."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import lamina.onnx
    model = pretrained(name)
    if name == "char_lstm_shakespeare":
        x = lamina.tensor(model.vocab.encode("ROMEO:\nWhat say you?").reshape(-1, 1))
    else:
        x = digits_test[0] if name == "lenet5_digits" else digits_test[0].reshape(N_TEST, 64)
    path = str(tmp_path / f"{name}.onnx")
    lamina.onnx.export(model, (x[:4] if name != "char_lstm_shakespeare" else x,), path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    with lamina.no_grad():
        want = model(x)
    want = (want[0] if isinstance(want, tuple) else want).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)
    if name != "char_lstm_shakespeare":
        acc = float((got.argmax(1) == digits_test[1].numpy()).mean())
        assert abs(acc - pretrained_info(name).metrics["test_accuracy"]) <= 1.0 / N_TEST + 1e-9
