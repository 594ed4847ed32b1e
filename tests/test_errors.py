"""Every foundation error: C++ exceptions arrive as the right Python type (ValueError for shapes,
TypeError for dtypes, IndexError for indices and dims, RuntimeError for devices) and the message
names the op and the shapes / index / dim / size involved.
"""
import numpy as np
import pytest

import lamina
from lamina import _C


# ---- IndexError: index, dim and size in the message ---------------------------------------------

@pytest.mark.parametrize("key,idx,dim,size", [(5, 5, 0, 4), (-5, -5, 0, 4), ((0, 3), 3, 1, 3),
                                              ((slice(None), -4), -4, 1, 3), ((None, 1, 7), 7, 1, 3),
                                              ((Ellipsis, 3), 3, 1, 3)])
def test_index_out_of_range(key, idx, dim, size):
    t = lamina.zeros(4, 3)
    with pytest.raises(IndexError, match=rf"index {idx} is out of bounds for dimension {dim} with size {size} \(tensor of shape \[4, 3\]\)"):
        t[key]


def test_index_error_from_cpp_select_names_everything():
    c = lamina.zeros(2, 5)._c
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for dimension 1 with size 5 \(tensor of shape \[2, 5\]\)"):
        c.select(1, 5)


@pytest.mark.parametrize("call,op", [
    (lambda t: t.transpose(0, 3), "transpose"), (lambda t: t.squeeze(-4), "squeeze"),
    (lambda t: t.unsqueeze(4), "unsqueeze"), (lambda t: t.size(3), "size"), (lambda t: t.stride(-4), "stride"),
    (lambda t: t._c.slice(3, 0, 1, 1), "slice"), (lambda t: t.permute(0, 1, 5), "permute"),
])
def test_dim_out_of_range(call, op):
    t = lamina.zeros(2, 3, 4)
    with pytest.raises(IndexError, match=rf"{op}: dimension out of range \(expected to be in range of \[-\d, \d\], but got -?\d\)"):
        call(t)


def test_0d_indexing_errors():
    s = lamina.tensor(1.0)
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 0"):
        s[0]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        s._c.select(0, 0)
    with pytest.raises(TypeError, match="0-d"):
        iter(s).__next__()


# ---- ValueError: shapes in the message -----------------------------------------------------------

@pytest.mark.parametrize("call,msg", [
    (lambda: lamina.zeros(2, 3).reshape(7), r"reshape: shape \[7\] is invalid for input of size 6"),
    (lambda: lamina.zeros(2, 3).view(4, -1), r"view: shape \[4, -1\] is invalid for input of size 6"),
    (lambda: lamina.zeros(2, 3).t().view(6), r"view: size \[6\] is not compatible with input of size \[3, 2\] and strides \[1, 3\]"),
    (lambda: lamina.zeros(2, 3).expand(4, 3), r"expanded size of the tensor \(4\) must match the existing size \(2\).*Tensor sizes: \[2, 3\]"),
    (lambda: lamina.zeros(2, 3).permute(1, 0, 2), r"permute: number of dims 3 does not match the tensor's rank 2 \(shape \[2, 3\]\)"),
    (lambda: lamina.zeros(2, 3) @ lamina.zeros(2, 3), r"matmul: shapes \[2, 3\] and \[2, 3\] cannot be multiplied"),
    (lambda: _C.add_forward(lamina.zeros(2, 3)._c, lamina.zeros(4)._c, 1.0), r"add: shapes \[2, 3\] and \[4\] cannot be broadcast together \(dimension 1: 3 vs 4\)"),
    (lambda: lamina.zeros(2, 3).flatten(1, 0), r"start_dim \(1\) cannot come after end_dim \(0\)"),
    (lambda: lamina.zeros(3, -1), r"negative dimension in size \(3, -1\)"),
    (lambda: _C.empty([2, -3], lamina.float32._c, "cpu"), r"empty: negative dimension in shape \[2, -3\]"),
    (lambda: lamina.zeros(3)._c.as_strided([2, 2], [1], 0), r"as_strided: shape \[2, 2\] and strides \[1\] differ in length"),
    (lambda: lamina.arange(0, 5, -1), r"arange: upper bound and larger bound inconsistent with step sign \(start=0, end=5, step=-1\)"),
    (lambda: lamina.zeros(2, device="tpu"), r"invalid device 'tpu'"),
])
def test_value_errors(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


# ---- TypeError: dtypes --------------------------------------------------------------------------

@pytest.mark.parametrize("call,msg", [
    (lambda: lamina.ones(2, 2) @ lamina.ones(2, 2, dtype=lamina.float64), "same dtype, got float32 and float64"),
    (lambda: lamina.ones(2, 2, dtype=lamina.bool) @ lamina.ones(2, 2, dtype=lamina.bool), "got bool and bool"),
    (lambda: lamina.from_numpy(np.zeros(2, np.int16)), "numpy dtype int16 is not supported"),
    (lambda: lamina.rand(2, dtype=lamina.int64), "uniform_: expected a floating-point tensor, got int64"),
    (lambda: lamina.zeros(2, dtype="complex64"), "unknown dtype 'complex64'"),
    (lambda: lamina.zeros(2.0), "size must be a sequence of ints"),
    (lambda: lamina.ones(2).to(object()), "to\\(\\): unexpected argument"),
    (lambda: lamina.set_num_threads(2.0), "expected an int, got float"),
])
def test_type_errors(call, msg):
    with pytest.raises(TypeError, match=msg):
        call()


def test_requires_grad_on_int_raises():
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients, got lamina.int64"):
        lamina.zeros(2, dtype=lamina.int64).requires_grad_()


# ---- RuntimeError: devices and state ------------------------------------------------------------

@pytest.mark.skipif(lamina.cuda.is_available(), reason="no-CUDA build behaviour")
def test_cuda_tensor_without_cuda_raises_runtime_error():
    with pytest.raises(RuntimeError, match=r"CUDA: lamina was built without CUDA support.*LAMINA_CUDA=ON"):
        lamina.zeros(2).to("cuda")
    with pytest.raises(RuntimeError, match="without CUDA support"):
        lamina.zeros(2).to("cuda:1")
    with pytest.raises(RuntimeError, match="without CUDA support"):
        lamina.ones(3, 3).cuda()


@pytest.mark.skipif(not lamina.cuda.is_available(), reason="needs a CUDA device")
def test_mismatched_devices_raise_runtime_error():
    a, b = lamina.zeros(2, 2), lamina.zeros(2, 2).to("cuda")
    with pytest.raises(RuntimeError, match="same device"):
        a @ b
    with pytest.raises(RuntimeError, match="same device"):
        _C.add_forward(a._c, b._c, 1.0)
    with pytest.raises(RuntimeError, match="cpu"):
        b._c.numpy()


def test_backward_errors():
    x = lamina.ones(2, 3, requires_grad=True)
    y = x.t()
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs \(got shape \[3, 2\]\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output has a shape of \[2, 3\] and output has a shape of \[3, 2\]"):
        y.backward(lamina.ones(2, 3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.ones(2).backward(lamina.ones(2))


def test_inplace_on_leaf_requiring_grad_raises():
    x = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="fill_: a leaf Variable that requires grad"):
        x.fill_(0.0)
    with lamina.no_grad():
        x.fill_(3.0)
    assert x.detach().numpy().tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        x[0:1].requires_grad_(False)
