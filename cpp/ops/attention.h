// Fused scaled dot-product attention: one forward call does scores = scale * Q K^T, mask, a stable
// softmax, dropout and P V per batch item; one backward call returns dQ, dK, dV from the saved P.
// Shapes: q [*B, L, E], k [*B, S, E], v [*B, S, Ev], mask [*B, L, S] (each broadcast to a common
// batch shape *B) -> out [*B, L, Ev], probs [*B, L, S].
#pragma once
#include <cstdint>
#include <optional>
#include <tuple>

#include "../core/tensor.h"

namespace lamina {

// mask: bool (true = attend) or float (added to the scores), any strides, broadcastable to
// [*B, L, S]; is_causal keeps s <= l (upper-left aligned, like PyTorch). A row with every key
// masked gets all-zero probabilities when safe_softmax (PyTorch's scaled_dot_product_attention),
// NaN otherwise (PyTorch's softmax-based MultiheadAttention path).
// dropout_p > 0 drops probability (b, l, s) when Philox(seed, offset + flat index) < p and scales
// the rest by 1 / (1 - p); B*L*S counters of the default generator are reserved.
// out_into: [*B, L, Ev] with unit column stride (e.g. a head view [N, H, L, hd] of an [N, L, E]
// buffer) to write the output into instead of a new contiguous tensor.
// Returns (out, probs before dropout, weights after dropout [undefined unless return_weights and
// dropout_p > 0], seed, offset).
std::tuple<Tensor, Tensor, Tensor, uint64_t, uint64_t> sdpa_forward(
    const Tensor& q, const Tensor& k, const Tensor& v, const std::optional<Tensor>& mask,
    double dropout_p, bool is_causal, double scale, bool return_weights, bool safe_softmax,
    const std::optional<Tensor>& out_into = std::nullopt);

// dout [*B, L, Ev]; dweights (optional) the gradient of the returned weights (probs after dropout).
// dV = P'^T dO, dP' = dO V^T (+ dweights), dP = dP' * dropmask, dS = P * (dP - rowsum(dP * P)),
// dQ = scale * dS K, dK = scale * dS^T Q, dmask = dS (a float mask is added to the scores).
// Gradients come back with the broadcast batch shape *B (dmask [*B, L, S]; the caller sums them to
// the input shapes); one not needed comes back undefined. dout may be strided; dq/dk/dv_into, when
// given, receive the gradients in place (as out_into above; the batch shape must be *B itself).
std::tuple<Tensor, Tensor, Tensor, Tensor> sdpa_backward(
    const Tensor& dout, const std::optional<Tensor>& dweights, const Tensor& q, const Tensor& k, const Tensor& v,
    const Tensor& probs, double dropout_p, uint64_t seed, uint64_t offset, double scale, bool need_q, bool need_k,
    bool need_v, bool need_mask, const std::optional<Tensor>& dq_into = std::nullopt,
    const std::optional<Tensor>& dk_into = std::nullopt, const std::optional<Tensor>& dv_into = std::nullopt);

}  // namespace lamina
