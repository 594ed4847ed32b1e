// Unary elementwise ops on the CPU: math (neg, exp, log, sqrt, abs, sin, cos, square, reciprocal,
// sign), predicates, clamp, where and all_finite, each with its backward right below the forward.
// Declarations are in elementwise.h; the loop helpers (ew::map, ew::map_new) live there too.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../core/vec_map.h"
#include "../core/vec_math.h"
#include "copy.h"
#include "elementwise.h"
#include "formulas.h"

namespace lamina {

using ew::check_cpu;
using ew::check_same_device;
using ew::check_writable;
using ew::map_new;
using ew::op_name;
using ew::zeros;

// ---- unary ---------------------------------------------------------------------------------------

namespace {

bool unary_is_predicate(UnaryOp op) { return static_cast<int>(op) >= static_cast<int>(UnaryOp::LogicalNot); }
bool unary_is_float_math(UnaryOp op) {
    switch (op) {
        case UnaryOp::Exp: case UnaryOp::Log: case UnaryOp::Sqrt: case UnaryOp::Sin:
        case UnaryOp::Cos: case UnaryOp::Reciprocal: return true;
        default: return false;
    }
}

void unary_kernel(Tensor& out, const Tensor& x, UnaryOp op) {
    const char* name = op_name(op);
    if (unary_is_predicate(op)) {
        dispatch_all(x.dtype(), name, [&](auto tag) {
            using T = decltype(tag);
            switch (op) {
                case UnaryOp::LogicalNot: ew::map<bool, T, 1>(out, {&x}, [](T v) { return v == T(0); }); break;
                case UnaryOp::IsNan: ew::map<bool, T, 1>(out, {&x}, [](T v) { return v != v; }); break;
                case UnaryOp::IsFinite:
                    if constexpr (std::is_floating_point_v<T>)
                        ew::map<bool, T, 1>(out, {&x}, [](T v) { return (v - v) == T(0); });
                    else ew::map<bool, T, 1>(out, {&x}, [](T) { return true; });
                    break;
                default: break;
            }
        });
        return;
    }
    if (unary_is_float_math(op)) {
        dispatch_float(x.dtype(), name, [&](auto tag) {
            using T = decltype(tag);
            switch (op) {
                // exp and log run over Vectorized<T> (vec_math.h); the rest stay plain loops.
                case UnaryOp::Exp: vec::map<T, 1>(out, {&x}, [](auto v) { return vec::exp(v); }); break;
                case UnaryOp::Log: vec::map<T, 1>(out, {&x}, [](auto v) { return vec::log(v); }); break;
                case UnaryOp::Sqrt: ew::map<T, T, 1>(out, {&x}, [](T v) { return std::sqrt(v); }); break;
                case UnaryOp::Sin: ew::map<T, T, 1>(out, {&x}, [](T v) { return std::sin(v); }); break;
                case UnaryOp::Cos: ew::map<T, T, 1>(out, {&x}, [](T v) { return std::cos(v); }); break;
                case UnaryOp::Reciprocal: ew::map<T, T, 1>(out, {&x}, [](T v) { return T(1) / v; }); break;
                default: break;
            }
        });
        return;
    }
    if (x.dtype() == DType::Bool) {  // PyTorch's rules: -mask is refused, sign(mask) is the mask
        LAMINA_CHECK_RUNTIME(op != UnaryOp::Neg,
                             "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                             "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
        if (op == UnaryOp::Sign) {
            ew::map<bool, bool, 1>(out, {&x}, [](bool v) { return v; });
            return;
        }
    }
    dispatch_numeric(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        switch (op) {
            case UnaryOp::Neg: ew::map<T, T, 1>(out, {&x}, [](T v) { return T(-v); }); break;
            case UnaryOp::Abs: ew::map<T, T, 1>(out, {&x}, [](T v) { return v < T(0) ? T(-v) : v; }); break;
            case UnaryOp::Square: ew::map<T, T, 1>(out, {&x}, [](T v) { return T(v * v); }); break;
            case UnaryOp::Sign: ew::map<T, T, 1>(out, {&x}, [](T v) { return fm::sign(v); }); break;
            default: break;
        }
    });
}

}  // namespace

Tensor unary_forward(const Tensor& x, UnaryOp op) {
    check_cpu(op_name(op), x);
    Tensor out = Tensor::empty(x.shape(), unary_is_predicate(op) ? DType::Bool : x.dtype());
    unary_kernel(out, x, op);
    return out;
}

void unary_(Tensor& x, UnaryOp op) {
    x.bump_version();
    const char* name = op_name(op);
    check_cpu(name, x);
    LAMINA_CHECK_RUNTIME(!unary_is_predicate(op), name, "_: in-place form does not exist");
    LAMINA_CHECK_RUNTIME(!unary_is_float_math(op) || is_floating(x.dtype()), name,
                         "_: result type float can't be cast to the desired output type ",
                         dtype_name(x.dtype()), " (shape ", x.shape(), ")");
    check_writable(name, x);
    unary_kernel(x, x, op);
}

Tensor unary_backward(const Tensor& dout, const Tensor& x, const Tensor& out, UnaryOp op) {
    const char* name = op_name(op);
    check_cpu(name, dout);
    const DType dt = x.dtype();
    const Tensor d = dout.to(dt);
    const Shape& shape = x.shape();
    Tensor dx;
    dispatch_float(dt, name, [&](auto tag) {
        using T = decltype(tag);
        switch (op) {
            case UnaryOp::Neg: dx = map_new<T>(shape, dt, {&d}, [](T g) { return T(-g); }); break;
            case UnaryOp::Exp: dx = map_new<T>(shape, dt, {&d, &out}, [](T g, T y) { return T(g * y); }); break;
            case UnaryOp::Log: dx = map_new<T>(shape, dt, {&d, &x}, [](T g, T v) { return T(g / v); }); break;
            case UnaryOp::Sqrt:
                dx = map_new<T>(shape, dt, {&d, &out}, [](T g, T y) { return T(g / (T(2) * y)); });
                break;
            case UnaryOp::Abs:
                dx = map_new<T>(shape, dt, {&d, &x}, [](T g, T v) { return T(g * fm::sign(v)); });
                break;
            case UnaryOp::Sin: dx = map_new<T>(shape, dt, {&d, &x}, [](T g, T v) { return T(g * std::cos(v)); }); break;
            case UnaryOp::Cos: dx = map_new<T>(shape, dt, {&d, &x}, [](T g, T v) { return T(-g * std::sin(v)); }); break;
            case UnaryOp::Square:
                dx = map_new<T>(shape, dt, {&d, &x}, [](T g, T v) { return T(g * T(2) * v); });
                break;
            case UnaryOp::Reciprocal:
                dx = map_new<T>(shape, dt, {&d, &out}, [](T g, T y) { return T(-g * y * y); });
                break;
            case UnaryOp::Sign: dx = zeros(shape, dt); break;
            default: throw TypeError(detail::cat(name, ": has no gradient"));
        }
    });
    return dx;
}

// ---- clamp ---------------------------------------------------------------------------------------

namespace {

void clamp_kernel(Tensor& out, const Tensor& x, double lo, double hi, bool has_lo, bool has_hi) {
    dispatch_numeric(x.dtype(), "clamp", [&](auto tag) {
        using T = decltype(tag);
        const T l = static_cast<T>(lo), h = static_cast<T>(hi);
        // min > max gives max everywhere, as in PyTorch; NaN passes through.
        if (has_lo && has_hi)
            ew::map<T, T, 1>(out, {&x}, [l, h](T v) { return v < l ? (l > h ? h : l) : (v > h ? h : v); });
        else if (has_lo) ew::map<T, T, 1>(out, {&x}, [l](T v) { return v < l ? l : v; });
        else ew::map<T, T, 1>(out, {&x}, [h](T v) { return v > h ? h : v; });
    });
}

}  // namespace

Tensor clamp_forward(const Tensor& x, double lo, double hi, bool has_lo, bool has_hi) {
    check_cpu("clamp", x);
    LAMINA_CHECK(has_lo || has_hi, "clamp: at least one of 'min' or 'max' must not be None");
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    clamp_kernel(out, x, lo, hi, has_lo, has_hi);
    return out;
}

void clamp_(Tensor& x, double lo, double hi, bool has_lo, bool has_hi) {
    x.bump_version();
    check_cpu("clamp", x);
    LAMINA_CHECK(has_lo || has_hi, "clamp_: at least one of 'min' or 'max' must not be None");
    check_writable("clamp", x);
    clamp_kernel(x, x, lo, hi, has_lo, has_hi);
}

Tensor clamp_backward(const Tensor& dout, const Tensor& x, double lo, double hi, bool has_lo, bool has_hi) {
    check_cpu("clamp", dout);
    const DType dt = x.dtype();
    const Tensor d = dout.to(dt);
    Tensor dx;
    dispatch_float(dt, "clamp", [&](auto tag) {
        using T = decltype(tag);
        const T l = has_lo ? static_cast<T>(lo) : -std::numeric_limits<T>::infinity();
        const T h = has_hi ? static_cast<T>(hi) : std::numeric_limits<T>::infinity();
        dx = map_new<T>(x.shape(), dt, {&d, &x}, [l, h](T g, T v) { return (v >= l && v <= h) ? g : T(0); });
    });
    return dx;
}

// ---- where ---------------------------------------------------------------------------------------

Tensor where_forward(const Tensor& cond_in, const Tensor& x_in, const Tensor& y_in) {
    check_cpu("where", cond_in);
    check_same_device("where", cond_in, x_in);
    check_same_device("where", x_in, y_in);
    LAMINA_CHECK_TYPE(cond_in.dtype() == DType::Bool, "where: expected a bool condition, got ",
                      dtype_name(cond_in.dtype()), " (shape ", cond_in.shape(), ")");
    const DType dt = result_type(x_in, y_in);
    const Shape shape = broadcast_shapes(broadcast_shapes(cond_in.shape(), x_in.shape(), "where"),
                                         y_in.shape(), "where");
    const Tensor c = cond_in.expand(shape), x = x_in.to(dt).expand(shape), y = y_in.to(dt).expand(shape);
    Tensor out = Tensor::empty(shape, dt);
    if (out.numel() == 0) return out;
    dispatch_all(dt, "where", [&](auto tag) {
        using T = decltype(tag);
        for_each_run<4>(shape, {&out, &c, &x, &y}, [&](const std::array<char*, 4>& p, const int64_t* st, int64_t n) {
            T* o = reinterpret_cast<T*>(p[0]);
            const bool* cc = reinterpret_cast<const bool*>(p[1]);
            const T* xx = reinterpret_cast<const T*>(p[2]);
            const T* yy = reinterpret_cast<const T*>(p[3]);
            if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
                for (int64_t k = 0; k < n; ++k) o[k] = cc[k] ? xx[k] : yy[k];
            } else {
                for (int64_t k = 0; k < n; ++k) o[k * st[0]] = cc[k * st[1]] ? xx[k * st[2]] : yy[k * st[3]];
            }
        });
    });
    return out;
}

std::pair<Tensor, Tensor> where_backward(const Tensor& dout, const Tensor& cond, const Shape& x_shape,
                                         DType x_dtype, const Shape& y_shape, DType y_dtype,
                                         bool need_x, bool need_y) {
    check_cpu("where", dout);
    const Shape& shape = dout.shape();
    const Tensor c = cond.expand(shape);
    Tensor dx, dy;
    dispatch_float(dout.dtype(), "where", [&](auto tag) {
        using T = decltype(tag);
        auto pick = [&](bool when) {
            Tensor g = Tensor::empty(shape, dout.dtype());
            for_each_run<3>(shape, {&g, &c, &dout}, [&](const std::array<char*, 3>& p, const int64_t* st, int64_t n) {
                T* o = reinterpret_cast<T*>(p[0]);
                const bool* cc = reinterpret_cast<const bool*>(p[1]);
                const T* d = reinterpret_cast<const T*>(p[2]);
                for (int64_t k = 0; k < n; ++k) o[k * st[0]] = cc[k * st[1]] == when ? d[k * st[2]] : T(0);
            });
            return g;
        };
        if (need_x) dx = sum_to_shape(pick(true), x_shape).to(x_dtype);
        if (need_y) dy = sum_to_shape(pick(false), y_shape).to(y_dtype);
    });
    return {dx, dy};
}

// ---- all_finite ----------------------------------------------------------------------------------

bool all_finite(const Tensor& x_in) {
    if (!is_floating(x_in.dtype()) || x_in.numel() == 0) return true;
    check_cpu("all_finite", x_in);
    const Tensor x = x_in.contiguous();
    return dispatch_float(x.dtype(), "all_finite", [&](auto tag) {
        using T = decltype(tag);
        const T* p = x.data<T>();
        const int64_t n = x.numel();
        // v - v is 0 for finite v and NaN for NaN/inf, so one NaN-propagating sum checks them all.
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < n; ++k) acc += p[k] - p[k];
        return acc == T(0);
    });
}

}  // namespace lamina
