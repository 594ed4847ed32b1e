// Binary elementwise ops on the CPU (tensor-tensor and tensor-scalar, out of place and in place)
// and their backwards; unary math, clamp, where and all_finite are in unary.cpp. Each op is
// resolved to a functor once per call, outside the loop, so the inner loops see no dispatch and
// the compiler vectorises them.
#include "elementwise.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "copy.h"
#include "formulas.h"

namespace lamina {

namespace ew {

void check_cpu(const char* op, const Tensor& t) {
    LAMINA_CHECK_RUNTIME(t.device().is_cpu(), op, ": not implemented for tensors on ", t.device(),
                         " yet (shape ", t.shape(), "); move the tensor to the CPU with .cpu()");
}

const char* op_name(UnaryOp op) {
    static const char* names[] = {"neg", "exp", "log", "sqrt", "abs", "sin", "cos", "square",
                                  "reciprocal", "sign", "logical_not", "isnan", "isfinite"};
    return names[static_cast<int>(op)];
}
Tensor zeros(const Shape& shape, DType dt) {
    Tensor t = Tensor::empty(shape, dt);
    if (t.numel()) std::memset(t.data_ptr(), 0, t.numel() * t.element_size());
    return t;
}
void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
    LAMINA_CHECK_RUNTIME(a.device() == b.device(), op, ": expected both tensors on the same device, got ",
                         a.device(), " (shape ", a.shape(), ") and ", b.device(), " (shape ", b.shape(), ")");
}

// In-place writes need one memory location per element of the destination.
void check_writable(const char* op, const Tensor& a) {
    for (int64_t d = 0; d < a.dim(); ++d)
        LAMINA_CHECK_RUNTIME(!(a.strides()[d] == 0 && a.shape()[d] > 1), op,
                             "_: unsupported operation: more than one element of the written-to tensor "
                             "(shape ", a.shape(), ", an expanded view) refers to a single memory location");
}

}  // namespace ew

namespace {

using ew::check_cpu;
using ew::check_same_device;
using ew::check_writable;
using ew::op_name;
using ew::zeros;

int category(DType d) { return d == DType::Bool ? 0 : d == DType::Int64 ? 1 : 2; }

bool is_predicate(BinaryOp op) { return static_cast<int>(op) >= static_cast<int>(BinaryOp::Eq); }

const char* op_name(BinaryOp op) {
    static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq",
                                  "ne",  "lt",  "le",  "gt",  "ge",  "logical_and", "logical_or"};
    return names[static_cast<int>(op)];
}

// The dtype the kernel computes in: bool arithmetic runs in int64, integer division in float32.
DType compute_dtype(DType dt, BinaryOp op) {
    if (is_predicate(op)) return dt;
    if (op == BinaryOp::Div && !is_floating(dt)) return DType::Float32;
    return dt == DType::Bool ? DType::Int64 : dt;
}

template <class T>
T int_pow(T base, T e) {
    if constexpr (std::is_floating_point_v<T>) {
        return std::pow(base, e);
    } else {
        if (e < 0) return base == 1 ? 1 : (base == -1 ? (e % 2 ? -1 : 1) : 0);
        T r = 1;
        while (e) {
            if (e & 1) r *= base;
            base *= base;
            e >>= 1;
        }
        return r;
    }
}

// Calls run(f) with the arithmetic functor of `op` for compute type T (alpha scales b).
template <class T, class R>
void with_arith(BinaryOp op, T alpha, const R& run) {
    switch (op) {
        case BinaryOp::Add:
            if (alpha == T(1)) return run([](T x, T y) { return T(x + y); });
            return run([alpha](T x, T y) { return T(x + alpha * y); });
        case BinaryOp::Sub:
            if (alpha == T(1)) return run([](T x, T y) { return T(x - y); });
            return run([alpha](T x, T y) { return T(x - alpha * y); });
        case BinaryOp::Mul: return run([](T x, T y) { return T(x * y); });
        case BinaryOp::Div: return run([](T x, T y) { return T(x / y); });
        case BinaryOp::Pow: return run([](T x, T y) { return int_pow<T>(x, y); });
        // NaN propagates (x != x only for NaN).
        case BinaryOp::Maximum: return run([](T x, T y) { return (x > y || x != x) ? x : y; });
        case BinaryOp::Minimum: return run([](T x, T y) { return (x < y || x != x) ? x : y; });
        default: break;
    }
    throw std::runtime_error("internal: not an arithmetic op");
}

template <class T, class R>
void with_predicate(BinaryOp op, const R& run) {
    switch (op) {
        case BinaryOp::Eq: return run([](T x, T y) { return x == y; });
        case BinaryOp::Ne: return run([](T x, T y) { return x != y; });
        case BinaryOp::Lt: return run([](T x, T y) { return x < y; });
        case BinaryOp::Le: return run([](T x, T y) { return x <= y; });
        case BinaryOp::Gt: return run([](T x, T y) { return x > y; });
        case BinaryOp::Ge: return run([](T x, T y) { return x >= y; });
        case BinaryOp::LogicalAnd: return run([](T x, T y) { return x != T(0) && y != T(0); });
        case BinaryOp::LogicalOr: return run([](T x, T y) { return x != T(0) || y != T(0); });
        default: break;
    }
    throw std::runtime_error("internal: not a predicate");
}

// out (already allocated, out's shape) = a op b with a, b in compute dtype ct, expanded.
void binary_kernel(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, double alpha, DType ct) {
    if (is_predicate(op)) {
        dispatch_all(ct, op_name(op), [&](auto tag) {
            using T = decltype(tag);
            with_predicate<T>(op, [&](const auto& f) { ew::map<bool, T, 2>(out, {&a, &b}, f); });
        });
        return;
    }
    dispatch_numeric(ct, op_name(op), [&](auto tag) {
        using T = decltype(tag);
        with_arith<T>(op, static_cast<T>(alpha), [&](const auto& f) { ew::map<T, T, 2>(out, {&a, &b}, f); });
    });
}

// out = a op s (reverse: s op a); a in compute dtype ct. Common exponents of pow skip std::pow.
void scalar_kernel(Tensor& out, const Tensor& a, double s, BinaryOp op, bool reverse, double alpha,
                   DType ct) {
    if (is_predicate(op)) {
        dispatch_all(ct, op_name(op), [&](auto tag) {
            using T = decltype(tag);
            const T sv = static_cast<T>(s);
            with_predicate<T>(op, [&](const auto& f) {
                if (reverse) ew::map<bool, T, 1>(out, {&a}, [&](T x) { return f(sv, x); });
                else ew::map<bool, T, 1>(out, {&a}, [&](T x) { return f(x, sv); });
            });
        });
        return;
    }
    dispatch_numeric(ct, op_name(op), [&](auto tag) {
        using T = decltype(tag);
        const T sv = static_cast<T>(s);
        if (op == BinaryOp::Pow && !reverse) {
            if (s == 2.0) return ew::map<T, T, 1>(out, {&a}, [](T x) { return T(x * x); });
            if (s == 1.0) return ew::map<T, T, 1>(out, {&a}, [](T x) { return x; });
            if (s == 3.0) return ew::map<T, T, 1>(out, {&a}, [](T x) { return T(x * x * x); });
            if constexpr (std::is_floating_point_v<T>) {
                if (s == 0.5) return ew::map<T, T, 1>(out, {&a}, [](T x) { return std::sqrt(x); });
                if (s == -1.0) return ew::map<T, T, 1>(out, {&a}, [](T x) { return T(1) / x; });
            }
        }
        with_arith<T>(op, static_cast<T>(alpha), [&](const auto& f) {
            if (reverse) ew::map<T, T, 1>(out, {&a}, [&](T x) { return f(sv, x); });
            else ew::map<T, T, 1>(out, {&a}, [&](T x) { return f(x, sv); });
        });
    });
}

bool can_cast(DType from, DType to) {
    return category(from) <= category(to);
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
    const bool za = a.dim() == 0, zb = b.dim() == 0;
    if (za != zb) {
        const Tensor& z = za ? a : b;
        const Tensor& d = za ? b : a;
        return category(z.dtype()) > category(d.dtype()) ? z.dtype() : d.dtype();
    }
    return promote_types(a.dtype(), b.dtype());
}

// ---- binary forward ------------------------------------------------------------------------------

Tensor binary_forward(const Tensor& a_in, const Tensor& b_in, BinaryOp op, double alpha) {
    const char* name = op_name(op);
    check_same_device(name, a_in, b_in);
    check_cpu(name, a_in);
    const DType ct = compute_dtype(result_type(a_in, b_in), op);
    const DType odt = is_predicate(op) ? DType::Bool : ct;
    if (a_in.shape() == b_in.shape()) {
        // Same shape: no broadcast views, so contiguous inputs take map's flat loop.
        const Tensor a = a_in.to(ct), b = b_in.to(ct);
        Tensor out = Tensor::empty(a.shape(), odt);
        binary_kernel(out, a, b, op, alpha, ct);
        return out;
    }
    const Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), name);
    const Tensor a = a_in.to(ct).expand(shape), b = b_in.to(ct).expand(shape);
    Tensor out = Tensor::empty(shape, odt);
    binary_kernel(out, a, b, op, alpha, ct);
    return out;
}

Tensor binary_scalar_forward(const Tensor& a_in, double s, BinaryOp op, bool reverse, DType dt, double alpha) {
    check_cpu(op_name(op), a_in);
    const DType ct = compute_dtype(dt, op);
    const Tensor a = a_in.to(ct);
    Tensor out = Tensor::empty(a.shape(), is_predicate(op) ? DType::Bool : ct);
    scalar_kernel(out, a, s, op, reverse, alpha, ct);
    return out;
}

void binary_(Tensor& a, const Tensor& b_in, BinaryOp op, double alpha) {
    a.bump_version();
    const char* name = op_name(op);
    check_same_device(name, a, b_in);
    check_cpu(name, a);
    LAMINA_CHECK_RUNTIME(!is_predicate(op), name, "_: in-place comparison is not supported");
    const DType rt = compute_dtype(result_type(a, b_in), op);
    LAMINA_CHECK_RUNTIME(can_cast(rt, a.dtype()), name, "_: result type ", dtype_name(rt),
                         " can't be cast to the desired output type ", dtype_name(a.dtype()),
                         " (in-place on a tensor of shape ", a.shape(), ")");
    const Shape shape = broadcast_shapes(a.shape(), b_in.shape(), name);
    LAMINA_CHECK_RUNTIME(shape == a.shape(), name, "_: output with shape ", a.shape(),
                         " doesn't match the broadcast shape ", shape);
    check_writable(name, a);
    const DType ct = compute_dtype(a.dtype(), op);
    Tensor b = b_in.to(ct);
    // b overlapping a at other positions would read already-updated elements: snapshot it.
    if (b.storage() == a.storage() && !(b.offset() == a.offset() && b.strides() == a.strides()))
        b = b.clone();
    if (ct != a.dtype()) {  // bool in place: compute in int64, then store back
        Tensor r = binary_forward(a, b, op, alpha);
        copy_(a, r);
        return;
    }
    b = b.expand(shape);
    binary_kernel(a, a, b, op, alpha, ct);
}

void binary_scalar_(Tensor& a, double s, BinaryOp op, bool reverse, double alpha) {
    a.bump_version();
    const char* name = op_name(op);
    check_cpu(name, a);
    LAMINA_CHECK_RUNTIME(!is_predicate(op), name, "_: in-place comparison is not supported");
    check_writable(name, a);
    const DType ct = compute_dtype(a.dtype(), op);
    if (ct != a.dtype()) {
        Tensor r = binary_scalar_forward(a, s, op, reverse, ct, alpha);
        copy_(a, r);
        return;
    }
    scalar_kernel(a, a, s, op, reverse, alpha, ct);
}

// ---- binary backward -----------------------------------------------------------------------------

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const Shape gs = g.shape();
    LAMINA_CHECK(static_cast<int64_t>(shape.size()) <= g.dim(), "sum_to_shape: cannot reduce shape ", gs,
                 " to ", shape);
    Tensor out = zeros(shape, g.dtype());
    if (g.numel() == 0) return out;
    const Tensor oe = out.expand(gs);
    const LoopPlan<2> p = plan_loop<2>(gs, {&oe, &g});
    dispatch_numeric(g.dtype(), "sum_to_shape", [&](auto tag) {
        using T = decltype(tag);
        T* ob = out.data<T>();
        const T* gb = g.data<T>();
        const int64_t so = p.inner_stride[0], sg = p.inner_stride[1], n = p.inner;
        // Serial: several runs write the same output row when a leading dim is reduced.
        for (int64_t r = 0; r < p.outer; ++r) {
            T* o = ob + p.ix.offset(r, 0);
            const T* x = gb + p.ix.offset(r, 1);
            if (so == 0) {
                T acc = 0;
                if (sg == 1) {
#pragma omp simd reduction(+ : acc)
                    for (int64_t k = 0; k < n; ++k) acc += x[k];
                } else {
                    for (int64_t k = 0; k < n; ++k) acc += x[k * sg];
                }
                o[0] += acc;
            } else if (so == 1 && sg == 1) {
                for (int64_t k = 0; k < n; ++k) o[k] += x[k];
            } else {
                for (int64_t k = 0; k < n; ++k) o[k * so] += x[k * sg];
            }
        }
    });
    return out;
}

namespace {

// g (any float dtype, shape of the output) -> input's shape and dtype.
Tensor finish_grad(const Tensor& g, const Tensor& input) {
    return sum_to_shape(g, input.shape()).to(input.dtype());
}

}  // namespace

using ew::map_new;

std::pair<Tensor, Tensor> binary_backward(const Tensor& dout, const Tensor& a_in, const Tensor& b_in,
                                          const Tensor& out, BinaryOp op, double alpha, bool need_a,
                                          bool need_b) {
    const char* name = op_name(op);
    check_cpu(name, dout);
    const DType dt = out.dtype();
    const Shape& shape = out.shape();
    const Tensor d = dout.to(dt).expand(shape);
    const Tensor a = a_in.to(dt).expand(shape), b = b_in.to(dt).expand(shape);
    Tensor da, db;
    dispatch_float(dt, name, [&](auto tag) {
        using T = decltype(tag);
        const T al = static_cast<T>(alpha);
        switch (op) {
            case BinaryOp::Add:
            case BinaryOp::Sub: {
                if (need_a) da = d;
                if (need_b) {
                    const T k = op == BinaryOp::Add ? al : -al;
                    db = k == T(1) ? d : map_new<T>(shape, dt, {&d}, [k](T g) { return T(g * k); });
                }
                break;
            }
            case BinaryOp::Mul:
                if (need_a) da = map_new<T>(shape, dt, {&d, &b}, [](T g, T y) { return T(g * y); });
                if (need_b) db = map_new<T>(shape, dt, {&d, &a}, [](T g, T x) { return T(g * x); });
                break;
            case BinaryOp::Div:
                if (need_a) da = map_new<T>(shape, dt, {&d, &b}, [](T g, T y) { return T(g / y); });
                if (need_b)
                    db = map_new<T>(shape, dt, {&d, &a, &b},
                                    [](T g, T x, T y) { return T(-g * x / (y * y)); });
                break;
            case BinaryOp::Pow:
                if (need_a)
                    da = map_new<T>(shape, dt, {&d, &a, &b},
                                    [](T g, T x, T y) { return T(g * fm::pow_grad_base(x, y)); });
                if (need_b) {
                    const Tensor o = out.expand(shape);
                    db = map_new<T>(shape, dt, {&d, &a, &b, &o},
                                    [](T g, T x, T y, T z) { return T(g * fm::pow_grad_exp(x, y, z)); });
                }
                break;
            case BinaryOp::Maximum:
            case BinaryOp::Minimum: {
                // Ties split the gradient evenly, as in PyTorch.
                const bool mx = op == BinaryOp::Maximum;
                auto share = [mx](T g, T x, T y) {
                    return x == y ? T(g * T(0.5)) : ((mx ? x > y : x < y) ? g : T(0));
                };
                if (need_a) da = map_new<T>(shape, dt, {&d, &a, &b}, share);
                if (need_b)
                    db = map_new<T>(shape, dt, {&d, &b, &a}, share);
                break;
            }
            default: throw TypeError(detail::cat(name, ": has no gradient"));
        }
    });
    if (need_a) da = finish_grad(da, a_in);
    if (need_b) db = finish_grad(db, b_in);
    return {da, db};
}

Tensor binary_scalar_backward(const Tensor& dout, const Tensor& a_in, double s, const Tensor& out,
                              BinaryOp op, bool reverse, double alpha) {
    const char* name = op_name(op);
    check_cpu(name, dout);
    const DType dt = out.dtype();
    const Shape& shape = out.shape();
    const Tensor d = dout.to(dt).expand(shape);
    const Tensor a = a_in.to(dt);
    Tensor da;
    dispatch_float(dt, name, [&](auto tag) {
        using T = decltype(tag);
        const T sv = static_cast<T>(s), al = static_cast<T>(alpha);
        switch (op) {
            case BinaryOp::Add:
                da = (!reverse || al == T(1)) ? d : map_new<T>(shape, dt, {&d}, [al](T g) { return T(g * al); });
                break;
            case BinaryOp::Sub:
                da = !reverse ? d : map_new<T>(shape, dt, {&d}, [al](T g) { return T(-g * al); });
                break;
            case BinaryOp::Mul: da = map_new<T>(shape, dt, {&d}, [sv](T g) { return T(g * sv); }); break;
            case BinaryOp::Div:
                if (!reverse) da = map_new<T>(shape, dt, {&d}, [sv](T g) { return T(g / sv); });
                else da = map_new<T>(shape, dt, {&d, &a}, [sv](T g, T x) { return T(-g * sv / (x * x)); });
                break;
            case BinaryOp::Pow:
                if (!reverse) {
                    if (s == 2.0) da = map_new<T>(shape, dt, {&d, &a}, [](T g, T x) { return T(g * T(2) * x); });
                    else da = map_new<T>(shape, dt, {&d, &a}, [sv](T g, T x) { return T(g * fm::pow_grad_base(x, sv)); });
                } else {
                    const Tensor o = out;
                    da = map_new<T>(shape, dt, {&d, &a, &o},
                                    [sv](T g, T x, T z) { return T(g * fm::pow_grad_exp(sv, x, z)); });
                }
                break;
            case BinaryOp::Maximum:
            case BinaryOp::Minimum: {
                const bool mx = op == BinaryOp::Maximum;
                da = map_new<T>(shape, dt, {&d, &a}, [mx, sv](T g, T x) {
                    return x == sv ? T(g * T(0.5)) : ((mx ? x > sv : x < sv) ? g : T(0));
                });
                break;
            }
            default: throw TypeError(detail::cat(name, ": has no gradient"));
        }
    });
    return da.to(a_in.dtype());
}

}  // namespace lamina
