"""lamina.train.TensorBoard, lamina.utils.tensorboard.SummaryWriter and the writer= logging of
rl.train and layer-wise pretraining: the event files are read back (TFRecord framing and CRC-32C
checked here, Event protos parsed with tensorboardX's own protobuf classes) and their tags, steps
and values compared with History, the parameters and the pictures' pixels."""
from __future__ import annotations

import glob
import importlib
import io
import math
import os
import struct
import sys

import lamina
import numpy as np
import pytest
from lamina import _pictures as pics
from lamina import nn

pytest.importorskip("tensorboardX")

# ---- reading event files (no tensorboard package needed) ----
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def _masked_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder: str) -> list:
    """Every Event in the event files directly inside ``folder``, in order, CRCs checked."""
    from tensorboardX.proto import event_pb2

    files = sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*")))
    assert files, f"no event file in {folder}"
    out = []
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        pos = 0
        while pos < len(data):
            header = data[pos:pos + 8]
            (n,) = struct.unpack("<Q", header)
            (hcrc,) = struct.unpack("<I", data[pos + 8:pos + 12])
            assert hcrc == _masked_crc32c(header), f"{f}: bad length CRC at byte {pos}"
            body = data[pos + 12:pos + 12 + n]
            (bcrc,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
            assert bcrc == _masked_crc32c(body), f"{f}: bad data CRC at byte {pos}"
            ev = event_pb2.Event()
            ev.ParseFromString(body)
            out.append(ev)
            pos += 16 + n
    return out


def by_tag(events, kind: str = "simple_value") -> dict:
    """tag -> [(step, value)] for summary values of one kind (simple_value, histo, image)."""
    out: dict = {}
    for ev in events:
        for v in ev.summary.value:
            if v.HasField(kind) if kind != "simple_value" else v.WhichOneof("value") == "simple_value":
                out.setdefault(v.tag, []).append((ev.step, getattr(v, kind)))
    return out


def _png(encoded: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(encoded)))


# ---- a small real run: LeNet-5 on the bundled digits ----
def _digits(n: int = 320):
    from lamina.data.datasets.digits import load_digits

    x, y = load_digits()
    x = (x.astype(np.float32) / 16.0)[:, None]
    return (x[:n], y[:n]), (x[1500:1600], y[1500:1600])


def _lenet_run(tmp_path, epochs: int = 2, callbacks=(), **tb_kwargs):
    from lamina.models.lenet import LeNet5

    train, val = _digits()
    model = LeNet5(input_size=8)
    opt = lamina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    tb = lamina.train.TensorBoard(str(tmp_path / "run"), **tb_kwargs)
    hist = lamina.train.fit(model, nn.CrossEntropyLoss(), opt, train, val_data=val, epochs=epochs, batch_size=32,
                            callbacks=[tb, *callbacks], progress=False)
    return model, tb, hist, train


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    lamina.manual_seed(0)
    return _lenet_run(tmp_path_factory.mktemp("tb"), update_freq=4)


def test_scalars_equal_history(lenet_run):
    _, tb, hist, _ = lenet_run
    scalars = by_tag(read_events(tb.log_dir))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "samples_per_s"):
        steps = [s for s, _ in scalars[key]]
        vals = np.array([v for _, v in scalars[key]])
        assert steps == hist.epoch == [0, 1], key
        np.testing.assert_allclose(vals, hist[key], rtol=1e-6, err_msg=key)  # simple_value is float32
    assert hist["loss"][1] < hist["loss"][0]  # it did learn
    # update_freq=4: batch/loss every 4th of the 10 batches per epoch, at global steps 3, 7, 11, 15, 19
    assert [s for s, _ in scalars["batch/loss"]] == [3, 7, 11, 15, 19]
    assert [v for _, v in scalars["batch/lr"]] == [pytest.approx(0.05)] * 5


def test_histograms_of_weights_and_grads(lenet_run):
    model, tb, _, _ = lenet_run
    hist = by_tag(read_events(tb.log_dir), "histo")
    names = [n for n, _ in model.named_parameters()]
    assert {f"weights/{n}" for n in names} | {f"grads/{n}" for n in names} <= set(hist)
    for n, p in model.named_parameters():
        for tag, arr in ((f"weights/{n}", p.detach().numpy()), (f"grads/{n}", p.grad.numpy())):
            steps = [s for s, _ in hist[tag]]
            assert steps == [0, 1], tag
            h = hist[tag][-1][1]  # the last epoch: the final weights, the last batch's gradients
            assert h.num == arr.size, tag
            assert h.min == pytest.approx(float(arr.min()), rel=1e-6, abs=1e-12), tag
            assert h.max == pytest.approx(float(arr.max()), rel=1e-6, abs=1e-12), tag
            assert h.sum == pytest.approx(float(arr.astype(np.float64).sum()), rel=1e-4, abs=1e-6), tag


def test_filter_and_feature_map_images(lenet_run):
    model, tb, _, train = lenet_run
    imgs = by_tag(read_events(tb.log_dir), "image")
    assert [s for s, _ in imgs["filters/features.0"]] == [0, 1]
    got = _png(imgs["filters/features.0"][-1][1].encoded_image_string)
    # the picture is the 6 conv1 kernels (5x5), each stretched to its own range, enlarged
    want = pics.grid(pics.filter_tiles(model.features[0].weight))
    f = got.shape[0] // want.shape[0]
    assert f >= 2 and got.shape[:2] == (want.shape[0] * f, want.shape[1] * f)
    g = got if got.ndim == 2 else got[..., 0]
    np.testing.assert_allclose(g[::f, ::f] / 255.0, want, atol=1.5 / 255)
    assert g.std() > 20  # content, not a blank square
    # feature maps of conv1 for the first training sample, the 6 channels
    fm = _png(imgs["feature_maps/features.0"][-1][1].encoded_image_string)
    fm = fm if fm.ndim == 2 else fm[..., 0]
    seen = []
    h = model.features[0].register_forward_hook(lambda m, i, o: seen.append(o.detach().numpy()))
    model.eval()
    model(lamina.tensor(train[0][:1]))
    h.remove()
    want = pics.grid(seen[0][0])
    f = fm.shape[0] // want.shape[0]
    np.testing.assert_allclose(fm[::f, ::f] / 255.0, want, atol=1.5 / 255)


def test_hparams_hold_the_final_metrics(lenet_run):
    _, tb, hist, _ = lenet_run
    sub = os.path.join(tb.log_dir, "hparams")
    events = read_events(sub)
    scalars = by_tag(events)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert scalars[f"hparam/{key}"][-1][1] == pytest.approx(hist[key][-1], rel=1e-6)
    plugins = {v.metadata.plugin_data.plugin_name for ev in events for v in ev.summary.value}
    assert "hparams" in plugins
    # the hyperparameters themselves (optimizer, lr, batch size, epochs) are in the session start info
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    starts = []
    for ev in events:
        for v in ev.summary.value:
            if v.tag == "_hparams_/session_start_info":
                d = HParamsPluginData()
                d.ParseFromString(v.metadata.plugin_data.content)
                starts.append(d.session_start_info.hparams)
    assert starts and starts[0]["optimizer"].string_value == "SGD"
    assert starts[0]["lr"].number_value == pytest.approx(0.05)
    assert starts[0]["batch_size"].number_value == 32


def test_graph_written_or_skipped_cleanly(lenet_run, tmp_path, monkeypatch, caplog):
    _, tb, _, _ = lenet_run
    graphs = [ev for ev in read_events(tb.log_dir) if ev.WhichOneof("what") == "graph_def"]
    if tb.graph_status == "written":  # lamina.onnx.export knows LeNet-5: its layers, in order
        from tensorboardX.proto.graph_pb2 import GraphDef

        assert len(graphs) == 1
        g = GraphDef()
        g.ParseFromString(graphs[0].graph_def)
        ops = [n.op for n in g.node]
        assert [o for o in ops if o in ("Conv", "Gemm", "MatMul")] == ["Conv", "Conv", "Gemm", "Gemm", "Gemm"], ops
    else:
        assert tb.graph_status.startswith("skipped") and not graphs
        assert any("graph" in n for n in tb.notes)
    # an exporter that does not know the model: the run goes on, the reason is logged
    import lamina.onnx as lonnx

    def refuse(*a, **k):
        raise NotImplementedError("Conv2d is not exportable yet")

    monkeypatch.setattr(lonnx, "export", refuse)
    caplog.set_level("INFO", logger="lamina.train.tensorboard")
    _, tb2, hist2, _ = _lenet_run(tmp_path, epochs=1, histogram_freq=0)
    assert tb2.graph_status == "skipped: NotImplementedError: Conv2d is not exportable yet"
    assert "not exportable" in caplog.text
    assert len(hist2["loss"]) == 1 and "loss" in by_tag(read_events(tb2.log_dir))


def test_gradient_flow_goes_into_tensorboard(tmp_path):
    from lamina.diagnostics import GradientFlow

    gf = GradientFlow()
    _, tb, _, _ = _lenet_run(tmp_path, epochs=2, callbacks=[gf], histogram_freq=0, write_graph=False)
    scalars = by_tag(read_events(tb.log_dir))
    for step, rep in gf.reports:
        for layer, s in rep.layers.items():
            assert dict(scalars[f"grad_norm/{layer}"])[step] == pytest.approx(s.grad_norm, rel=1e-6)
            assert dict(scalars[f"update_ratio/{layer}"])[step] == pytest.approx(s.update_ratio, rel=1e-6)
    assert [s for s, _ in gf.reports] == [0, 1]


def test_summary_writer_add_graph(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import lamina.onnx as lonnx
    from lamina.models import MLP
    from lamina.utils.tensorboard import SummaryWriter
    from tensorboardX.proto.graph_pb2 import GraphDef

    model = MLP([64, 32, 10])
    with SummaryWriter(str(tmp_path / "g")) as sw:
        sw.add_graph(model, lamina.randn(2, 64))
    (ev,) = [e for e in read_events(str(tmp_path / "g")) if e.WhichOneof("what") == "graph_def"]
    g = GraphDef()
    g.ParseFromString(ev.graph_def)
    assert [n.op for n in g.node if n.op in ("Gemm", "MatMul")] in (["Gemm", "Gemm"], ["MatMul", "MatMul"])

    def refuse(*a, **k):
        raise NotImplementedError("no converter for Foo")

    monkeypatch.setattr(lonnx, "export", refuse)
    with SummaryWriter(str(tmp_path / "g2")) as sw, pytest.raises(RuntimeError, match="no converter for Foo"):
        sw.add_graph(model, lamina.randn(2, 64))


def test_sample_input_from_numpy(tmp_path):
    x = np.random.default_rng(0).random((3, 1, 8, 8))  # float64, the model is float32
    _, tb, _, _ = _lenet_run(tmp_path, epochs=1, sample_input=x, write_graph=False)
    imgs = by_tag(read_events(tb.log_dir), "image")
    assert "feature_maps/features.0" in imgs and "filters/features.0" in imgs


def test_summary_writer_takes_lamina_tensors(tmp_path):
    from lamina.utils.tensorboard import SummaryWriter

    w = lamina.randn(1000)
    with SummaryWriter(str(tmp_path / "sw")) as sw:
        for step in range(3):
            sw.add_scalar("loss", lamina.tensor(1.0 / (step + 1)), step)
        sw.add_histogram("w", w, 7)
        sw.add_image("img", lamina.rand(1, 8, 8), 2)
    ev = read_events(str(tmp_path / "sw"))
    assert by_tag(ev)["loss"] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    (step, h), = by_tag(ev, "histo")["w"]
    assert step == 7 and h.num == 1000 and h.max == pytest.approx(float(w.numpy().max()))
    (step, im), = by_tag(ev, "image")["img"]
    assert (step, im.height, im.width) == (2, 8, 8)


def test_rl_train_logs_episodes(tmp_path):
    from lamina.rl import train
    from lamina.utils.tensorboard import SummaryWriter

    class Env:  # episodes of 3, 4, 5, ... steps, reward 1 per step
        def __init__(self):
            self.n, self.t = 2, 0

        def reset(self, seed=None):
            self.n, self.t = self.n + 1, 0
            return np.zeros(2, np.float32), {}

        def step(self, a):
            self.t += 1
            return np.zeros(2, np.float32), 1.0, self.t >= self.n, False, {}

    class Agent:
        steps, episodes, epsilon = 0, 0, 1.0

        def act(self, obs, explore=True):
            return 0

        def observe(self, *transition):
            self.steps += 1
            self.epsilon *= 0.9
            return 0.5 * self.steps if self.steps > 4 else None  # learning starts after 4 steps

    with SummaryWriter(str(tmp_path / "rl")) as sw:
        hist = train(Agent(), Env(), episodes=4, progress=False, writer=sw)
    s = by_tag(read_events(str(tmp_path / "rl")))
    for key in ("return", "length", "mean_return", "epsilon"):
        assert [st for st, _ in s[f"rl/{key}"]] == [1, 2, 3, 4]
        np.testing.assert_allclose([v for _, v in s[f"rl/{key}"]], hist[key], rtol=1e-6)
    assert [v for _, v in s["rl/length"]] == [3, 4, 5, 6]
    assert math.isnan(hist["loss"][0]) and [st for st, _ in s["rl/loss"]] == [2, 3, 4]  # no loss before learning


def test_dbn_pretraining_logs_reconstruction_error_per_layer(tmp_path):
    from lamina.models.dbn import DBN
    from lamina.utils.tensorboard import SummaryWriter

    x = (np.random.default_rng(0).random((160, 16)) > 0.5).astype(np.float32)
    dbn = DBN((16, 12, 6))
    with SummaryWriter(str(tmp_path / "dbn")) as sw:
        hists = dbn.pretrain(x, epochs_per_layer=[3, 2], batch_size=32, writer=sw)
    s = by_tag(read_events(str(tmp_path / "dbn")))
    for k, h in enumerate(hists):
        tag = f"pretrain/layer{k}/recon_error"
        assert [st for st, _ in s[tag]] == h.epoch
        np.testing.assert_allclose([v for _, v in s[tag]], h["recon_error"], rtol=1e-6)


def test_stacked_autoencoder_pretraining_logs_reconstruction_error(tmp_path):
    from lamina.models.autoencoder import StackedDenoisingAutoencoder
    from lamina.utils.tensorboard import SummaryWriter

    x = np.random.default_rng(1).random((128, 16)).astype(np.float32)
    sdae = StackedDenoisingAutoencoder((16, 8, 4))
    with SummaryWriter(str(tmp_path / "sdae")) as sw:
        hists = sdae.pretrain(x, epochs_per_layer=2, batch_size=32, writer=sw)
    s = by_tag(read_events(str(tmp_path / "sdae")))
    assert sorted(s) == ["pretrain/layer0/recon_error", "pretrain/layer1/recon_error"]
    for k, h in enumerate(hists):
        np.testing.assert_allclose([v for _, v in s[f"pretrain/layer{k}/recon_error"]], h["loss"], rtol=1e-6)


def test_lamina_works_without_tensorboardx(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # "import tensorboardX" now raises
    tb = lamina.train.TensorBoard(str(tmp_path / "x"))  # constructing needs nothing
    model = nn.Linear(4, 2)
    opt = lamina.optim.SGD(model.parameters(), lr=0.1)
    data = (np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    with pytest.raises(ImportError, match=r"pip install \"lamina\[tensorboard\]\""):
        lamina.train.fit(model, nn.CrossEntropyLoss(), opt, data, callbacks=[tb], progress=False)
    monkeypatch.delitem(sys.modules, "lamina.utils.tensorboard", raising=False)
    with pytest.raises(ImportError, match="tensorboardX"):
        importlib.import_module("lamina.utils.tensorboard")


def test_update_freq_validated():
    with pytest.raises(ValueError, match="update_freq"):
        lamina.train.TensorBoard(update_freq="batch")
