// Row copies that build the direct convolution's shifted input layout (fill_shifted in
// conv2d_direct.cpp): one output row of a kernel column is a strided, zero-padded slice of one input
// row. Rows are short (8-56 elements) and there are C*H*KW of them per image, so the per-row cost is
// what counts: one masked load per vector (two and a lane permute for stride 2), no scalar edges.
// Internal to cpp/ops/conv2d_direct.cpp; compiled once per ISA level.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/vec.h"

namespace lamina {
namespace conv_layout {

// d[i] = 0, i < n.
template <class T>
inline void zero_row(T* d, int64_t n) {
    using V = vec::Vectorized<T>;
    constexpr int64_t lanes = V::size();
    const V z(T(0));
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) z.store(d + i);
    if (i < n) z.store(d + i, static_cast<int>(n - i));
}

#if defined(__AVX512F__)
// Lanes [lo, hi) of 16 set (lo, hi clamped to [0, 16]).
inline __mmask16 lane_range16(int64_t lo, int64_t hi) {
    lo = std::clamp<int64_t>(lo, 0, 16);
    hi = std::clamp<int64_t>(hi, 0, 16);
    if (hi <= lo) return 0;
    return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#elif defined(__AVX2__)
// Lanes [lo, hi) of 8 set, as a maskload / maskstore mask.
inline __m256i lane_range8(int64_t lo, int64_t hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = std::clamp<int64_t>(lo, 0, 8);
    hi = std::clamp<int64_t>(hi, 0, 8);
    return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane));
}
#endif

// d[i] = row[c0 + i*sw] where 0 <= c0 + i*sw < W, else 0, for i < n (c0 may be negative: the
// left padding). The load masks depend only on (c0, sw, W, n), not on the row, so they are built
// once per kernel column and reused for every row of the image. Masked loads read only columns
// inside [0, W) of the row, and the last vector is stored masked, so nothing past d[n - 1] is
// written (the next row of the layout may already be filled).
template <class T>
class RowGather {
   public:
    RowGather(int64_t c0, int64_t sw, int64_t W, int64_t n) : c0_(c0), sw_(sw), W_(W), n_(n) {
#if defined(__AVX512F__) || defined(__AVX2__)
        if (fast()) {
            constexpr int64_t L = kLanes;
            for (int64_t i = 0; i < n; i += L) {
                const int64_t cs = c0 + i * sw;  // input column of d[i]
                // every lane of the load(s) inside the row and of the store inside d
                const bool full = cs >= 0 && cs + (sw == 2 ? 2 * L : L) <= W && i + L <= n;
                masks_.push_back({cs, range(-cs, W - cs), range(-cs - L, W - cs - L), range(0, n - i), full});
            }
        }
#endif
    }

    void operator()(const T* row, T* d) const {
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
            if (fast()) {
                const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                T* di = d;
                for (const Masks& m : masks_) {
                    __m512 v = _mm512_maskz_loadu_ps(m.a, row + m.cs);
                    if (sw_ == 2) v = _mm512_permutex2var_ps(v, idx, _mm512_maskz_loadu_ps(m.b, row + m.cs + 16));
                    _mm512_mask_storeu_ps(di, m.st, v);
                    di += 16;
                }
                return;
            }
        }
#elif defined(__AVX2__)
        if constexpr (std::is_same_v<T, float>) {
            if (fast()) {
                T* di = d;
                for (const Masks& m : masks_) {
                    __m256 v = _mm256_maskload_ps(row + m.cs, m.a);
                    if (sw_ == 2) {
                        const __m256 ev = _mm256_shuffle_ps(v, _mm256_maskload_ps(row + m.cs + 8, m.b), 0x88);
                        v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));  // v0 v2 .. b6
                    }
                    _mm256_maskstore_ps(di, m.st, v);
                    di += 8;
                }
                return;
            }
        }
#endif
        for (int64_t i = 0; i < n_; ++i) {
            const int64_t c = c0_ + i * sw_;
            d[i] = c >= 0 && c < W_ ? row[c] : T(0);
        }
    }

    // operator() over nrows rows: row i of src (stride lds) to row i of d (stride ldd). At
    // AVX-512, rows of two vectors (conv f: 28 outputs) keep their masks in registers across the
    // rows: reloading them per row (kmovw from memory, port 5 like the lane permute) took f's
    // fill from 43 to 59 us per image (standalone, image in L2).
    void rows(const T* src, int64_t lds, T* d, int64_t ldd, int64_t nrows) const {
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
            if (fast() && masks_.size() == 2) {
                const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                const Masks m0 = masks_[0], m1 = masks_[1];
                if (sw_ == 2) {
                    for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd) {
                        const __m512 v0 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0.a, src + m0.cs), idx,
                                                                 _mm512_maskz_loadu_ps(m0.b, src + m0.cs + 16));
                        const __m512 v1 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m1.a, src + m1.cs), idx,
                                                                 _mm512_maskz_loadu_ps(m1.b, src + m1.cs + 16));
                        _mm512_mask_storeu_ps(d, m0.st, v0);
                        _mm512_mask_storeu_ps(d + 16, m1.st, v1);
                    }
                } else {
                    for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd) {
                        _mm512_mask_storeu_ps(d, m0.st, _mm512_maskz_loadu_ps(m0.a, src + m0.cs));
                        _mm512_mask_storeu_ps(d + 16, m1.st, _mm512_maskz_loadu_ps(m1.a, src + m1.cs));
                    }
                }
                return;
            }
            if (fast() && masks_.size() == 1) {  // rows of one vector (d: 16 outputs)
                const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                const Masks m0 = masks_[0];
                if (sw_ == 2) {
                    for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd)
                        _mm512_mask_storeu_ps(d, m0.st,
                                              _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0.a, src + m0.cs), idx,
                                                                     _mm512_maskz_loadu_ps(m0.b, src + m0.cs + 16)));
                } else {
                    for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd)
                        _mm512_mask_storeu_ps(d, m0.st, _mm512_maskz_loadu_ps(m0.a, src + m0.cs));
                }
                return;
            }
        }
#elif defined(__AVX2__)
        // AVX2's masked loads and stores take their masks as vector data (no port-5 moves to
        // save), but vmaskmovps is slower than a plain load or store: vectors with every lane
        // inside the row (conv f: 2 of its 4 a row) use plain ones. (Not at stride 1: LeNet's
        // 8-wide rows (the weight grad of conv b) took 6% longer than with vmaskmovps.)
        if constexpr (std::is_same_v<T, float>) {
            if (fast() && sw_ == 2) {
                for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd) {
                    T* di = d;
                    for (const Masks& m : masks_) {
                        __m256 ev;
                        if (m.full)
                            ev = _mm256_shuffle_ps(_mm256_loadu_ps(src + m.cs), _mm256_loadu_ps(src + m.cs + 8), 0x88);
                        else
                            ev = _mm256_shuffle_ps(_mm256_maskload_ps(src + m.cs, m.a),
                                                   _mm256_maskload_ps(src + m.cs + 8, m.b), 0x88);
                        const __m256 v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
                        if (m.full)
                            _mm256_storeu_ps(di, v);
                        else
                            _mm256_maskstore_ps(di, m.st, v);
                        di += 8;
                    }
                }
                return;
            }
        }
#endif
        for (int64_t r = 0; r < nrows; ++r, src += lds, d += ldd) (*this)(src, d);
    }

   private:
    bool fast() const { return std::is_same_v<T, float> && (sw_ == 1 || sw_ == 2); }
#if defined(__AVX512F__)
    static constexpr int64_t kLanes = 16;
    using Mask = __mmask16;
    static Mask range(int64_t lo, int64_t hi) { return lane_range16(lo, hi); }
#elif defined(__AVX2__)
    static constexpr int64_t kLanes = 8;
    using Mask = __m256i;
    static Mask range(int64_t lo, int64_t hi) { return lane_range8(lo, hi); }
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
    struct Masks {
        int64_t cs;  // input column of the vector's first output
        Mask a, b;   // valid lanes of the first / second (stride 2) load
        Mask st;     // outputs inside the row
        bool full;   // no lane masked: plain loads and store
    };
    std::vector<Masks> masks_;
#endif
    int64_t c0_, sw_, W_, n_;
};

}  // namespace conv_layout
}  // namespace lamina
