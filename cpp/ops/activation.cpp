// Activations on the CPU: the element formulas live in formulas.h (shared with CUDA, the scalar
// reference); here each activation picks its functor once per call. The ones with a transcendental
// run over Vectorized<T> (vec_math.h) through vec::map; the rest through ew::map's plain loops.
#include "activation.h"

#include "../core/vec_map.h"
#include "../core/vec_math.h"
#include "elementwise.h"
#include "formulas.h"

namespace lamina {

namespace {

const char* act_name(Act a) {
    static const char* names[] = {"identity", "sigmoid", "bipolar_sigmoid", "tanh", "relu", "leaky_relu",
                                  "elu", "softplus", "gelu", "gelu", "step", "step"};
    return names[static_cast<int>(a)];
}

template <class T, class R>
void with_act(Act act, T p0, T p1, const R& run) {
    switch (act) {
        case Act::Identity: return run([](T x) { return x; });
        case Act::Sigmoid: return run([](T x) { return fm::sigmoid(x); });
        case Act::BipolarSigmoid: return run([](T x) { return fm::bipolar_sigmoid(x); });
        case Act::Tanh: return run([](T x) { return tanh_t(x); });
        case Act::Relu: return run([](T x) { return fm::relu(x); });
        case Act::LeakyRelu: return run([p0](T x) { return fm::leaky_relu(x, p0); });
        case Act::Elu: return run([p0](T x) { return fm::elu(x, p0); });
        case Act::Softplus: return run([p0, p1](T x) { return fm::softplus(x, p0, p1); });
        case Act::Gelu: return run([](T x) { return fm::gelu(x); });
        case Act::GeluTanh: return run([](T x) { return fm::gelu_tanh(x); });
        case Act::StepSte:
        case Act::StepSigmoid: return run([p0](T x) { return fm::step(x, p0); });
    }
}

// The vectorised forms of the activations with a transcendental; false for the others.
template <class T>
bool act_vec(Tensor& out, const Tensor& x, Act act, T p0, T p1) {
    using V = vec::Vectorized<T>;
    auto run = [&](const auto& f) { vec::map<T, 1>(out, {&x}, f); return true; };
    switch (act) {
        case Act::Sigmoid: return run([](V v) { return vec::sigmoid(v); });
        case Act::BipolarSigmoid: return run([](V v) { return vec::tanh(v * V(T(0.5))); });
        case Act::Tanh: return run([](V v) { return vec::tanh(v); });
        case Act::Elu:
            // min(0, v) keeps a NaN (x86 min returns its second operand on NaN); v >= 0 passes -0
            // through as -0 (PyTorch's elu(-0)).
            return run([p0](V v) { return select(v >= V(T(0)), v, V(p0) * vec::expm1_neg(min(V(T(0)), v))); });
        case Act::Softplus:
            return run([p0, p1](V v) {
                const V bx = V(p0) * v;
                const V r = (max(V(T(0)), bx) + vec::log1p_pos(vec::exp(-abs(bx)))) / V(p0);
                return select(bx > V(p1), v, r);
            });
        case Act::Gelu: return run([](V v) { return vec::gelu(v); });
        case Act::GeluTanh: return run([](V v) { return vec::gelu_tanh(v); });
        default: return false;
    }
}

void act_kernel(Tensor& out, const Tensor& x, Act act, double p0, double p1) {
    const char* name = act_name(act);
    if (act == Act::Relu && x.dtype() == DType::Int64) {
        ew::map<int64_t, int64_t, 1>(out, {&x}, [](int64_t v) { return v > 0 ? v : int64_t(0); });
        return;
    }
    dispatch_float(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        if (act_vec<T>(out, x, act, static_cast<T>(p0), static_cast<T>(p1))) return;
        with_act<T>(act, static_cast<T>(p0), static_cast<T>(p1),
                    [&](const auto& f) { ew::map<T, T, 1>(out, {&x}, f); });
    });
}

}  // namespace

bool activation_saves_output(Act act) {
    return act == Act::Sigmoid || act == Act::BipolarSigmoid || act == Act::Tanh || act == Act::Relu;
}

Tensor activation_forward(const Tensor& x, Act act, double p0, double p1) {
    ew::check_cpu(act_name(act), x);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    act_kernel(out, x, act, p0, p1);
    return out;
}

void activation_(Tensor& x, Act act, double p0, double p1) {
    x.bump_version();
    ew::check_cpu(act_name(act), x);
    for (int64_t d = 0; d < x.dim(); ++d)
        LAMINA_CHECK_RUNTIME(!(x.strides()[d] == 0 && x.shape()[d] > 1), act_name(act),
                             "_: unsupported operation: more than one element of the written-to tensor "
                             "(shape ", x.shape(), ", an expanded view) refers to a single memory location");
    act_kernel(x, x, act, p0, p1);
}

Tensor activation_backward(const Tensor& dout, const Tensor& saved, Act act, double p0, double p1) {
    const char* name = act_name(act);
    ew::check_cpu(name, dout);
    const DType dt = saved.dtype();
    const Tensor d = dout.to(dt);
    Tensor dx = Tensor::empty(saved.shape(), dt);
    dispatch_float(dt, name, [&](auto tag) {
        using T = decltype(tag);
        const T a = static_cast<T>(p0), b = static_cast<T>(p1);
        auto run = [&](const auto& slope) {
            ew::map<T, T, 2>(dx, {&d, &saved}, [slope](T g, T s) { return T(g * slope(s)); });
        };
        using V = vec::Vectorized<T>;
        auto vrun = [&](const auto& slope) {
            vec::map<T, 2>(dx, {&d, &saved}, [slope](V g, V s) { return g * slope(s); });
        };
        switch (act) {
            case Act::Identity: ew::map<T, T, 1>(dx, {&d}, [](T g) { return g; }); break;
            case Act::Sigmoid: run([](T y) { return fm::sigmoid_grad_from_out(y); }); break;
            case Act::BipolarSigmoid: run([](T y) { return fm::bipolar_sigmoid_grad_from_out(y); }); break;
            case Act::Tanh: run([](T y) { return fm::tanh_grad_from_out(y); }); break;
            case Act::Relu:
                ew::map<T, T, 2>(dx, {&d, &saved}, [](T g, T y) { return y > T(0) ? g : T(0); });
                break;
            case Act::LeakyRelu: run([a](T x) { return fm::leaky_relu_grad(x, a); }); break;
            case Act::Elu:
                vrun([a](V x) { return select(x > V(T(0)), V(T(1)), V(a) * vec::exp(x)); });
                break;
            case Act::Softplus:
                vrun([a, b](V x) {
                    const V bx = V(a) * x;
                    return select(bx > V(b), V(T(1)), vec::sigmoid(bx));
                });
                break;
            case Act::Gelu: vrun([](V x) { return vec::gelu_grad(x); }); break;
            case Act::GeluTanh: vrun([](V x) { return vec::gelu_tanh_grad(x); }); break;
            case Act::StepSte: run([a](T x) { return fm::step_grad_ste(x, a); }); break;
            case Act::StepSigmoid: run([a, b](T x) { return fm::step_grad_sigmoid(x, a, b); }); break;
        }
    });
    return dx;
}

}  // namespace lamina
