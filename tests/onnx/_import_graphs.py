"""ONNX graphs built with onnx.helper for the import tests: a residual CNN with BatchNormalization
and an LSTM classifier, with seeded random weights, plus an onnxruntime runner to compare with."""
from __future__ import annotations

import numpy as np


def _init(name, a):
    from onnx import numpy_helper
    return numpy_helper.from_array(np.ascontiguousarray(a), name)


def residual_cnn(opset: int = 17, classes: int = 5, seed: int = 0):
    """x [N, 3, 12, 12] -> conv-bn-relu -> (conv-bn + skip) -> relu -> maxpool -> conv (SAME_UPPER,
    stride 2) -> global avg pool -> flatten -> Gemm -> logits [N, classes]."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(seed)
    f = np.float32
    inits = [
        _init("stem.conv.weight", rng.normal(0, 0.3, (8, 3, 3, 3)).astype(f)),
        _init("stem.conv.bias", rng.normal(0, 0.1, 8).astype(f)),
        _init("stem.bn.weight", rng.uniform(0.5, 1.5, 8).astype(f)),
        _init("stem.bn.bias", rng.normal(0, 0.1, 8).astype(f)),
        _init("stem.bn.running_mean", rng.normal(0, 0.1, 8).astype(f)),
        _init("stem.bn.running_var", rng.uniform(0.5, 1.5, 8).astype(f)),
        _init("block.conv.weight", rng.normal(0, 0.2, (8, 8, 3, 3)).astype(f)),
        _init("block.bn.weight", rng.uniform(0.5, 1.5, 8).astype(f)),
        _init("block.bn.bias", rng.normal(0, 0.1, 8).astype(f)),
        _init("block.bn.running_mean", rng.normal(0, 0.1, 8).astype(f)),
        _init("block.bn.running_var", rng.uniform(0.5, 1.5, 8).astype(f)),
        _init("down.weight", rng.normal(0, 0.2, (16, 8, 3, 3)).astype(f)),
        _init("head.weight", rng.normal(0, 0.3, (classes, 16)).astype(f)),
        _init("head.bias", rng.normal(0, 0.1, classes).astype(f)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "stem.conv.weight", "stem.conv.bias"], ["c1"], name="stem_conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "stem.bn.weight", "stem.bn.bias", "stem.bn.running_mean",
                                                "stem.bn.running_var"], ["b1"], name="stem_bn", epsilon=1e-5),
        helper.make_node("Relu", ["b1"], ["r1"], name="stem_relu"),
        helper.make_node("Conv", ["r1", "block.conv.weight"], ["c2"], name="block_conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c2", "block.bn.weight", "block.bn.bias",
                                                "block.bn.running_mean", "block.bn.running_var"], ["b2"],
                         name="block_bn", epsilon=1e-3),
        helper.make_node("Add", ["b2", "r1"], ["s"], name="skip_add"),
        helper.make_node("Relu", ["s"], ["r2"], name="block_relu"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "down.weight"], ["c3"], name="down_conv", kernel_shape=[3, 3],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("GlobalAveragePool", ["c3"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["fl"], name="flatten", axis=1),
        helper.make_node("Gemm", ["fl", "head.weight", "head.bias"], ["logits"], name="head", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "residual_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 12, 12])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def lstm_classifier(opset: int = 17, bidirectional: bool = True, seed: int = 1, vocab: int = 11, emb: int = 6,
                    hidden: int = 7, classes: int = 4):
    """token ids [T, N] -> Gather (embedding) -> LSTM (ONNX gate order i,o,f,c) -> last hidden
    states of both directions -> Transpose/Reshape -> Gemm -> LogSoftmax [N, classes]."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(seed)
    f = np.float32
    d = 2 if bidirectional else 1
    inits = [
        _init("embed.weight", rng.normal(0, 0.5, (vocab, emb)).astype(f)),
        _init("lstm.W", rng.normal(0, 0.4, (d, 4 * hidden, emb)).astype(f)),
        _init("lstm.R", rng.normal(0, 0.4, (d, 4 * hidden, hidden)).astype(f)),
        _init("lstm.B", rng.normal(0, 0.1, (d, 8 * hidden)).astype(f)),
        _init("fc.weight", rng.normal(0, 0.4, (d * hidden, classes)).astype(f)),
        _init("fc.bias", rng.normal(0, 0.1, classes).astype(f)),
        _init("perm_shape", np.array([0, -1], dtype=np.int64)),
    ]
    nodes = [
        helper.make_node("Gather", ["embed.weight", "tokens"], ["e"], name="embed", axis=0),
        helper.make_node("LSTM", ["e", "lstm.W", "lstm.R", "lstm.B"], ["y", "y_h"], name="lstm",
                         hidden_size=hidden, direction="bidirectional" if bidirectional else "forward"),
        helper.make_node("Transpose", ["y_h"], ["h_t"], name="batch_first", perm=[1, 0, 2]),
        helper.make_node("Reshape", ["h_t", "perm_shape"], ["h"], name="concat_dirs"),
        helper.make_node("Gemm", ["h", "fc.weight", "fc.bias"], ["z"], name="fc"),
        helper.make_node("LogSoftmax", ["z"], ["logp"], name="log_softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "lstm_classifier",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["T", "N"])],
        [helper.make_tensor_value_info("logp", TensorProto.FLOAT, ["N", classes])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run_ort(model, feeds: dict) -> list:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)
