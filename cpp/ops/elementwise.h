// Elementwise ops: binary arithmetic/comparison with NumPy broadcasting and PyTorch type promotion,
// unary math, clamp, where, and the sum-over-broadcast-dims reduction their backwards need.
// Shapes: a [...], b [...] -> out broadcast(a, b); every gradient comes back in its input's shape.
#pragma once
#include "../core/hostdev.h"
#include <utility>

#include "../core/tensor.h"

namespace lamina {

enum class BinaryOp : int {
    Add = 0, Sub, Mul, Div, Pow, Maximum, Minimum,      // arithmetic: result in the promoted dtype
    Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,      // predicates: bool result
};
enum class UnaryOp : int {
    Neg = 0, Exp, Log, Sqrt, Abs, Sin, Cos, Square, Reciprocal, Sign,   // same dtype (float for math)
    LogicalNot, IsNan, IsFinite,                                           // bool result
};

// PyTorch's result type for a binary op between tensors: a 0-d tensor only decides the dtype when
// its category (bool < int < float) is higher than the other operand's.
DType result_type(const Tensor& a, const Tensor& b);

// out = a op b, broadcast; Add/Sub compute a +- alpha * b. Arithmetic on bool computes in int64.
Tensor binary_forward(const Tensor& a, const Tensor& b, BinaryOp op, double alpha);
// out = a op s (or s op a when `reverse`), computed in dtype `dt` (the caller applies PyTorch's
// scalar promotion); predicates return bool.
Tensor binary_scalar_forward(const Tensor& a, double s, BinaryOp op, bool reverse, DType dt, double alpha);
// In place into a (a's shape must be the broadcast shape and a's dtype hold the result).
void binary_(Tensor& a, const Tensor& b, BinaryOp op, double alpha);
void binary_scalar_(Tensor& a, double s, BinaryOp op, bool reverse, double alpha);
// (da, db) for out = a op b, each reduced to its input's shape and dtype; undefined where not needed.
std::pair<Tensor, Tensor> binary_backward(const Tensor& dout, const Tensor& a, const Tensor& b,
                                          const Tensor& out, BinaryOp op, double alpha, bool need_a,
                                          bool need_b);
// da for out = a op s (or s op a); in a's dtype.
Tensor binary_scalar_backward(const Tensor& dout, const Tensor& a, double s, const Tensor& out,
                              BinaryOp op, bool reverse, double alpha);

// g [broadcast shape] summed over the broadcast dimensions -> shape.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// Float math (Exp, Log, Sqrt, Sin, Cos, Reciprocal) needs a float input: the caller promotes.
Tensor unary_forward(const Tensor& x, UnaryOp op);
void unary_(Tensor& x, UnaryOp op);
Tensor unary_backward(const Tensor& dout, const Tensor& x, const Tensor& out, UnaryOp op);

// clamp(x, lo, hi) with optional bounds; gradient 1 where lo <= x <= hi.
Tensor clamp_forward(const Tensor& x, double lo, double hi, bool has_lo, bool has_hi);
void clamp_(Tensor& x, double lo, double hi, bool has_lo, bool has_hi);
Tensor clamp_backward(const Tensor& dout, const Tensor& x, double lo, double hi, bool has_lo, bool has_hi);

// where(cond, x, y): cond bool, all three broadcast; result dtype result_type(x, y).
Tensor where_forward(const Tensor& cond, const Tensor& x, const Tensor& y);
// (dx, dy) reduced to the given shapes and dtypes.
std::pair<Tensor, Tensor> where_backward(const Tensor& dout, const Tensor& cond, const Shape& x_shape,
                                         DType x_dtype, const Shape& y_shape, DType y_dtype,
                                         bool need_x, bool need_y);

// True when no element is NaN or +-inf (always true for integer and bool tensors).
bool all_finite(const Tensor& x);

}  // namespace lamina

// ---- loop helpers shared by elementwise.cpp and activation.cpp ----------------------------------
#include <array>
#include <utility>

#include "../core/iter.h"

namespace lamina::ew {

template <class TO, class TI, class F, size_t... I>
LAMINA_FLATTEN inline void run_unit(TO* __restrict o, std::array<const TI*, sizeof...(I)> x, int64_t n, const F& f,
                     std::index_sequence<I...>) {
    for (int64_t k = 0; k < n; ++k) o[k] = f(x[I][k]...);
}

template <class TO, class TI, class F, size_t... I>
LAMINA_FLATTEN inline void run_strided(TO* o, std::array<const TI*, sizeof...(I)> x, const int64_t* st, int64_t n,
                        const F& f, std::index_sequence<I...>) {
    for (int64_t k = 0; k < n; ++k) o[k * st[0]] = f(x[I][k * st[I + 1]]...);
}

// out[i] = f(in_0[i], ..., in_{N-1}[i]). Inputs already have out's shape (expanded) and type TI;
// out has type TO. Contiguous operands take one flat, vectorisable loop split over threads;
// anything else goes through for_each_run (coalesced dims, unit-stride runs when possible).
template <class TO, class TI, size_t N, class F>
void map(Tensor& out, const std::array<const Tensor*, N>& in, const F& f) {
    const int64_t n = out.numel();
    if (n == 0) return;
    bool contig = out.is_contiguous();
    for (const Tensor* t : in) contig = contig && t->is_contiguous();
    if (contig) {
        TO* o = out.data<TO>();
        std::array<const TI*, N> x;
        for (size_t i = 0; i < N; ++i) x[i] = in[i]->template data<TI>();
        parallel_for_fine(0, n, kGrainElementwise, [&](int64_t b, int64_t e) {
            std::array<const TI*, N> xb;
            for (size_t i = 0; i < N; ++i) xb[i] = x[i] + b;
            run_unit(o + b, xb, e - b, f, std::make_index_sequence<N>{});
        });
        return;
    }
    std::array<const Tensor*, N + 1> ts;
    ts[0] = &out;
    for (size_t i = 0; i < N; ++i) ts[i + 1] = in[i];
    for_each_run<static_cast<int>(N + 1)>(
        out.shape(), ts, [&](const std::array<char*, N + 1>& p, const int64_t* st, int64_t m) {
            bool unit = true;
            for (size_t a = 0; a <= N; ++a) unit = unit && st[a] == 1;
            TO* o = reinterpret_cast<TO*>(p[0]);
            std::array<const TI*, N> x;
            for (size_t i = 0; i < N; ++i) x[i] = reinterpret_cast<const TI*>(p[i + 1]);
            if (unit) run_unit(o, x, m, f, std::make_index_sequence<N>{});
            else run_strided(o, x, st, m, f, std::make_index_sequence<N>{});
        });
}

// Operands not on the CPU: only add has a CUDA kernel so far.
void check_cpu(const char* op, const Tensor& t);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
// In-place writes need one memory location per element of the destination.
void check_writable(const char* op, const Tensor& a);
const char* op_name(UnaryOp op);
Tensor zeros(const Shape& shape, DType dt);

// A new tensor of `shape`/`dt` holding f applied elementwise to 1-4 same-shaped inputs.
template <class T, class F>
Tensor map_new(const Shape& shape, DType dt, std::initializer_list<const Tensor*> ins, const F& f) {
    Tensor out = Tensor::empty(shape, dt);
    const Tensor* v[4] = {nullptr, nullptr, nullptr, nullptr};
    size_t n = 0;
    for (const Tensor* t : ins) v[n++] = t;
    if (n == 1) {
        if constexpr (std::is_invocable_v<F, T>) ew::map<T, T, 1>(out, {v[0]}, f);
    } else if (n == 2) {
        if constexpr (std::is_invocable_v<F, T, T>) ew::map<T, T, 2>(out, {v[0], v[1]}, f);
    } else if (n == 3) {
        if constexpr (std::is_invocable_v<F, T, T, T>) ew::map<T, T, 3>(out, {v[0], v[1], v[2]}, f);
    } else if (n == 4) {
        if constexpr (std::is_invocable_v<F, T, T, T, T>) ew::map<T, T, 4>(out, {v[0], v[1], v[2], v[3]}, f);
    }
    return out;
}

}  // namespace lamina::ew
