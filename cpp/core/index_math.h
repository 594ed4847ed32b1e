// Strided index math shared by the CPU loops and the CUDA kernels (LAMINA_HD): a linear index in
// the output's logical (row-major) order maps to an element offset in each operand.
#pragma once
#include <cstdint>

#include "hostdev.h"

namespace lamina {

constexpr int kMaxDims = 16;

// Up to NARGS operands walked over one logical shape. strides are in elements; a broadcast
// dimension has stride 0.
template <int NARGS>
struct StridedIndexer {
    int ndim = 0;
    int64_t sizes[kMaxDims];
    int64_t strides[NARGS][kMaxDims];

    // Element offset of linear index `i` in operand `a`.
    LAMINA_HD int64_t offset(int64_t i, int a) const {
        int64_t off = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            const int64_t q = i / sizes[d];
            off += (i - q * sizes[d]) * strides[a][d];
            i = q;
        }
        return off;
    }
};

}  // namespace lamina
