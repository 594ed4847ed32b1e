// Restricted Boltzmann machine kernels: seeded Bernoulli / Gaussian sampling and one
// contrastive-divergence (CD-k or persistent CD) statistics step. Shapes: v0 [B, V], W [H, V],
// vbias [V], hbias [H], persistent chain [Bc, V]. Randomness follows the Philox counter scheme
// (element i of a draw reads counter offset + i), so results do not depend on the thread count.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <tuple>

#include "../core/hostdev.h"
#include "../core/philox.h"
#include "../core/tensor.h"

namespace lamina {

// The uniform in [0, 1) (24 bits) that counter c gives: shared by every RBM draw and by tests.
LAMINA_HD float rbm_uniform_at(uint64_t seed, uint64_t c) {
    uint32_t w0, w1, w2, w3;
    philox4x32_words(c, seed, w0, w1, w2, w3);
    return u32_to_unit_float(w0);
}
// The standard normal that counter c gives (Box-Muller on the first two words, in float).
LAMINA_HD float rbm_normal_at(uint64_t seed, uint64_t c) {
    uint32_t w0, w1, w2, w3;
    philox4x32_words(c, seed, w0, w1, w2, w3);
    const float u1 = (static_cast<float>(w0 >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
    const float u2 = u32_to_unit_float(w1);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

// out[i] = 1 if uniform(offset + i) < p[i] else 0 (p in [0, 1]); reserves p.numel() counters.
Tensor rbm_sample_bernoulli(const Tensor& p);
// The noise a draw at (seed, offset) used: n uniforms (normal = false) or standard normals, in dtype.
Tensor rbm_noise(int64_t n, uint64_t seed, uint64_t offset, bool normal, DType dtype);

// One contrastive-divergence step, statistics only (the caller applies the update):
//   ph0 = sigmoid(v0 W^T + hb); positive stats from (v0, ph0).
//   chain start: `chain` (persistent CD) or v0 (CD-k); then k Gibbs steps
//     h ~ Bernoulli(sigmoid(v W^T + hb)), v ~ Bernoulli(sigmoid(h W + vb)) or v = h W + vb + N(0, 1)
//   (gaussian visibles); negative stats from (v_k, sigmoid(v_k W^T + hb)).
// Returns (dW [H,V] = ph0^T v0 / B - phk^T vk / Bc, dvb [V], dhb [H], chain end vk [Bc,V],
//          recon_err = mean (v0 - mean_v(ph0))^2 (deterministic), hmean = mean_b ph0 [H], seed, offset).
// Counters: step s (0-based) draws the hiddens at offset + s (Bc H + Bc V) and the visibles right
// after them; k Bc (H + V) counters are reserved in all.
std::tuple<Tensor, Tensor, Tensor, Tensor, double, Tensor, uint64_t, uint64_t> rbm_cd_step(
    const Tensor& v0, const Tensor& W, const Tensor& vbias, const Tensor& hbias, int64_t k,
    const std::optional<Tensor>& chain, bool gaussian);

}  // namespace lamina
