"""lamina.onnx.export layer by layer: every exportable lamina.nn layer (and its variants: stride,
padding, dilation, groups, ceil_mode, bidirectional, multi-layer, batch_first, masks...) exported,
checked with onnx's full checker and run in onnxruntime, equal to lamina within 1e-5 (relative to
the output's scale) at two batch sizes. CASES is also what test_export_coverage.py counts."""
from __future__ import annotations

import numpy as np
import pytest

import lamina
import lamina.nn as nn

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _export_check import check_export  # noqa: E402


def _randn(*shape):
    return lamina.randn(*shape)


def _ids(vocab):
    return lambda *shape: lamina.tensor(np.random.default_rng(sum(shape)).integers(0, vocab, shape), dtype=lamina.int64)


def _bn(cls, c):
    # running statistics that are not the initial 0 / 1, so eval mode really uses them
    m = cls(c)
    m.train()
    with lamina.no_grad():
        for _ in range(3):
            m(lamina.randn(*((8, c) if cls is nn.BatchNorm1d else (8, c, 5, 5))) * 2.0 + 0.5)
    if cls is nn.SyncBatchNorm:
        return m.eval()
    m.weight.data = lamina.rand(c) + 0.5  # noqa: E501
    m.bias.data = lamina.randn(c)
    return m.eval()


class _Seq(nn.Module):
    """An RNN whose every output (sequence, final states) is a graph output."""

    def __init__(self, rnn, with_state=False):
        super().__init__()
        self.rnn, self.with_state = rnn, with_state

    def forward(self, x, *state):
        if state:
            return self.rnn(x, state if len(state) > 1 else state[0])
        return self.rnn(x)


class _Lengths(nn.Module):
    """An RNN over padded sequences: lengths (or a prefix mask) as a model input."""

    def __init__(self, rnn, use_mask=False):
        super().__init__()
        self.rnn, self.use_mask = rnn, use_mask

    def forward(self, x, lengths):
        if self.use_mask:
            T = x.shape[1] if self.rnn.batch_first else x.shape[0]
            steps = lamina.arange(T).unsqueeze(0 if self.rnn.batch_first else 1)
            keep = steps < (lengths.unsqueeze(1) if self.rnn.batch_first else lengths.unsqueeze(0))
            return self.rnn(x, mask=keep)
        return self.rnn(x, lengths=lengths)


def _lens(b, T=6):
    return lamina.tensor(np.random.default_rng(b).integers(1, T + 1, b), dtype=lamina.int64)


class _Attn(nn.Module):
    def __init__(self, mha, mask=False):
        super().__init__()
        self.mha, self.mask = mha, mask

    def forward(self, x, *masks):
        return self.mha(x, x, x, key_padding_mask=masks[0] if masks else None)


class _Cross(nn.Module):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, q, k, v):
        return self.mha(q, k, v, need_weights=True)


def _kpm(b, s=5):
    m = np.zeros((b, s), dtype=bool)
    m[:, -1] = True
    m[0, -2] = True
    return lamina.tensor(m)


# (id, covers: the lamina.nn classes it exercises, build() -> module, inputs(batch) -> tuple,
#  export keyword arguments)
CASES = [
    ("linear", ["Linear"], lambda: nn.Linear(8, 5), lambda b: (_randn(b, 8),), {}),
    ("linear_nobias_3d", ["Linear"], lambda: nn.Linear(8, 5, bias=False), lambda b: (_randn(b, 4, 8),), {}),
    ("conv1d", ["Conv1d"], lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda b: (_randn(b, 3, 11),), {}),
    ("conv1d_same_dil", ["Conv1d"], lambda: nn.Conv1d(4, 4, 4, padding="same", dilation=2, groups=2),
     lambda b: (_randn(b, 4, 12),), {}),
    ("conv2d", ["Conv2d"], lambda: nn.Conv2d(3, 6, 3, stride=2, padding=1), lambda b: (_randn(b, 3, 9, 8),), {}),
    ("conv2d_groups_dil", ["Conv2d"], lambda: nn.Conv2d(4, 6, (3, 2), dilation=(2, 1), groups=2, bias=False),
     lambda b: (_randn(b, 4, 10, 7),), {}),
    ("conv2d_same_even", ["Conv2d"], lambda: nn.Conv2d(2, 3, 4, padding="same"), lambda b: (_randn(b, 2, 7, 6),), {}),
    ("conv_transpose1d", ["ConvTranspose1d"],
     lambda: nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1), lambda b: (_randn(b, 4, 7),), {}),
    ("conv_transpose2d", ["ConvTranspose2d"],
     lambda: nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), lambda b: (_randn(b, 4, 5, 6),), {}),
    ("conv_transpose2d_groups", ["ConvTranspose2d"], lambda: nn.ConvTranspose2d(4, 6, (2, 3), stride=(2, 1), groups=2),
     lambda b: (_randn(b, 4, 4, 5),), {}),
    ("maxpool2d_2x2", ["MaxPool2d"], lambda: nn.MaxPool2d(2), lambda b: (_randn(b, 3, 8, 6),), {}),
    ("maxpool2d_pad", ["MaxPool2d"], lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda b: (_randn(b, 2, 9, 7),), {}),
    ("maxpool2d_ceil_dil", ["MaxPool2d"], lambda: nn.MaxPool2d(3, stride=2, dilation=2, ceil_mode=True),
     lambda b: (_randn(b, 2, 11, 10),), {}),
    ("maxpool1d", ["MaxPool1d"], lambda: nn.MaxPool1d(3, stride=2, padding=1), lambda b: (_randn(b, 3, 10),), {}),
    ("avgpool2d", ["AvgPool2d"], lambda: nn.AvgPool2d(2), lambda b: (_randn(b, 3, 8, 6),), {}),
    ("avgpool2d_pad_exclude", ["AvgPool2d"], lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
     lambda b: (_randn(b, 2, 9, 7),), {}),
    ("avgpool2d_ceil", ["AvgPool2d"], lambda: nn.AvgPool2d(3, stride=2, ceil_mode=True),
     lambda b: (_randn(b, 2, 8, 8),), {}),
    ("avgpool2d_divisor", ["AvgPool2d"], lambda: nn.AvgPool2d(2, padding=1, divisor_override=3),
     lambda b: (_randn(b, 2, 6, 5),), {}),
    ("avgpool1d", ["AvgPool1d"], lambda: nn.AvgPool1d(3, stride=2, padding=1), lambda b: (_randn(b, 3, 10),), {}),
    ("adaptive_avgpool2d_global", ["AdaptiveAvgPool2d"], lambda: nn.AdaptiveAvgPool2d(1),
     lambda b: (_randn(b, 3, 7, 5),), {}),
    ("adaptive_avgpool2d_grid", ["AdaptiveAvgPool2d"], lambda: nn.AdaptiveAvgPool2d((2, 3)),
     lambda b: (_randn(b, 3, 8, 9),), {}),
    ("batchnorm1d", ["BatchNorm1d"], lambda: _bn(nn.BatchNorm1d, 6), lambda b: (_randn(b, 6),), {}),
    ("batchnorm2d", ["BatchNorm2d"], lambda: _bn(nn.BatchNorm2d, 4), lambda b: (_randn(b, 4, 5, 3),), {}),
    ("sync_batchnorm_eval", ["SyncBatchNorm"], lambda: _bn(nn.SyncBatchNorm, 4), lambda b: (_randn(b, 4, 3, 2),), {}),
    ("layernorm", ["LayerNorm"], lambda: nn.LayerNorm(8), lambda b: (_randn(b, 3, 8) * 3.0 + 1.0,), {}),
    ("layernorm_2d_noaffine", ["LayerNorm"], lambda: nn.LayerNorm((3, 8), elementwise_affine=False),
     lambda b: (_randn(b, 3, 8),), {}),
    ("dropout_eval", ["Dropout"], lambda: nn.Dropout(0.5), lambda b: (_randn(b, 7),), {}),
    ("identity", ["Identity"], lambda: nn.Sequential(nn.Linear(4, 4), nn.Identity()), lambda b: (_randn(b, 4),), {}),
    ("flatten", ["Flatten"], lambda: nn.Flatten(), lambda b: (_randn(b, 3, 4, 2),), {}),
    ("unflatten", ["Unflatten"], lambda: nn.Unflatten(1, (2, 4)), lambda b: (_randn(b, 8, 3),), {}),
    ("step", ["Step"], lambda: nn.Step(0.25), lambda b: (_randn(b, 9),), {}),
    ("step_sigmoid", ["Step"], lambda: nn.Step(-0.5, surrogate="sigmoid", beta=3.0), lambda b: (_randn(b, 9),), {}),
    ("linear_act", ["Linear_"], lambda: nn.Sequential(nn.Linear(4, 3), nn.Linear_()), lambda b: (_randn(b, 4),), {}),
    ("sigmoid", ["Sigmoid"], lambda: nn.Sigmoid(), lambda b: (_randn(b, 9) * 4.0,), {}),
    ("bipolar_sigmoid", ["BipolarSigmoid"], lambda: nn.BipolarSigmoid(), lambda b: (_randn(b, 9) * 4.0,), {}),
    ("tanh", ["Tanh"], lambda: nn.Tanh(), lambda b: (_randn(b, 9) * 2.0,), {}),
    ("relu", ["ReLU"], lambda: nn.ReLU(), lambda b: (_randn(b, 9),), {}),
    ("leaky_relu", ["LeakyReLU"], lambda: nn.LeakyReLU(0.2), lambda b: (_randn(b, 9),), {}),
    ("elu", ["ELU"], lambda: nn.ELU(0.7), lambda b: (_randn(b, 9),), {}),
    ("softplus", ["Softplus"], lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda b: (_randn(b, 9) * 3.0,), {}),
    ("gelu", ["GELU"], lambda: nn.GELU(), lambda b: (_randn(b, 9) * 2.0,), {}),
    ("gelu_tanh", ["GELU"], lambda: nn.GELU("tanh"), lambda b: (_randn(b, 9) * 2.0,), {}),
    ("softmax", ["Softmax"], lambda: nn.Softmax(dim=1), lambda b: (_randn(b, 6, 3) * 3.0,), {}),
    ("log_softmax", ["LogSoftmax"], lambda: nn.LogSoftmax(dim=-1), lambda b: (_randn(b, 6) * 3.0,), {}),
    ("rbf", ["RBF"], lambda: nn.RBF(6, 5), lambda b: (_randn(b, 6) * 0.5,), {}),
    ("conic", ["ConicSection"], lambda: nn.ConicSection(6, 5), lambda b: (_randn(b, 6),), {}),
    ("embedding", ["Embedding"], lambda: nn.Embedding(20, 6), lambda b: (_ids(20)(b, 7),), {}),
    ("embedding_padding", ["Embedding"], lambda: nn.Embedding(20, 6, padding_idx=0), lambda b: (_ids(20)(b, 3),), {}),
    ("rnn", ["RNN"], lambda: _Seq(nn.RNN(5, 7)), lambda b: (_randn(6, b, 5),), {"dynamic_axes": {"input": {1: "b"}}}),
    ("rnn_relu_2layer_bidir", ["RNN"],
     lambda: _Seq(nn.RNN(5, 4, num_layers=2, nonlinearity="relu", bidirectional=True)),
     lambda b: (_randn(6, b, 5),), {"dynamic_axes": {"input": {1: "b"}}}),
    ("lstm", ["LSTM"], lambda: _Seq(nn.LSTM(5, 7)), lambda b: (_randn(6, b, 5),),
     {"dynamic_axes": {"input": {1: "b"}}}),
    ("lstm_2layer_bidir_batch_first", ["LSTM"],
     lambda: _Seq(nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)),
     lambda b: (_randn(b, 6, 5),), {}),
    ("lstm_state", ["LSTM"], lambda: _Seq(nn.LSTM(5, 4, num_layers=2)),
     lambda b: (_randn(3, b, 5), _randn(2, b, 4), _randn(2, b, 4)),
     {"dynamic_axes": {"input0": {1: "b"}, "input1": {1: "b"}, "input2": {1: "b"}}}),
    ("lstm_lengths_bidir_2layer", ["LSTM"], lambda: _Lengths(nn.LSTM(5, 4, num_layers=2, bidirectional=True)),
     lambda b: (_randn(6, b, 5), _lens(b)), {"dynamic_axes": {"input0": {1: "b"}, "input1": {0: "b"}}}),
    ("gru_mask_batch_first", ["GRU"], lambda: _Lengths(nn.GRU(5, 4, batch_first=True, bidirectional=True), True),
     lambda b: (_randn(b, 6, 5), _lens(b)), {}),
    ("lstm_unbatched_state", ["LSTM"], lambda: _Seq(nn.LSTM(5, 4, num_layers=2, bidirectional=True)),
     lambda b: (_randn(b, 5), _randn(4, 4), _randn(4, 4)), {"dynamic_axes": {"input0": {0: "T"}}}),
    ("gru", ["GRU"], lambda: _Seq(nn.GRU(5, 7)), lambda b: (_randn(6, b, 5),), {"dynamic_axes": {"input": {1: "b"}}}),
    ("gru_3layer_bidir_state", ["GRU"], lambda: _Seq(nn.GRU(5, 3, num_layers=3, bidirectional=True, batch_first=True)),
     lambda b: (_randn(b, 4, 5), _randn(6, b, 3)), {"dynamic_axes": {"input0": {0: "b"}, "input1": {1: "b"}}}),
    ("mha_self", ["MultiheadAttention"], lambda: _Attn(nn.MultiheadAttention(16, 4)),
     lambda b: (_randn(5, b, 16),), {"dynamic_axes": {"input": {1: "b"}}}),
    ("mha_batch_first_mask", ["MultiheadAttention"], lambda: _Attn(nn.MultiheadAttention(16, 2, batch_first=True)),
     lambda b: (_randn(b, 5, 16), _kpm(b)), {}),
    ("mha_cross_weights", ["MultiheadAttention"], lambda: _Cross(nn.MultiheadAttention(8, 2, kdim=6, vdim=5,
                                                                                        batch_first=True)),
     lambda b: (_randn(b, 3, 8), _randn(b, 5, 6), _randn(b, 5, 5)), {}),
    ("transformer_encoder_layer", ["TransformerEncoderLayer"],
     lambda: nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True), lambda b: (_randn(b, 5, 16),), {}),
    ("transformer_encoder_norm_first_gelu", ["TransformerEncoder", "TransformerEncoderLayer"],
     lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True), 2,
                                   norm=nn.LayerNorm(8)),
     lambda b: (_randn(4, b, 8),), {"dynamic_axes": {"input": {1: "b"}}}),
    ("positional_encoding", ["PositionalEncoding"], lambda: nn.PositionalEncoding(8, max_len=20, batch_first=True),
     lambda b: (_randn(b, 6, 8),), {}),
    ("rnn_cell", ["RNNCell"], lambda: nn.RNNCell(5, 4), lambda b: (_randn(b, 5), _randn(b, 4)), {}),
    ("lstm_cell", ["LSTMCell"], lambda: nn.LSTMCell(5, 4), lambda b: (_randn(b, 5),), {}),
    ("gru_cell", ["GRUCell"], lambda: nn.GRUCell(5, 4), lambda b: (_randn(b, 5), _randn(b, 4)), {}),
    ("mse_loss", ["MSELoss"], lambda: nn.MSELoss(), lambda b: (_randn(b, 4), _randn(b, 4)), {}),
    ("mse_loss_none", ["MSELoss"], lambda: nn.MSELoss(reduction="none"), lambda b: (_randn(b, 4), _randn(b, 4)), {}),
    ("l1_loss_sum", ["L1Loss"], lambda: nn.L1Loss(reduction="sum"), lambda b: (_randn(b, 3, 2), _randn(b, 3, 2)), {}),
    ("cross_entropy", ["CrossEntropyLoss"], lambda: nn.CrossEntropyLoss(), lambda b: (_randn(b, 5), _ids(5)(b)), {}),
    ("cross_entropy_weight_ignore_smooth", ["CrossEntropyLoss"],
     lambda: nn.CrossEntropyLoss(weight=lamina.rand(5) + 0.5, ignore_index=2, label_smoothing=0.1),
     lambda b: (_randn(b, 5, 3), _ids(5)(b, 3)), {}),
    ("cross_entropy_probs_sum", ["CrossEntropyLoss"], lambda: nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.2),
     lambda b: (_randn(b, 5), lamina.softmax(_randn(b, 5), 1)), {}),
    ("cross_entropy_probs_mean", ["CrossEntropyLoss"], lambda: nn.CrossEntropyLoss(),
     lambda b: (_randn(b, 5, 2), lamina.softmax(_randn(b, 5, 2), 1)), {}),
    ("nll_loss", ["NLLLoss"], lambda: nn.NLLLoss(weight=lamina.rand(4) + 0.5),
     lambda b: (lamina.log_softmax(_randn(b, 4), 1), _ids(4)(b)), {}),
    ("nll_loss_none", ["NLLLoss"], lambda: nn.NLLLoss(reduction="none", ignore_index=1),
     lambda b: (lamina.log_softmax(_randn(b, 4), 1), _ids(4)(b)), {}),
    ("bce", ["BCELoss"], lambda: nn.BCELoss(), lambda b: (lamina.rand(b, 3) * 0.98 + 0.01, lamina.rand(b, 3)), {}),
    ("bce_weight", ["BCELoss"], lambda: nn.BCELoss(weight=lamina.rand(3) + 0.5, reduction="none"),
     lambda b: (lamina.rand(b, 3) * 0.98 + 0.01, lamina.rand(b, 3)), {}),
    ("bce_with_logits", ["BCEWithLogitsLoss"], lambda: nn.BCEWithLogitsLoss(reduction="sum"),
     lambda b: (_randn(b, 3) * 3.0, lamina.rand(b, 3)), {}),
    ("bce_with_logits_pos_weight", ["BCEWithLogitsLoss"],
     lambda: nn.BCEWithLogitsLoss(weight=lamina.rand(3) + 0.5, pos_weight=lamina.rand(3) + 0.5),
     lambda b: (_randn(b, 3) * 3.0, lamina.rand(b, 3)), {}),
    ("huber", ["HuberLoss"], lambda: nn.HuberLoss(delta=0.5), lambda b: (_randn(b, 6), _randn(b, 6)), {}),
    ("smooth_l1", ["SmoothL1Loss"], lambda: nn.SmoothL1Loss(beta=0.7), lambda b: (_randn(b, 6), _randn(b, 6)), {}),
    ("smooth_l1_beta0", ["SmoothL1Loss"], lambda: nn.SmoothL1Loss(beta=0.0),
     lambda b: (_randn(b, 6), _randn(b, 6)), {}),
    ("kl_div_batchmean", ["KLDivLoss"], lambda: nn.KLDivLoss(reduction="batchmean"),
     lambda b: (lamina.log_softmax(_randn(b, 5), 1), lamina.softmax(_randn(b, 5), 1)), {}),
    ("kl_div_log_target", ["KLDivLoss"], lambda: nn.KLDivLoss(reduction="mean", log_target=True),
     lambda b: (lamina.log_softmax(_randn(b, 5), 1), lamina.log_softmax(_randn(b, 5), 1)), {}),
    ("sequential_modulelist", ["Sequential"], lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)),
     lambda b: (_randn(b, 4),), {}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_onnxruntime(case):
    _, _, build, inputs, kw = case
    lamina.manual_seed(1)
    m = build().eval()
    check_export(m, inputs(3), inputs(5), **kw)


def test_adaptive_pool_without_fixed_window_raises():
    m = nn.Sequential(nn.Conv2d(1, 2, 1), nn.AdaptiveAvgPool2d((3, 2)))
    with pytest.raises(NotImplementedError, match=r"AdaptiveAvgPool.*'1'.*multiple of the output size"):
        lamina.onnx.export(m, lamina.randn(2, 1, 7, 5), None)


def test_unsupported_layer_names_op_and_module_path():
    class Lengths(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(3, 3))
            self.rnn = nn.LSTM(3, 4)

        def forward(self, x):
            return self.rnn(self.enc(x), lengths=[4, 2])[0]

    with pytest.raises(NotImplementedError, match=r"LSTM.*'rnn'.*lengths"):
        lamina.onnx.export(Lengths(), lamina.randn(4, 2, 3), None, dynamic_axes={"input": {}})


def test_max_pool_indices_are_not_exportable():
    class Idx(nn.Module):
        def forward(self, x):
            out, idx = lamina.nn.functional.max_pool2d(x, 2, return_indices=True)
            return out, idx

    with pytest.raises(NotImplementedError, match=r"MaxPool.*indices"):
        lamina.onnx.export(Idx(), lamina.randn(2, 1, 4, 4), None)


def test_dropout_in_training_mode_is_exported_in_eval_and_mode_restored():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    m.train()
    check_export(m, (lamina.randn(3, 4),))
    m.train()
    buf = __import__("io").BytesIO()
    lamina.onnx.export(m, lamina.randn(3, 4), buf)
    assert m.training and m[1].training
