// How the im2col + GEMM paths of conv2d (forward, data grad, weight grad) cut a batch into chunks
// of images that share one column matrix, bands of a large image's column matrix, and the loop that
// runs the chunks on threads with per-thread scratch. Internal to cpp/ops/conv2d*.cpp.
#pragma once
#include <algorithm>
#include <vector>

#include "../core/allocator.h"
#include "../core/parallel.h"
#include "conv2d.h"

namespace lamina {
namespace conv_chunks {

// Images per GEMM. One image of a small layer (LeNet's 12x12, a CIFAR net's 8x8) gives a GEMM
// too thin for BLAS to reach speed, so small images share one column matrix side by side until the
// GEMM has ~2048 columns; the column buffer stays under ~8 MB (2M elements).
inline int64_t images_per_chunk(const detail::ConvPlan& pl, bool for_threads = true) {
    const int64_t L = std::max<int64_t>(1, pl.g.col_cols());
    const int64_t rows = std::max<int64_t>({pl.g.col_rows(), pl.OC, 1});
    if (L >= 2048 || pl.N <= 1) return 1;
    int64_t nb = (2048 + L - 1) / L;
    nb = std::min(nb, std::max<int64_t>(1, (int64_t(2) << 20) / (rows * L)));
    nb = std::max<int64_t>(1, std::min(nb, pl.N));
    // Chunks go to threads whole (for_each_chunk): even them out, so 8 images at 2 threads are
    // 4 chunks of 2, not 3 + 3 + 2 (one thread with twice the work). The configured count, not
    // the governor's (thread_governor.h): the chunks, and so the weight grad's sums, must not
    // change with the load of other processes.
    const int64_t nt = in_parallel_region() ? 1 : std::max<int64_t>(1, get_num_threads());
    if (nt > 1 && for_threads) {
        const int64_t per_thread = (pl.N + nt * nb - 1) / (nt * nb);  // chunks each thread runs
        nb = std::max<int64_t>(1, (pl.N + nt * per_thread - 1) / (nt * per_thread));
    }
    return nb;
}

// Sizes shared by the forward and both backward passes for one plan: group sizes, images per
// chunk, and the scratch a chunk needs (its column matrix, plus the gathered [OC, m*L] block when
// a chunk holds several images).
struct ChunkLayout {
    int64_t L, OCg, Kg, nb, R, CHW, scratch;
    bool direct;  // one image of a pointwise conv: the image is its own column matrix
    // Output rows per band: a single image whose column matrix would outgrow the L2 (e: 576 x
    // 3136 floats, 7 MB) is built and multiplied in bands of ~512 KB (forward and weight grad),
    // so im2col's writes are still in cache when the GEMM reads them; OH when not banded.
    int64_t band;
};

constexpr int64_t kBandBytes = 512 * 1024;

// for_threads = false: images per chunk chosen without regard to the thread count.
inline ChunkLayout chunk_layout(const detail::ConvPlan& pl, int64_t es, bool allow_band = true,
                         bool for_threads = true) {
    const ConvGeometry& g = pl.g;
    ChunkLayout c;
    c.L = g.col_cols();
    c.OCg = pl.OC / pl.groups;
    c.Kg = g.col_rows() / pl.groups;
    c.nb = images_per_chunk(pl, for_threads);
    c.R = g.col_rows();
    c.CHW = g.C * g.H * g.W;
    c.direct = c.nb == 1 && g.is_pointwise();
    c.band = g.OH;
    if (allow_band && c.nb == 1 && !c.direct && g.OW > 0 && c.R * c.L * es > 2 * kBandBytes)
        c.band = std::max<int64_t>(1, kBandBytes / (es * c.R * g.OW));
    c.scratch = (c.direct ? 0 : c.R * c.nb * (c.band * g.OW)) + (c.nb > 1 ? pl.OC * c.nb * c.L : 0);
    return c;
}

inline int64_t chunk_threads(int64_t N, int64_t nb);

// Runs body(n0, n1, scratch, thread) over chunks [n0, n1) of nb images. With several chunks and
// threads: OpenMP over chunks, each thread with its own scratch (gemm inside a region runs on the
// calling thread, see blas.h). Otherwise in order on this thread, so BLAS and the im2col loops get
// the threads. Exceptions (a failed scratch allocation) are rethrown after the join.
// Dynamic (a body that writes only its own images): a worker that wakes late does not hold up the
// join (parallel_chunks: each thread runs its own chunks, then the ones others have not started).
// Static (the weight grad, whose per-thread sums must add up in the same order every call): the
// chunks are split into chunk_threads() contiguous runs by the configured thread count (the split
// OpenMP's schedule(static) makes), run t always gets `thread` t; when the governor allows fewer
// threads (thread_governor.h), each thread runs several runs in turn, so the sums do not change.
template <class T, bool Dynamic = false, class F>
void for_each_chunk(int64_t N, int64_t nb, int64_t scratch, const F& body) {
    const int64_t nchunks = (N + nb - 1) / nb;
#ifdef _OPENMP
    if (Dynamic && nchunks > 1 && !in_parallel_region()) {
        const int64_t nt = std::min<int64_t>(effective_num_threads(), nchunks);
        if (nt > 1) {
            std::vector<ScratchBuffer<T>> bufs(static_cast<size_t>(nt));  // one per thread, made on first use
            parallel_chunks(0, nchunks, 1, nt, [&](int64_t c, int64_t) {
                const int tid = omp_get_thread_num();
                if (!bufs[tid].get() && scratch > 0) bufs[tid] = ScratchBuffer<T>(static_cast<size_t>(scratch));
                body(c * nb, std::min(N, (c + 1) * nb), bufs[tid].get(), tid);
            });
            return;
        }
    }
    const int64_t runs = Dynamic ? 1 : chunk_threads(N, nb);
    if (runs > 1) {
        // Run t: chunks [c0, c1), the first nchunks % runs runs one longer.
        const int64_t q = nchunks / runs, r = nchunks % runs;
        auto run = [&](int64_t t, T* buf, ParallelErrors& errors) {
            const int64_t c0 = t * q + std::min(t, r), c1 = c0 + q + (t < r ? 1 : 0);
            for (int64_t c = c0; c < c1; ++c)
                errors.run([&] { body(c * nb, std::min(N, (c + 1) * nb), buf, static_cast<int>(t)); });
        };
        const int64_t nt = std::min<int64_t>(runs, effective_num_threads());
        ParallelErrors errors;
        if (nt > 1) {
#pragma omp parallel num_threads(static_cast<int>(nt))
            {
                ScratchBuffer<T> buf;
                errors.run([&] { buf = ScratchBuffer<T>(static_cast<size_t>(scratch)); });
#pragma omp for schedule(static, 1)
                for (int64_t t = 0; t < runs; ++t) run(t, buf.get(), errors);
            }
        } else {
            ScratchBuffer<T> buf(static_cast<size_t>(scratch));
            for (int64_t t = 0; t < runs; ++t) run(t, buf.get(), errors);
        }
        errors.rethrow();
        return;
    }
#endif
    ScratchBuffer<T> buf(static_cast<size_t>(scratch));
    for (int64_t c = 0; c < nchunks; ++c) body(c * nb, std::min(N, (c + 1) * nb), buf.get(), 0);
}

// Runs the static for_each_chunk splits the chunks into: the configured thread count (at most one
// run per chunk), so a weight grad's per-run sums do not depend on the governor.
inline int64_t chunk_threads(int64_t N, int64_t nb) {
    const int64_t nchunks = (N + nb - 1) / nb;
    return in_parallel_region() ? 1 : std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), nchunks));
}

// Column-matrix layout of a chunk of m images: [rows, m*L], image j in columns [j*L, (j+1)*L).
// Gathers dy_n [OC, L] for the chunk into that layout (and scatters back for the forward).
template <class T>
void gather_chunk(const T* src, int64_t n0, int64_t m, int64_t R, int64_t L, T* dst) {
    for (int64_t j = 0; j < m; ++j)
        for (int64_t r = 0; r < R; ++r)
            std::copy(src + ((n0 + j) * R + r) * L, src + ((n0 + j) * R + r + 1) * L, dst + r * m * L + j * L);
}

// Runs tasks [0, tasks) of N images (per_image tasks each) on nt threads: about kChunksPerThread
// chunks per thread, taken on demand (a worker that wakes late costs less), whole images per chunk
// when there are enough images (a chunk then builds its image's layout copy once). The direct and
// channels-blocked conv forwards split their (image, channel block, ...) tasks this way.
template <class F>
void run_image_tasks(int64_t tasks, int64_t per_image, int64_t N, int64_t nt, const F& run) {
    if (nt > 1) {
        const int64_t nchunks = std::min(tasks, nt * kChunksPerThread);
        int64_t chunk = (tasks + nchunks - 1) / nchunks;
        if (N >= nchunks) chunk = (chunk + per_image - 1) / per_image * per_image;
        parallel_chunks(0, tasks, chunk, nt, run);
        return;
    }
    run(0, tasks);
}

}  // namespace conv_chunks
}  // namespace lamina
