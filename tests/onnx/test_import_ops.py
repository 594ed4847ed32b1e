"""Converters whose onnx node test cases are few, checked more widely: Einsum against numpy.einsum
(diagonals, ellipsis broadcasting, implicit output, chains of three operands) with its gradients
against float64 central differences; TopK's order on ties; GridSample against onnx's reference
evaluator and PyTorch (values and gradients)."""
from __future__ import annotations

import lamina
import lamina.onnx
import numpy as np
import pytest

pytest.importorskip("onnx")
from onnx import TensorProto, helper

EINSUM = [
    ("ij->ji", [(3, 4)]), ("ij->i", [(3, 4)]), ("...ii->...i", [(3, 5, 5)]), ("i,i", [(5,), (5,)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]), ("->", [()]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 8), (2, 3, 6, 8)]), ("ii", [(4, 4)]), ("ij,ij->", [(3, 4), (3, 4)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]), ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("ijk,ikj->i", [(2, 3, 4), (2, 4, 3)]), ("i,j->ij", [(3,), (4,)]), ("iij->j", [(3, 3, 4)]),
]


def _einsum_model(eq, xs, out_shape):
    names = [f"x{i}" for i in range(len(xs))]
    g = helper.make_graph([helper.make_node("Einsum", names, ["y"], equation=eq)], "g",
                          [helper.make_tensor_value_info(n, TensorProto.DOUBLE, list(x.shape)) for n, x in zip(names, xs)],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, list(out_shape))])
    return lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


@pytest.mark.parametrize("eq, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_matches_numpy_with_gradients(eq, shapes):
    rng = np.random.default_rng(len(eq))
    xs = [rng.normal(size=s) for s in shapes]
    ref = np.einsum(eq, *xs)
    m = _einsum_model(eq, xs, np.shape(ref))
    ts = [lamina.from_numpy(x.copy()).requires_grad_() for x in xs]
    y = m(*ts)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    w = rng.normal(size=np.shape(ref))
    (y * lamina.from_numpy(w)).sum().backward()
    eps = 1e-6
    for i, x in enumerate(xs):  # d sum(w * einsum) / d x, by central differences at a few entries
        for idx in list(np.ndindex(x.shape))[:: max(1, x.size // 4)]:
            up, down = [a.copy() for a in xs], [a.copy() for a in xs]
            up[i][idx] += eps
            down[i][idx] -= eps
            fd = ((np.einsum(eq, *up) * w).sum() - (np.einsum(eq, *down) * w).sum()) / (2 * eps)
            assert abs(ts[i].grad.numpy()[idx] - fd) <= 1e-6 * max(1.0, abs(fd)), (eq, i, idx)


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_topk_matches_numpy_stable_order(largest, dtype):
    rng = np.random.default_rng(7)
    x = rng.integers(-4, 5, size=(3, 9, 4)).astype(dtype)  # many ties: the lower index must come first
    k = np.array([5], dtype=np.int64)
    g = helper.make_graph([helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=largest)], "g",
                          [helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(x.dtype), list(x.shape)),
                           helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
                          [helper.make_tensor_value_info("v", helper.np_dtype_to_tensor_dtype(x.dtype), [3, 5, 4]),
                           helper.make_tensor_value_info("i", TensorProto.INT64, [3, 5, 4])])
    m = lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    v, i = m(x, k)
    order = np.argsort(-x if largest else x, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(i.numpy(), order)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(x, order, 1))
    if dtype is np.float32:  # the values are gathered from x: the gradient lands on the picked entries
        xt = lamina.from_numpy(x.copy()).requires_grad_()
        m(xt, k)[0].sum().backward()
        want = np.zeros_like(x)
        np.put_along_axis(want, order, 1.0, 1)
        np.testing.assert_array_equal(xt.grad.numpy(), want)


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_values_and_gradients(mode, padding, align):
    """values against onnx's reference evaluator; values and gradients against PyTorch's grid_sample,
    except bicubic with border padding, where ONNX clamps the sample point itself and PyTorch only
    the taps"""
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, size=(2, 4, 7, 2)).astype(np.float32)  # some samples outside the image
    g = helper.make_graph([helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding,
                                            align_corners=align)], "gs",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
                           helper.make_tensor_value_info("g", TensorProto.FLOAT, list(grid.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 7])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m = lamina.onnx.load_model(model)
    xl, gl = lamina.from_numpy(x.copy()).requires_grad_(), lamina.from_numpy(grid.copy()).requires_grad_()
    y = m(xl, gl)
    (ref,) = ReferenceEvaluator(model).run(None, {"x": x, "g": grid})
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    if mode == "cubic" and padding == "border":
        return
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    tmode = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, mode)
    tref = torch.nn.functional.grid_sample(xt, gt, mode=tmode, padding_mode=padding, align_corners=bool(align))
    np.testing.assert_allclose(y.detach().numpy(), tref.detach().numpy(), rtol=1e-5, atol=1e-5)
    w = rng.normal(size=tref.shape).astype(np.float32)
    (y * lamina.from_numpy(w)).sum().backward()
    (tref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    if mode != "nearest":  # nearest has no gradient with respect to the grid
        np.testing.assert_allclose(gl.grad.numpy(), gt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_if_and_loop_run_eagerly_with_gradients():
    """If picks its branch from the condition's value; Loop carries a tensor through its body,
    stacks a scan output and stops on the trip count or the body's condition."""
    from onnx import numpy_helper
    one = numpy_helper.from_array(np.array(1.5, dtype=np.float32), "k")
    then_g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [3])])
    body = helper.make_graph(
        [helper.make_node("Mul", ["acc_in", "x"], ["acc_out"]),
         helper.make_node("Less", ["i", "limit"], ["go"]),
         helper.make_node("Identity", ["acc_out"], ["scan"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("go", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("scan", TensorProto.FLOAT, [3])])
    limit = numpy_helper.from_array(np.array(2, dtype=np.int64), "limit")
    trip = numpy_helper.from_array(np.array(10, dtype=np.int64), "trip")
    g = helper.make_graph(
        [helper.make_node("If", ["flag"], ["y"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Loop", ["trip", "", "y"], ["acc", "steps"], body=body)], "g",
        [helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("steps", TensorProto.FLOAT, [3, 3])], [one, limit, trip])
    m = lamina.onnx.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    x = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    for flag, first in ((True, 1.5 * x), (False, -x)):
        xt = lamina.from_numpy(x.copy()).requires_grad_()
        acc, steps = m(np.array(flag), xt)
        # the body ran for i = 0, 1, 2 (it stops once i < 2 fails): acc = first * x**3
        np.testing.assert_allclose(acc.detach().numpy(), first * x ** 3, rtol=1e-6)
        np.testing.assert_allclose(steps.detach().numpy(), [first * x, first * x ** 2, first * x ** 3], rtol=1e-6)
        acc.sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), 4 * first / x * x ** 3, rtol=1e-5)
